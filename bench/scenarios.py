"""The requests of each scenario, spelled for each server (same data, same boxes, same ids).

Boxes, ids and points are seeded; every server gets the same list in the same order.
"""

import math
import random
from collections.abc import Callable

CENTRE = (140.1115, 36.0825)  # TX つくば駅, the densest cluster of the data set
SEED = 6
SCHEMA_TABLE = {"buildings": "l_buildings_v1", "facilities": "l_facilities_v1"}


def _box(lon: float, lat: float, side_m: float) -> str:
    dx = side_m / 2 / (111_320 * math.cos(math.radians(lat)))
    dy = side_m / 2 / 110_950
    return f"{lon - dx:.6f},{lat - dy:.6f},{lon + dx:.6f},{lat + dy:.6f}"


def boxes(side_m: float, n: int, spread_m: float = 1_000) -> list[str]:
    """``n`` square boxes of ``side_m`` centred within ``spread_m`` of the dense centre."""
    rnd = random.Random(SEED)
    lon0, lat0 = CENTRE
    out = []
    for _ in range(n):
        lon = lon0 + rnd.uniform(-spread_m, spread_m) / (111_320 * math.cos(math.radians(lat0)))
        lat = lat0 + rnd.uniform(-spread_m, spread_m) / 110_950
        out.append(_box(lon, lat, side_m))
    return out


def feature_numbers(n: int = 200, total: int = 200_000) -> list[int]:
    """Seeded building numbers (fid = the number in ``B0000123``)."""
    rnd = random.Random(SEED)
    return [rnd.randint(1, total) for _ in range(n)]


def points(n: int = 50) -> list[tuple[float, float]]:
    """Seeded (lat, lon) within 3 km of the centre, for /point."""
    rnd = random.Random(SEED)
    lon0, lat0 = CENTRE
    return [
        (
            lat0 + rnd.uniform(-3_000, 3_000) / 110_950,
            lon0 + rnd.uniform(-3_000, 3_000) / (111_320 * math.cos(math.radians(lat0))),
        )
        for _ in range(n)
    ]


def tiles(
    z: int, count_side: int, bounds: tuple[float, float, float, float] | None = None
) -> list[tuple[int, int, int]]:
    """A ``count_side`` x ``count_side`` block of WebMercatorQuad tiles around the centre; with
    ``bounds`` (a tile set's lon/lat box), only the tiles that reach into it: outside its limits
    OGC API Tiles answers 404, which is no tile to time."""
    lon, lat = CENTRE
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    half = count_side // 2
    block = [
        (z, x + dx, y + dy)
        for dy in range(-half, count_side - half)
        for dx in range(-half, count_side - half)
    ]
    return block if bounds is None else [t for t in block if _reaches(t, bounds)]


def _reaches(tile: tuple[int, int, int], bounds: tuple[float, float, float, float]) -> bool:
    z, x, y = tile
    n = 2**z
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    north, south = (math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v / n)))) for v in (y, y + 1))
    return west < bounds[2] and east > bounds[0] and south < bounds[3] and north > bounds[1]


# Spellings: server kind -> (items path of a layer, one feature, collections, tile).
def _ours(layer: str) -> str:
    return f"/api/collections/{layer}/items"


def _tipg(layer: str) -> str:
    return f"/collections/tsukuba_gis.{SCHEMA_TABLE[layer]}/items"


def _pygeoapi(layer: str) -> str:
    return f"/collections/{SCHEMA_TABLE[layer]}/items"


def _mapserver(layer: str) -> str:
    return f"/mapserv/bench/ogcapi/collections/{layer}/items"


def _qgis(layer: str) -> str:
    return f"/qgis/wfs3/collections/{layer}/items.json"


ITEMS: dict[str, Callable[[str], str]] = {
    "ours": _ours,
    "tipg": _tipg,
    "pygeoapi": _pygeoapi,
    "mapserver": _mapserver,
    "qgis": _qgis,
}
JSON_PARAM = {"ours": "&f=json", "tipg": "", "pygeoapi": "&f=json", "mapserver": "&f=json", "qgis": ""}
COLLECTIONS = {
    "ours": "/api/collections?f=json",
    "tipg": "/collections",
    "pygeoapi": "/collections?f=json",
    "mapserver": "/mapserv/bench/ogcapi/collections?f=json",
    "qgis": "/qgis/wfs3/collections.json",
}


def items_paths(kind: str, side_m: float, limit: int, n: int) -> list[str]:
    """bbox pages of the building layer."""
    return [f"{ITEMS[kind]('buildings')}?bbox={b}&limit={limit}{JSON_PARAM[kind]}" for b in boxes(side_m, n)]


def feature_paths(kind: str, total: int = 200_000) -> list[str]:
    """One building by id: ours, pygeoapi and MapServer by building_id, TiPg and QGIS by fid."""
    base = ITEMS[kind]("buildings")
    if kind == "tipg":
        return [f"{base}/{i}" for i in feature_numbers(total=total)]
    if kind == "qgis":
        return [f"{base.removesuffix('.json')}/{i}.json" for i in feature_numbers(total=total)]
    return [f"{base}/B{i:07d}?f=json" for i in feature_numbers(total=total)]


# The two requests whose fixed cost the profilers look at (bench/http_profile.py, bench/ab.py).
OURS = {
    "items360": lambda: items_paths("ours", 360, 100, 50),
    "feature": lambda: feature_paths("ours"),
}


def tile_paths(
    kind: str, z: int, side: int, bounds: tuple[float, float, float, float] | None = None
) -> list[str]:
    """MVT tiles: ours in OGC order (z/row/col), TiPg in z/x/y (``tiles`` says which)."""
    block = tiles(z, side, bounds)
    if kind == "ours":
        return [f"/api/collections/buildings/tiles/WebMercatorQuad/{z}/{y}/{x}" for z, x, y in block]
    if kind == "tipg":
        return [
            f"/collections/tsukuba_gis.l_buildings_v1/tiles/WebMercatorQuad/{z}/{x}/{y}" for z, x, y in block
        ]
    return []


def point_paths() -> list[str]:
    """The point report, ours only."""
    return [f"/point?lat={lat:.6f}&lon={lon:.6f}" for lat, lon in points()]


def first_page(kind: str, limit: int = 1000) -> str:
    """The first page of the point layer, for the full paged download."""
    return f"{ITEMS[kind]('facilities')}?limit={limit}{JSON_PARAM[kind]}"
