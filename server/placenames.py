"""The place-name index of the search box: town/chome names, facility names and coordinates.

One index per audience snapshot (``server/snapshot.py``), over the audience's point layers that
have a title field (public: only public layers and fields). Names are compared after
:func:`fold`, which makes the variants people type equal: full/half width (NFKC),
hiragana/katakana, small/large kana (ッ/ツ), ケ/ヶ/ヵ/が between kanji, kanji/arabic numerals
(一丁目/1丁目), spaces and punctuation.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from tsukuba_gis.layerdef import Access
from tsukuba_gis.store import Query, Store

DEFAULT_LIMIT = 10
# Layers whose keywords say they are address points are "places" (ranked before facilities).
PLACE_KEYWORDS = frozenset({"address", "住所"})
# Fields that tell apart features of a place layer that share a name (要 / 要 元上口の堀).
DETAIL_FIELDS = ("koaza",)
# Coordinates typed by the user are only taken when they fall in Japan (lat, lon).
JAPAN = (20.0, 46.0, 122.0, 154.0)


# -- folding names --------------------------------------------------------------------------------

_KANJI_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_NUMBER = re.compile(r"[一二三四五六七八九十]+")
_SMALL_KANA = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_KANJI = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]"
# The ga/ke of place names (梅ケ丘, 梅ヶ丘, 桜が丘) between kanji, or at the end of a typed query.
_GA = re.compile(rf"(?<={_KANJI})[ケカガ](?={_KANJI}|$)")


def _kanji_number(text: str) -> str:
    """一 -> 1, 十二 -> 12, 二十三 -> 23 (up to 99; longer runs are kept as written)."""
    if len(text) > 3 or text.count("十") > 1:
        return text
    if "十" not in text:
        return str(_KANJI_DIGITS[text]) if len(text) == 1 else text
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return text
    return str(_KANJI_DIGITS.get(tens, 1) * 10 + _KANJI_DIGITS.get(ones, 0))


def fold(text: str) -> str:
    """The comparison key of a name or query: every variant people type folds to one string."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _KANJI_NUMBER.sub(lambda m: _kanji_number(m[0]), text)
    # Hiragana -> katakana (U+3041..U+3096 are U+30A1..U+30F6 less 0x60), then small -> large.
    text = "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)
    text = text.translate(_SMALL_KANA)
    text = _GA.sub("ケ", text)
    # Only letters and digits count (ー and 々 are letters): spaces, ・, （）, hyphens go.
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


_CHOME_TAIL = re.compile(r"([\d一二三四五六七八九十]+\s*丁目).*$")
_ADDRESS_TAIL = re.compile(r"(\d+)\s*(?:[-‐‑–—−ー－の]|番地?)\s*\d.*$")
_PREFIXES = (fold("茨城県"), fold("つくば市"))


def query_keys(query: str) -> list[str]:
    """Folded search keys of a typed query: one per word, address tails and city prefix cut."""
    text = unicodedata.normalize("NFKC", query).strip()
    # 吾妻1丁目2番3号, 吾妻1-2-3 -> 吾妻1丁目
    text = _CHOME_TAIL.sub(r"\1", text) if "丁目" in text else _ADDRESS_TAIL.sub(r"\1丁目", text)
    keys = [k for k in (fold(word) for word in text.split()) if k]
    if keys:
        for prefix in _PREFIXES:
            if keys[0].startswith(prefix) and len(keys[0]) > len(prefix):
                keys[0] = keys[0][len(prefix) :]
    return keys


# -- coordinates ----------------------------------------------------------------------------------

_NUM = r"[-+]?\d+(?:\.\d+)?"
_HEMI = r"(?:[NSEW]|北緯|南緯|東経|西経)"
_DECIMAL = re.compile(
    rf"^{_HEMI}?\s*({_NUM})\s*°?\s*({_HEMI})?\s*[,，、/\s]"
    rf"\s*{_HEMI}?\s*({_NUM})\s*°?\s*({_HEMI})?$",
    re.IGNORECASE,
)
_DMS = re.compile(
    rf"({_HEMI})?\s*(\d+(?:\.\d+)?)\s*[°度]\s*(?:(\d+(?:\.\d+)?)\s*['′’分]\s*)?"
    rf"(?:(\d+(?:\.\d+)?)\s*(?:\"|″|”|''|秒)\s*)?({_HEMI})?",
    re.IGNORECASE,
)


def _order(a: float, b: float, hints: tuple[str | None, str | None]) -> tuple[float, float] | None:
    """(lat, lon) from two numbers typed in either order, or None when it cannot be told."""
    first = (hints[0] or "").upper()
    if first in ("E", "W", "東経", "西経"):
        a, b = b, a
    elif not first and abs(a) > 90 >= abs(b):
        a, b = b, a
    lat, lon = a, b
    if not (JAPAN[0] <= lat <= JAPAN[1] and JAPAN[2] <= lon <= JAPAN[3]):
        return None
    return lat, lon


def parse_coordinates(query: str) -> tuple[float, float] | None:
    """(lat, lon) of "36.08, 140.11", "140.11 36.08", "N36.08 E140.11" or 36°5'0"N 140°6'36"E."""
    text = unicodedata.normalize("NFKC", query).strip()
    match = _DECIMAL.match(text)
    if match:
        a, b = float(match[1]), float(match[3])
        hint = match[2] or (re.match(_HEMI, text, re.IGNORECASE) or [None])[0]
        return _order(a, b, (hint, None))
    parts = [m for m in _DMS.finditer(text) if m[2]]
    if len(parts) != 2 or not re.search("[°度]", text):
        return None
    values = [float(m[2]) + float(m[3] or 0) / 60 + float(m[4] or 0) / 3600 for m in parts]
    hint = parts[0][1] or parts[0][5]
    return _order(values[0], values[1], (hint, None))


# -- the index ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One searchable name."""

    key: str
    kind: str
    name: str
    layer: str
    feature_id: Any
    lat: float
    lon: float


class SearchIndex:
    """Every name of an audience's searchable point layers, folded once.

    Attributes:
        entries: the names, places first then facilities, each in layer order.
        titles: layer id -> {ja, en} title.
        area: the "in Tsukuba" box of the layers (the snapshot's ``area``).
    """

    def __init__(
        self,
        entries: list[Entry],
        titles: dict[str, dict[str, str]],
        area: tuple[float, float, float, float] | None,
    ):
        self.entries, self.titles, self.area = entries, titles, area

    @classmethod
    def build(
        cls,
        store: Store,
        layers: Sequence[Any],
        audience: Access,
        area: tuple[float, float, float, float] | None,
    ) -> "SearchIndex":
        """Read the names of every point layer with a title field the audience may see.

        ``layers``: the audience's layers in order, each with ``definition`` and ``record``.
        """
        entries, titles = [], {}
        for published in layers:
            layer, record = published.definition, published.record
            visible = {f.name for f in layer.fields_for(audience)}
            if layer.geometry != "point" or layer.title_field not in visible:
                continue
            kind = "place" if PLACE_KEYWORDS & set(layer.keywords) else "facility"
            details = [n for n in DETAIL_FIELDS if n in visible]
            page = store.query(
                record,
                Query(select=(layer.title_field, *details), limit=record.feature_count + 1, with_count=False),
            )
            coords = shapely.get_coordinates(shapely.from_wkb(page.wkb))
            titles[layer.id] = layer.title.model_dump()
            for fid, props, (lon, lat) in zip(page.ids, page.properties, coords, strict=True):
                name = str(props.get(layer.title_field) or "").strip()
                if not name:
                    continue
                parts = [name] + [str(props[d]).strip() for d in details if props.get(d)]
                entries.append(
                    Entry(
                        fold("".join(parts)),
                        kind,
                        " ".join(parts),
                        layer.id,
                        fid,
                        round(float(lat), 7),
                        round(float(lon), 7),
                    )
                )
        entries.sort(key=lambda e: e.kind != "place")
        return cls(entries, titles, area)

    def inside(self, lat: float, lon: float) -> bool:
        """Whether a point lies in the area the layers cover (Tsukuba and a margin)."""
        if self.area is None:
            return False
        west, south, east, north = self.area
        return west <= lon <= east and south <= lat <= north

    def search(self, query: str, limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        """Ranked matches: coordinates, then exact, prefix and substring name matches."""
        results: list[dict[str, Any]] = []
        point = parse_coordinates(query)
        if point:
            lat, lon = point
            results.append(
                {
                    "kind": "coordinate",
                    "name": f"{lat:.6f}, {lon:.6f}",
                    "lat": lat,
                    "lon": lon,
                    "inside": self.inside(lat, lon),
                    "match": "coordinate",
                }
            )
        keys = query_keys(query)
        found = self._match(keys)
        if not found and keys and re.search(r"\d+(丁目)?$", keys[-1]):
            # 下広岡123-4: a house number after a name without chome; try the name alone.
            found = self._match(keys[:-1] + [re.sub(r"\d+(丁目)?$", "", keys[-1])])
        for rank, entry in found[: max(0, limit - len(results))]:
            results.append(
                {
                    "kind": entry.kind,
                    "name": entry.name,
                    "layer": entry.layer,
                    "layer_title": self.titles[entry.layer],
                    "id": entry.feature_id,
                    "lat": entry.lat,
                    "lon": entry.lon,
                    "match": ("exact", "prefix", "substring")[rank],
                }
            )
        return results

    def _match(self, keys: list[str]) -> list[tuple[int, Entry]]:
        keys = [k for k in keys if k]
        if not keys:
            return []
        joined = "".join(keys)
        found = []
        for entry in self.entries:
            key = entry.key
            if joined in key:
                rank = 0 if key == joined else 1 if key.startswith(joined) else 2
            elif len(keys) > 1 and all(k in key for k in keys):
                rank = 1 if key.startswith(keys[0]) else 2
            else:
                continue
            found.append((rank, entry))
        # Stable sort: rank, then places before facilities (index order), then shorter names.
        found.sort(key=lambda item: (item[0], item[1].kind != "place", len(item[1].key)))
        return found
