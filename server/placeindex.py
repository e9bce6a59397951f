"""The place-name index of the search box: the gazetteer's names, readings and romaji.

One index per audience snapshot (``server/snapshot.py``). Its entries come from the store's
gazetteer (``etl/gazetteer.py``: the public searchable layers with kana readings, romaji,
English names and aliases), kept only where the entry was made from the layer version the
snapshot serves, and from the names of every other point layer with a title field the
audience may see (staff layers, or a layer reloaded since the gazetteer was built), searched as
written. Matches rank exact > prefix > substring (of the name as written) > reading (kana or
romaji) > fuzzy (a typo, through rapidfuzz), places before facilities; nothing found gives
suggestions (the closest names).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from rapidfuzz import fuzz, process

from server.placenames import DEFAULT_LIMIT, fold, parse_coordinates, parse_query
from tsukuba_gis.layerdef import Access
from tsukuba_gis.names import is_romaji, romaji_key
from tsukuba_gis.store import Query, Store

GAZETTEER_ID = "gazetteer"  # etl/gazetteer.py writes it; the server never imports etl
# Layers whose keywords say they are address points are "places" (ranked before facilities).
PLACE_KEYWORDS = frozenset({"address", "住所"})
LEVELS = ("exact", "prefix", "substring", "reading", "fuzzy")
# rapidfuzz partial_ratio (the query against the best-matching part of a name): one typo in a
# four-character reading scores 75.
FUZZY_CUTOFF, SUGGEST_CUTOFF = 74, 50
ROMAJI_CUTOFF = 67
MIN_FUZZY, MIN_SUGGEST = 3, 2  # characters a query needs for each
MAX_SUGGESTIONS = 5


@dataclass(frozen=True)
class Entry:
    """One searchable name.

    Attributes:
        key: the folded name (and ``aliases``: folded other names).
        kind: "place" (a town) or "facility" (anything else), as the viewer zooms to it.
        category: what it is: town, station, campus or facility.
        level: for towns: chome, oaza or koaza (小字).
        kana_key / roman_keys: the folded reading, and the romaji keys (romaji, English, aliases).
    """

    key: str
    kind: str
    name: str
    layer: str
    feature_id: Any
    lat: float
    lon: float
    category: str = "facility"
    level: str | None = None
    kana: str | None = None
    romaji: str | None = None
    name_en: str | None = None
    kana_key: str | None = None
    aliases: tuple[str, ...] = ()
    roman_keys: tuple[str, ...] = ()


def _gazetteer_entry(props: dict[str, Any], lon: float, lat: float) -> Entry:
    others = [a.strip() for a in (props.get("aliases") or "").split(";") if a.strip()]
    latin = [props.get("romaji"), props.get("name_en"), *[a for a in others if is_romaji(a)]]
    category = props.get("kind") or "facility"
    return Entry(
        key=fold(props["name"]),
        kind="place" if category == "town" else "facility",
        name=props["name"],
        layer=props["layer"],
        feature_id=props["feature_id"],
        lat=round(float(lat), 7),
        lon=round(float(lon), 7),
        category=category,
        level=props.get("level"),
        kana=props.get("kana"),
        romaji=props.get("romaji"),
        name_en=props.get("name_en"),
        kana_key=fold(props["kana"]) if props.get("kana") else None,
        aliases=tuple(fold(a) for a in others if not is_romaji(a)),
        roman_keys=tuple(k for k in (romaji_key(t) for t in latin if t) if k),
    )


def _from_gazetteer(store: Store, versions: dict[str, int]) -> tuple[list[Entry], set[str]]:
    """Entries of the gazetteer made from the versions served, and the layers they cover."""
    record = store.current(GAZETTEER_ID)
    if record is None:
        return [], set()
    page = store.query(record, Query(limit=record.feature_count + 1, with_count=False))
    coords = shapely.get_coordinates(shapely.from_wkb(page.wkb))
    entries = [
        _gazetteer_entry(props, lon, lat)
        for props, (lon, lat) in zip(page.properties, coords, strict=True)
        if versions.get(props["layer"]) == props["layer_version"]
    ]
    return entries, {e.layer for e in entries}


def _from_layer(store: Store, published: Any, audience: Access) -> list[Entry]:
    """Name-only entries of a point layer with a visible title field (none otherwise)."""
    layer, record = published.definition, published.record
    visible = {f.name for f in layer.fields_for(audience)}
    if layer.geometry != "point" or layer.title_field not in visible:
        return []
    place = bool(PLACE_KEYWORDS & set(layer.keywords))
    details = [n for n in (layer.search.detail_fields if layer.search else ["koaza"]) if n in visible]
    page = store.query(
        record, Query(select=(layer.title_field, *details), limit=record.feature_count + 1, with_count=False)
    )
    coords = shapely.get_coordinates(shapely.from_wkb(page.wkb))
    entries = []
    for fid, props, (lon, lat) in zip(page.ids, page.properties, coords, strict=True):
        parts = [str(props.get(n) or "").strip() for n in (layer.title_field, *details)]
        if not parts[0]:
            continue
        name = " ".join(p for p in parts if p)
        entries.append(
            Entry(
                key=fold("".join(parts)),
                kind="place" if place else "facility",
                name=name,
                layer=layer.id,
                feature_id=fid,
                lat=round(float(lat), 7),
                lon=round(float(lon), 7),
                category="town" if place else "facility",
            )
        )
    return entries


@dataclass
class Found:
    """A match: its level (index in LEVELS), a finer rank within the level, the entry."""

    level: int
    subrank: int
    entry: Entry

    def order(self) -> tuple:
        """Sort key: level, subrank, places first, shorter names first."""
        return (self.level, self.subrank, self.entry.kind != "place", len(self.entry.key))


@dataclass
class Answer:
    """What a search found: results (matches), suggestions when nothing matched, the address flag."""

    found: list[Found] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    address: bool = False
    coordinate: tuple[float, float] | None = None


def _name_match(entry: Entry, keys: list[str], joined: str) -> Found | None:
    for key in (entry.key, *entry.aliases):
        if joined in key:
            level = 0 if key == joined else 1 if key.startswith(joined) else 2
            return Found(level, 0 if key is entry.key else 1, entry)
        if len(keys) > 1 and all(k in key for k in keys):
            return Found(1 if key.startswith(keys[0]) else 2, 1, entry)
    return None


def _reading_match(entry: Entry, kana: str, roman: str) -> Found | None:
    if kana and entry.kana_key and entry.kana_key.startswith(kana):
        return Found(3, 0 if entry.kana_key == kana else 1, entry)
    if roman:
        for key in entry.roman_keys:
            if key.startswith(roman):
                return Found(3, 0 if key == roman else 2, entry)
    return None


class SearchIndex:
    """Every searchable name an audience may find, folded once, and the towns for place names.

    Attributes:
        entries: the names, places first then facilities, each in layer order.
        titles: layer id -> its title (dumped I18n).
        area: the "in Tsukuba" box of the layers (the snapshot's ``area``).
        towns: the town entries (町丁目・大字, no 小字) with their positions as arrays.
    """

    def __init__(self, entries: list[Entry], titles: dict[str, dict[str, str]], area: tuple | None):
        self.entries, self.titles, self.area = entries, titles, area
        self.towns = [e for e in entries if e.category == "town" and e.level != "koaza"]
        self.town_xy = np.array([(e.lon, e.lat) for e in self.towns], dtype=float).reshape(-1, 2)
        self._choices = {i: e.key for i, e in enumerate(entries)}
        self._readings = {i: e.kana_key for i, e in enumerate(entries) if e.kana_key}
        self._romaji = {i: e.roman_keys[0] for i, e in enumerate(entries) if e.roman_keys}

    @classmethod
    def build(
        cls,
        store: Store,
        layers: Sequence[Any],
        audience: Access,
        area: tuple[float, float, float, float] | None,
    ) -> "SearchIndex":
        """The index of the audience's layers (each with ``definition`` and ``record``)."""
        versions = {p.definition.id: p.record.version for p in layers}
        entries, covered = _from_gazetteer(store, versions)
        for published in layers:
            if published.definition.id not in covered:
                entries += _from_layer(store, published, audience)
        order = {p.definition.id: i for i, p in enumerate(layers)}
        entries.sort(key=lambda e: (e.kind != "place", order.get(e.layer, 0)))
        titles = {p.definition.id: p.definition.title.model_dump() for p in layers}
        return cls(entries, titles, area)

    def inside(self, lat: float, lon: float) -> bool:
        """Whether a point lies in the area the layers cover (Tsukuba and a margin)."""
        if self.area is None:
            return False
        west, south, east, north = self.area
        return west <= lon <= east and south <= lat <= north

    def find(self, query: str, limit: int = DEFAULT_LIMIT) -> Answer:
        """Ranked matches of a query (coordinates apart), or suggestions when nothing matched."""
        answer = Answer(coordinate=parse_coordinates(query))
        keys, answer.address = parse_query(query)
        found = self._match(query, keys)
        if not found and keys and re.search(r"\d+(丁目)?$", keys[-1]):
            # 下広岡123-4: a house number after a name without chome; try the name alone.
            found = self._match("", keys[:-1] + [re.sub(r"\d+(丁目)?$", "", keys[-1])])
            answer.address = answer.address or bool(found)
        if not found and answer.coordinate is None:
            found = self._fuzzy(query, keys)
        found.sort(key=Found.order)
        answer.found = found[:limit]
        if not found and answer.coordinate is None:
            answer.suggestions = self._suggest(query, keys)
        return answer

    def _match(self, query: str, keys: list[str]) -> list[Found]:
        keys = [k for k in keys if k]
        if not keys:
            return []
        joined = "".join(keys)
        roman = romaji_key(query) if query and is_romaji(query) else ""
        found = []
        for entry in self.entries:
            hit = _name_match(entry, keys, joined) or _reading_match(entry, joined, roman)
            if hit is not None:
                found.append(hit)
        return found

    def _candidates(
        self, query: str, keys: list[str], cutoff: int, limit: int, shortest: int
    ) -> list[tuple[int, float]]:
        """(entry index, score) of the closest names, readings or romaji to the query."""
        joined = "".join(keys)
        if is_romaji(query):
            # Romaji are longer than kana for the same name, and a few letters match anything.
            key, sets = romaji_key(query), [self._romaji]
            shortest, cutoff = shortest + 2, max(cutoff, ROMAJI_CUTOFF)
        else:
            key, sets = joined, [self._choices, self._readings]
        if len(key) < shortest:
            return []
        best: dict[int, float] = {}
        for every in sets:
            # A name shorter than the query would "contain" it in partial_ratio's sense.
            choices = {i: k for i, k in every.items() if len(k) >= len(key) - 1}
            for _, score, index in process.extract(
                key, choices, scorer=fuzz.partial_ratio, score_cutoff=cutoff, limit=limit
            ):
                best[index] = max(best.get(index, 0), score)
        return sorted(best.items(), key=lambda item: -item[1])

    def _fuzzy(self, query: str, keys: list[str]) -> list[Found]:
        return [
            Found(4, 100 - int(score), self.entries[i])
            for i, score in self._candidates(query, keys, FUZZY_CUTOFF, 10, MIN_FUZZY)
        ]

    def _suggest(self, query: str, keys: list[str]) -> list[str]:
        names = [
            self.entries[i].name for i, _ in self._candidates(query, keys, SUGGEST_CUTOFF, 20, MIN_SUGGEST)
        ]
        return list(dict.fromkeys(names))[:MAX_SUGGESTIONS]

    def nearest_towns(self, lat: float, lon: float, count: int = 2) -> list[tuple[Entry, float]]:
        """The ``count`` towns whose representative points are nearest, with metres to each."""
        if not len(self.town_xy):
            return []
        ky = 111_194.9  # metres per degree of latitude (mean Earth radius)
        kx = ky * np.cos(np.radians(lat))
        d = np.hypot((self.town_xy[:, 0] - lon) * kx, (self.town_xy[:, 1] - lat) * ky)
        order = np.argsort(d)[:count]
        return [(self.towns[i], float(d[i])) for i in order]
