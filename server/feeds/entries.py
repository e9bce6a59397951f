"""Change records as feed entries: what changed, in plain Japanese or English, for one audience.

An entry is made from a record (``tsukuba_gis/store/outbox.py``) and the layer definition of
the audience's snapshot: the public side sees only public layers (records of others never get
here) and public fields (a record whose visible part is empty is no entry at all). The words
come from the definition: the layer title, the title field's value, each field's label, the
``meanings`` labels of coded values; a status value (``values:``) with a phrase of its own below
reads as a sentence: 「指定避難所「竹園東小学校」が開設されました」.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import yaml

from server.snapshot import PublishedLayer
from tsukuba_gis.layerdef import Access, FieldDef
from tsukuba_gis.store.base import ChangeRecord

Lang = Literal["ja", "en"]
TEXTS = yaml.safe_load((Path(__file__).with_name("texts.yaml")).read_text(encoding="utf-8"))
WORDS: dict[str, dict[str, str]] = TEXTS["words"]
# What a status becoming this value means, as the end of a sentence about the feature.
STATUS_PHRASES: dict[str, dict[str, str]] = TEXTS["status"]


def word(key: str, lang: Lang, **values: Any) -> str:
    """One of the feeds' own words in ``lang``, ``{name}`` filled in."""
    return WORDS[key][lang].format(**values)


@dataclass(frozen=True)
class Entry:
    """One feed entry.

    Attributes:
        title: the sentence; lines: one line per visible changed field (``label: a → b``).
        map_url: the viewer at the place; api_url: the feature in the OGC API (None once removed).
    """

    id: int
    layer_id: str
    layer_title: str
    title: str
    lines: tuple[str, ...]
    updated: str
    map_url: str | None
    api_url: str | None
    point: tuple[float, float] | None
    kind: str
    cause: str


def value_text(field: FieldDef | None, value: Any, lang: Lang) -> str:
    """A value as a resident reads it: its meaning's label, yes/no, or as published."""
    if value is None or value == "":
        return word("none", lang)
    if isinstance(value, bool):
        return word("yes" if value else "no", lang)
    meaning = (field.meanings or {}).get(str(value)) if field else None
    if meaning is not None and meaning.label is not None:
        return meaning.label.text(lang)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _visible(layer: PublishedLayer, audience: Access) -> dict[str, FieldDef]:
    return {f.name: f for f in layer.definition.fields_for(audience)}


def _feature_title(
    layer: PublishedLayer, record: ChangeRecord, visible: dict[str, FieldDef], lang: Lang
) -> str:
    name = layer.definition.title_field
    value = record.properties.get(name) if name in visible else None
    return str(value) if value not in (None, "") else word("feature", lang, id=record.feature_id)


def _headline(
    layer: PublishedLayer, record: ChangeRecord, changed: dict[str, tuple], visible: dict, lang: Lang
) -> str:
    names = {
        "layer": layer.definition.title.text(lang),
        "title": _feature_title(layer, record, visible, lang),
    }
    if record.kind in ("added", "removed"):
        return word(record.kind, lang, **names)
    for name, (_, after) in changed.items():
        if visible[name].values and str(after) in STATUS_PHRASES:
            return word("status", lang, phrase=STATUS_PHRASES[str(after)][lang], **names)
    coded = [n for n in changed if visible[n].meanings] + [
        n for n in changed if n == layer.definition.title_field
    ]
    if coded:
        before, after = changed[coded[0]]
        field = visible[coded[0]]
        return word(
            "coded",
            lang,
            before=value_text(field, before, lang),
            after=value_text(field, after, lang),
            **names,
        )
    if changed:
        labels = word("separator", lang).join(visible[n].label.text(lang) for n in changed)
        return word("fields", lang, fields=labels, **names)
    return word("moved", lang, **names)


def _line(field: FieldDef, before: Any, after: Any, lang: Lang) -> str:
    """``label: before → after`` of one changed field."""
    return f"{field.label.text(lang)}: {value_text(field, before, lang)} → {value_text(field, after, lang)}"


def _stamp(layer: PublishedLayer) -> str | None:
    editable = layer.definition.editable
    return editable.updated_field if editable else None


def make_entry(
    layer: PublishedLayer, record: ChangeRecord, audience: Access, lang: Lang, base_url: str, api_url: str
) -> Entry | None:
    """The entry of one record for an audience, None when nothing of it is for that audience."""
    visible = _visible(layer, audience)
    changed = {
        name: pair for name, pair in record.fields.items() if name in visible and name != _stamp(layer)
    }
    if record.kind == "modified" and not changed and not record.geometry_changed:
        return None  # only internal fields (or the edit's time stamp) changed
    shown = changed if record.kind == "modified" else {}
    lines = [_line(visible[n], a, b, lang) for n, (a, b) in shown.items()]
    if record.kind == "modified" and record.geometry_changed:
        lines.append(f"{word('shape', lang)}: {word('changed', lang)}")
    cause = word("cause_etl" if record.cause.startswith("etl:") else "cause_edit", lang)
    map_url = None
    if record.point is not None:
        lon, lat = record.point
        map_url = f"{base_url}/#map=17/{lat:.5f}/{lon:.5f}&pt={lat:.6f},{lon:.6f}"
    item = f"{api_url}/collections/{layer.id}/items/{quote(str(record.feature_id), safe='')}"
    return Entry(
        id=record.id,
        layer_id=layer.id,
        layer_title=layer.definition.title.text(lang),
        title=_headline(layer, record, changed, visible, lang),
        lines=tuple(lines),
        updated=record.at,
        map_url=map_url,
        api_url=None if record.kind == "removed" else item,
        point=record.point,
        kind=record.kind,
        cause=cause,
    )
