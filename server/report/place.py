"""The place name a report starts with: 「つくば市吾妻一丁目付近」, from the 町丁目・大字 data.

The store has the towns' representative points (Geolonia), not their areas: the name is that
of the nearest representative point, said as "near" (付近), with the distance to it; when the
second nearest town is almost as near, the report says the point is close to their boundary.
"""

from typing import Any

from server.report.texts import word
from server.snapshot import Snapshot

# The second town within this factor of the nearest one's distance: "near the boundary of both".
BETWEEN_RATIO = 1.25
# Languages written with kanji read the Japanese name; the others its romaji.
KANJI_LANGUAGES = frozenset({"ja", "ja-x-easy", "zh-Hans", "zh-Hant"})


def _town_name(entry: Any, lang: str) -> str:
    if lang in KANJI_LANGUAGES or not entry.romaji:
        return entry.name
    return entry.romaji


def place_name(snapshot: Snapshot, lat: float, lon: float, lang: str) -> dict[str, Any] | None:
    """The place of a point in ``lang`` (None when the audience has no town data)."""
    towns = snapshot.search.nearest_towns(lat, lon, 2)
    if not towns:
        return None
    (town, distance), second = towns[0], towns[1] if len(towns) > 1 else None
    city = word("city", lang)["text"]
    local = _town_name(town, lang)
    joined = f"{city}{local}" if lang in KANJI_LANGUAGES else f"{local}, {city}"
    place = {
        "name": word("near", lang, place=joined),
        "town": town.name,
        "kana": town.kana,
        "romaji": town.romaji,
        "level": town.level,
        "lat": town.lat,
        "lon": town.lon,
        "distance_m": round(distance),
        "basis": word("place_basis", lang, d=round(distance)),
        "method": "nearest-representative-point",
    }
    if second is not None and second[1] <= max(distance * BETWEEN_RATIO, distance + 50):
        place["between"] = word("place_between", lang, a=local, b=_town_name(second[0], lang))
    return place
