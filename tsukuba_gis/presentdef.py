"""How a layer is presented to residents: its place in the point report, and in the place search.

Both are optional blocks of a layer definition (``report:``, ``search:``), next to the fields'
plain-language words (``FieldDef.explain``, ``FieldDef.values``).
"""

from typing import Literal

from pydantic import Field, field_validator

from tsukuba_gis.defbase import Strict
from tsukuba_gis.i18n import I18n

# The point report's order: what may harm you and where to go first, then the planning rules.
Section = Literal["hazard", "shelter", "planning", "other"]
SECTIONS: tuple[Section, ...] = ("hazard", "shelter", "planning", "other")
# What a place-search entry is (the viewer zooms closer to a facility than to a town).
SearchKind = Literal["town", "station", "campus", "facility"]


class ValueText(Strict):
    """The words for one value of a field (a code, a class, a name).

    Attributes:
        label: the value's name in each language (the published value is Japanese).
        explain: what it means for a resident, in plain words.
        advice: what to do about it (hazards).
    """

    label: I18n | None = None
    explain: I18n | None = None
    advice: I18n | None = None


class ReportDef(Strict):
    """The layer in 「この地点の情報」 (server/report).

    Attributes:
        section: where the layer is listed (hazard, shelter, planning, other: in that order).
        show: the fields residents see in the report, in order; every other field goes under
            「詳細」 with the codes. Empty: every field is shown.
        hazard: the kind of hazard (``flood``, ``landslide``, ...) a point inside one of the
            layer's features is exposed to; shelters are matched to it.
        shelter_flags: hazard kind -> the boolean field saying a site is designated for it
            (GSI's 指定緊急避難場所 data: 洪水, 地震, ...).
        always: hazard kinds a site is matched for everywhere (``earthquake``: no map bounds it).
        source: where the plain-language wording of this layer comes from (shown with it).
    """

    section: Section = "other"
    show: list[str] = []
    hazard: str | None = None
    shelter_flags: dict[str, str] = {}
    always: list[str] = []
    source: I18n | None = None


class SearchDef(Strict):
    """The layer in the place search and the gazetteer the ETL builds (etl/gazetteer.py).

    Attributes:
        kind: what its names are (a town, a station, a facility...).
        kind_field: a field holding the kind per feature instead (one of SearchKind).
        reading_field: a field holding the kana reading of the name.
        english_field: a field holding the English name.
        alias_field: a field holding other names, separated by ``;`` (産総研;AIST).
        detail_fields: fields that tell apart features sharing a name (要 / 要 元上口の堀).
        readings: a reading dictionary (Japan Post's 町域 readings, CSV ``name,kana``)
            relative to the sources directory: it gives the readings of town names, and of
            the town names facility names start with.
    """

    kind: SearchKind = "facility"
    kind_field: str | None = None
    reading_field: str | None = None
    english_field: str | None = None
    alias_field: str | None = None
    detail_fields: list[str] = []
    readings: str | None = Field(default=None, description="sources-relative CSV of name,kana")

    @field_validator("readings")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        from tsukuba_gis.layerdef import _inside_sources

        return None if value is None else _inside_sources(value)

    def fields(self) -> list[str]:
        """The fields this block names (each must be a field of the layer)."""
        named = [self.kind_field, self.reading_field, self.english_field, self.alias_field]
        named += self.detail_fields
        return [name for name in named if name]
