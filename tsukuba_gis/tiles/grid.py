"""The one tile matrix set served (WebMercatorQuad), from morecantile rather than own math."""

from functools import lru_cache
from typing import Any

import morecantile

from tsukuba_gis.errors import BadRequest

TMS_ID = "WebMercatorQuad"
TMS = morecantile.tms.get(TMS_ID)
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/3857"


def parse_tile(matrix: str, row: str, col: str) -> tuple[int, int, int]:
    """(z, x, y) of a tile path; BadRequest for anything but non-negative integers inside the matrix."""
    try:
        z, y, x = int(matrix), int(row), int(col)
    except ValueError:
        raise BadRequest("tileMatrix, tileRow and tileCol must be integers") from None
    if not (0 <= z <= TMS.maxzoom) or min(x, y) < 0:
        raise BadRequest(f"tileMatrix must be 0..{TMS.maxzoom}, tileRow/tileCol >= 0")
    if max(x, y) >= 2**z:
        raise BadRequest(f"tileRow and tileCol must be below {2**z} at tileMatrix {z}")
    return z, x, y


def tile_range(bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """(min col, min row, max col, max row) of the tiles covering a lon/lat box at zoom z."""
    west, south, east, north = bbox
    return _tile_range(float(west), float(south), float(east), float(north), z)


# Every tile request checks its limits: morecantile's tile() hashes pyproj CRSs (their WKT)
# on each call, ~1 ms; a tile set's boxes are few.
@lru_cache(maxsize=1024)
def _tile_range(west: float, south: float, east: float, north: float, z: int) -> tuple[int, int, int, int]:
    top_left, bottom_right = TMS.tile(west, north, z), TMS.tile(east, south, z)
    return top_left.x, top_left.y, bottom_right.x, bottom_right.y


def limits(bbox: tuple[float, float, float, float], minzoom: int, maxzoom: int) -> list[dict[str, Any]]:
    """OGC ``tileMatrixSetLimits``: per zoom, the rows and columns the tile set has."""
    out = []
    for z in range(minzoom, maxzoom + 1):
        col0, row0, col1, row1 = tile_range(bbox, z)
        out.append(
            {
                "tileMatrix": str(z),
                "minTileRow": row0,
                "maxTileRow": row1,
                "minTileCol": col0,
                "maxTileCol": col1,
            }
        )
    return out


def inside(
    bbox: tuple[float, float, float, float], minzoom: int, maxzoom: int, z: int, x: int, y: int
) -> bool:
    """Whether a tile is within a tile set's limits."""
    if not minzoom <= z <= maxzoom:
        return False
    col0, row0, col1, row1 = tile_range(bbox, z)
    return col0 <= x <= col1 and row0 <= y <= row1


def xy_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's EPSG:3857 box (left, bottom, right, top)."""
    box = TMS.xy_bounds(x, y, z)
    return box.left, box.bottom, box.right, box.top


@lru_cache(maxsize=1)
def tms_document() -> dict[str, Any]:
    """The OGC Two Dimensional Tile Matrix Set 2.0 JSON document of WebMercatorQuad."""
    return TMS.model_dump(mode="json", exclude_none=True)
