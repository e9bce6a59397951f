"""Declarative layer definitions: the pydantic models behind ``layers/<department>/<layer>.yaml``."""

import re
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tsukuba_gis.defbase import Strict, each_once
from tsukuba_gis.i18n import I18n
from tsukuba_gis.presentdef import ReportDef, SearchDef, ValueText

Access = Literal["public", "internal"]
FieldType = Literal["string", "integer", "number", "boolean", "date"]
GeometryKind = Literal["point", "line", "polygon"]
SourceFormat = Literal["shapefile", "geojson", "gpkg", "csv", "kml", "gml", "citygml"]

LAYER_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
RESERVED_FIELDS = {"fid", "geom", "id", "geometry"}

EXTENSION_FORMATS: dict[str, SourceFormat] = {
    ".shp": "shapefile",
    ".zip": "shapefile",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".csv": "csv",
    ".txt": "csv",
    ".kml": "kml",
    ".gml": "gml",
    ".xml": "gml",
}


def _inside_sources(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError("must be a path inside the sources directory (no '..', not absolute)")
    return value


def _source_as_sources(data: Any) -> Any:
    # `source:` (one file) is the common case; `sources:` lists several files of one layer.
    if isinstance(data, dict) and "source" in data:
        data = dict(data)
        if "sources" in data:
            raise ValueError("give either source or sources, not both")
        data["sources"] = [data.pop("source")]
    return data


def _valid_layer_id(value: str) -> str:
    if not LAYER_ID.match(value):
        raise ValueError("layer ids are lower-case ASCII letters, digits and '_'")
    return value


__all__ = ["I18n", "Strict", "LayerDef", "FieldDef", "Department"]


class LicenseDef(Strict):
    """The licence a layer is published under, and the attribution it requires."""

    id: str = "CC-BY-4.0"
    url: str = "https://creativecommons.org/licenses/by/4.0/deed.ja"
    attribution: I18n


class SourceDef(Strict):
    """One department file, and what the file itself does not say about itself.

    Attributes:
        path: relative to the sources directory.
        format: inferred from the extension when omitted.
        layer: layer (table, GML element) inside a multi-layer file.
        encoding: text encoding when the file does not declare one (no ``.cpg``).
        crs: CRS when the file does not declare one; never guessed.
        lat/lon: CSV columns holding latitude/longitude.
        x/y: CSV columns holding plane-rectangular X (northing) and Y (easting).
        filter: keep only rows whose columns equal these values (one file, several layers).
    """

    path: str
    format: SourceFormat | None = None
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    lat: str | None = None
    lon: str | None = None
    x: str | None = None
    y: str | None = None
    filter: dict[str, str | int | float] | None = None

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        return _inside_sources(value)

    @model_validator(mode="after")
    def _coordinates(self) -> "SourceDef":
        if self.resolved_format == "csv":
            has_latlon = self.lat is not None and self.lon is not None
            has_xy = self.x is not None and self.y is not None
            if has_latlon == has_xy:
                raise ValueError("a CSV source needs either lat+lon or x+y coordinate columns")
            if not self.crs:
                # A CSV never says its datum; lat/lon may still be Tokyo Datum in old files.
                raise ValueError("a CSV source needs crs (e.g. EPSG:6668 for lat/lon, EPSG:6677 for x/y)")
        return self

    @property
    def resolved_format(self) -> SourceFormat:
        """The declared format, or the one the file extension implies."""
        if self.format:
            return self.format
        suffix = PurePosixPath(self.path).suffix.lower()
        if suffix not in EXTENSION_FORMATS:
            raise ValueError(f"cannot tell the format of {self.path!r}; set format")
        return EXTENSION_FORMATS[suffix]


class FieldDef(Strict):
    """A published field: where it comes from, its type and its labels.

    Attributes:
        name: the published name (ASCII, as in MLIT's data standard where it applies).
        source: the source column; defaults to ``name``.
        value: a constant instead of a source column (e.g. the city code).
        codes: code -> label table; the published value is the label.
        codelist: a code list file (``gml:Dictionary``, e.g. i-UR
            ``Common_districtsAndZonesType.xml``) relative to the sources directory, read
            like ``codes``; entries in ``codes`` override it.
        access: ``internal`` fields never leave the staff side.
        explain: the value in plain words, ``{value}`` standing for it (e.g. 建蔽率:
            「敷地の{value}%まで建物で覆えます」), for the point report.
        meanings: words per published value (its name in each language, what it means, what
            to do), keyed by the value as text.
        live: no source column: the value is set by staff edits (``editable``) and survives an
            ETL reload; ``value`` is what a new feature starts with (e.g. 未開設).
        values: the only values an edit may set (e.g. 未開設, 開設, 満員, 閉鎖).
        max_length: the longest text an edit may set (characters).
        minimum, maximum: the range an edit may set for a number.
    """

    name: str
    source: str | None = None
    value: Any = None
    type: FieldType = "string"
    label: I18n
    access: Access = "public"
    required: bool = False
    codes: dict[str, str] | None = None
    codelist: str | None = None
    explain: I18n | None = Field(default=None, exclude_if=lambda v: v is None)
    meanings: dict[str, ValueText] | None = Field(default=None, exclude_if=lambda v: v is None)
    # Edit rules: left out of dumps while unset, so existing definitions keep their checksums.
    live: bool = Field(default=False, exclude_if=lambda v: not v)
    values: list[str | int | float] | None = Field(default=None, min_length=1, exclude_if=lambda v: v is None)
    max_length: int | None = Field(default=None, ge=1, exclude_if=lambda v: v is None)
    minimum: float | None = Field(default=None, exclude_if=lambda v: v is None)
    maximum: float | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("codelist")
    @classmethod
    def _codelist_path(cls, value: str | None) -> str | None:
        return None if value is None else _inside_sources(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not FIELD_NAME.match(value):
            raise ValueError("field names are ASCII letters, digits and '_', starting with a letter")
        if value.lower() in RESERVED_FIELDS:
            raise ValueError(f"{value!r} is reserved")
        return value

    @field_validator("codes", "meanings", mode="before")
    @classmethod
    def _code_keys(cls, value: Any) -> Any:
        # YAML reads `1: 第1種...` with an integer key; codes compare as text.
        if isinstance(value, dict):
            return {str(k): v if isinstance(v, dict) else str(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _live_has_no_source(self) -> "FieldDef":
        if self.live and self.source is not None:
            raise ValueError(f"{self.name}: a live field has no source column (drop source:)")
        for value in self.values or []:
            if not _fits(self.type, value):
                raise ValueError(f"{self.name}: allowed value {value!r} is not a {self.type}")
        return self

    @property
    def source_column(self) -> str | None:
        """The source column this field reads (None for constants and live fields)."""
        if self.live or self.value is not None:
            return None
        return self.source or self.name


def _fits(kind: FieldType, value: Any) -> bool:
    """Whether an allowed value of a definition has the field's type."""
    if kind in ("string", "date"):
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, bool)


class Category(Strict):
    """One class of a categorised style."""

    value: str | int | float
    color: str
    label: I18n | None = None


class StyleDef(Strict):
    """A simple style for the viewer; ``by`` + ``categories`` colour features by a field."""

    color: str = "#3388ff"
    fill_color: str | None = None
    fill_opacity: float = Field(default=0.35, ge=0, le=1)
    weight: float = Field(default=2, ge=0)
    radius: float = Field(default=6, ge=1)
    dash: str | None = None
    by: str | None = None
    categories: list[Category] = []


class TilesDef(Strict):
    """Vector tile choices of a layer.

    Attributes:
        minzoom: the first zoom that has tiles (overview tiles thin and merge features down to
            it: drawn city-wide, small features are coalesced, the densest dropped as needed).
    """

    minzoom: int = Field(default=8, ge=0, le=16)


StandardDataset = Literal["evacuation_space"]


class OpenDataDef(Strict):
    """Open-data options of a public layer.

    Attributes:
        standard: the Digital Agency standard dataset (自治体標準オープンデータセット) the layer
            is also offered as, column for column (``evacuation_space`` = 03 指定緊急避難場所一覧).
    """

    standard: StandardDataset | None = None


ReloadRule = Literal["keep_live", "source_wins"]


class EditableDef(Strict):
    """What staff may change live, through the staff OGC API (Features Part 4), and who.

    Attributes:
        departments: the departments whose staff may edit (default: the layer's own); admins
            always may.
        fields: the fields an edit may set (never the id field).
        updated_field: a live string field the server sets to the time of every edit.
        geometry: staff may move features and must give the geometry of new ones.
        create, delete: staff may add and remove features.
        reload: what an ETL reload does with the edits made since the last load:
            ``keep_live`` keeps every live field's value (matched by ``id_field``) and the
            features staff added that the source does not have; ``source_wins`` starts again
            from the source. Either way every edit the reload replaces gets a line in the report.
    """

    departments: list[str] | None = Field(default=None, min_length=1)
    fields: list[str] = Field(min_length=1)
    updated_field: str | None = None
    geometry: bool = True
    create: bool = True
    delete: bool = True
    reload: ReloadRule = "keep_live"


class DisasterModeDef(Strict):
    """災害時モード: while any feature has one of the ``open`` values of ``field``, residents see
    those features first, and the point report's nearest list shows only them.

    Attributes:
        field: the status field (with ``values``), e.g. ``status``.
        open: the values that count as open (e.g. 開設, 満員).
    """

    field: str
    open: list[str] = Field(min_length=1)


class LayerDef(Strict):
    """One published layer, as described in ``layers/<department>/<id>.yaml``."""

    # Raster layers say `kind: raster` (rasterdef.py); left out of dumps so the definition
    # checksum of every existing vector layer stays what it was.
    kind: Literal["vector"] = Field(default="vector", exclude=True)
    id: str
    title: I18n
    description: I18n
    department: str
    access: Access = "public"
    keywords: list[str] = []
    license: LicenseDef
    sources: list[SourceDef] = Field(min_length=1)
    geometry: GeometryKind
    id_field: str | None = None
    title_field: str | None = None
    fields: list[FieldDef] = Field(min_length=1)
    drop: list[str] = Field(default=[], description="source columns left out on purpose (glob patterns)")
    style: StyleDef = StyleDef()
    synthetic: bool = False
    opendata: OpenDataDef = OpenDataDef()
    # Left out of dumps when not given, so existing definitions keep their checksums.
    report: ReportDef | None = Field(default=None, exclude_if=lambda v: v is None)
    search: SearchDef | None = Field(default=None, exclude_if=lambda v: v is None)
    # Tile choices do not change the data: kept out of dumps (and the definition checksum);
    # the tile set's key carries them, so a change rebuilds the tiles only.
    tiles: TilesDef = Field(default=TilesDef(), exclude=True)
    editable: EditableDef | None = Field(default=None, exclude_if=lambda v: v is None)
    disaster_mode: DisasterModeDef | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="before")
    @classmethod
    def _single_source(cls, data: Any) -> Any:
        return _source_as_sources(data)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _valid_layer_id(value)

    @model_validator(mode="after")
    def _references(self) -> "LayerDef":
        names = [f.name for f in self.fields]
        each_once(names, "field names")
        for ref in ("id_field", "title_field"):
            value = getattr(self, ref)
            if value is not None and value not in names:
                raise ValueError(f"{ref} {value!r} is not one of the fields")
        if self.style.by is not None and self.style.by not in names:
            raise ValueError(f"style.by {self.style.by!r} is not one of the fields")
        self._presentation(names)
        if self.synthetic and "サンプル" not in self.title.ja:
            raise ValueError("a synthetic layer must say サンプル（架空） in its Japanese title")
        if self.editable is not None:
            _check_editable(self, self.editable)
        if self.disaster_mode is not None:
            _check_disaster_mode(self, self.disaster_mode)
        return self

    def _presentation(self, names: list[str]) -> None:
        """The fields the report and search blocks name exist (and flags are booleans)."""
        named = [*(self.report.show if self.report else []), *(self.search.fields() if self.search else [])]
        unknown = [n for n in named if n not in names]
        if unknown:
            raise ValueError(f"report/search name unknown field(s): {', '.join(unknown)}")
        types = {f.name: f.type for f in self.fields}
        for hazard, flag in (self.report.shelter_flags if self.report else {}).items():
            if types.get(flag) != "boolean":
                raise ValueError(f"report.shelter_flags.{hazard}: {flag!r} is not a boolean field")

    @property
    def editors(self) -> list[str]:
        """The departments whose staff may edit this layer (none when it is not editable)."""
        if self.editable is None:
            return []
        return self.editable.departments or [self.department]

    @property
    def live_only(self) -> bool:
        """Every feature comes from live edits (every field is live): the source may be empty."""
        return self.editable is not None and self.editable.create and all(f.live for f in self.fields)

    def field(self, name: str) -> FieldDef | None:
        """One field by name."""
        return next((f for f in self.fields if f.name == name), None)

    def live_fields(self) -> list[FieldDef]:
        """The fields set only by edits (kept across reloads by ``editable.reload``)."""
        return [f for f in self.fields if f.live]

    def public_fields(self) -> list[FieldDef]:
        """The fields the public side may show."""
        return [f for f in self.fields if f.access == "public"]

    def fields_for(self, audience: Access) -> list[FieldDef]:
        """The fields an audience sees: everything for staff, public fields for the world."""
        return self.fields if audience == "internal" else self.public_fields()


def _check_editable(layer: "LayerDef", editable: EditableDef) -> None:
    names = {f.name: f for f in layer.fields}
    if layer.id_field is None:
        raise ValueError("an editable layer needs id_field (edits and reloads match features by it)")
    unknown = [n for n in editable.fields if n not in names]
    if unknown:
        raise ValueError(f"editable.fields: not fields of this layer: {', '.join(unknown)}")
    if layer.id_field in editable.fields:
        raise ValueError(f"editable.fields: the id field {layer.id_field!r} cannot be edited")
    stamp = editable.updated_field
    if stamp is not None:
        spec = names.get(stamp)
        if spec is None or not spec.live or spec.type != "string":
            raise ValueError(f"editable.updated_field {stamp!r} must be a live string field of this layer")
        if stamp in editable.fields:
            raise ValueError(f"editable.updated_field {stamp!r} is set by the server, not by edits")


def _check_disaster_mode(layer: "LayerDef", mode: DisasterModeDef) -> None:
    spec = layer.field(mode.field)
    if spec is None or spec.values is None:
        raise ValueError(f"disaster_mode.field {mode.field!r} must be a field with values:")
    missing = [v for v in mode.open if v not in spec.values]
    if missing:
        raise ValueError(f"disaster_mode.open: not among {mode.field}'s values: {', '.join(missing)}")


class Department(Strict):
    """A department that owns layers (``layers/<department>/_department.yaml``)."""

    id: str
    name: I18n
    order: int = 100
