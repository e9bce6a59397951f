"""Which tiles a live edit touches: the tiles whose buffered extent meets the feature before or
after the edit, at every zoom a tile set may have (``MINZOOM_FLOOR`` to ``MAXZOOM_CAP``).

The stores record them with the edit (``tg_tile_touches``) so that only those tiles are made
again from the data (``Store.tile_seq``); every other pre-built tile stays right. A geometry so
large that it touches more than ``MAX_TOUCHED`` tiles marks the whole layer instead (z = -1).
"""

from collections.abc import Iterable

from tsukuba_gis.tiles import grid
from tsukuba_gis.tiles.rules import BUFFER, EXTENT, MAXZOOM_CAP, MINZOOM_FLOOR

WHOLE_LAYER = (-1, 0, 0)
MAX_TOUCHED = 4096
# A tile carries the features within BUFFER units past its edge; a little more, to be safe of
# rounding (a tile's height in degrees is below its width at Tsukuba's latitude: conservative).
MARGIN = 1.5 * BUFFER / EXTENT


def _range(box: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    margin = 360.0 / (1 << z) * MARGIN
    west, south, east, north = box
    clipped = (
        max(west - margin, -180.0),
        max(south - margin, -85.05),
        min(east + margin, 180.0),
        min(north + margin, 85.05),
    )
    return grid.tile_range(clipped, z)


def touched_tiles(boxes: Iterable[tuple[float, float, float, float] | None]) -> list[tuple[int, int, int]]:
    """(z, x, y) of every tile the boxes (lon/lat, e.g. before and after) touch, or WHOLE_LAYER."""
    found: set[tuple[int, int, int]] = set()
    for box in (b for b in boxes if b is not None):
        for z in range(MINZOOM_FLOOR, MAXZOOM_CAP + 1):
            col0, row0, col1, row1 = _range(box, z)
            if len(found) + (col1 - col0 + 1) * (row1 - row0 + 1) > MAX_TOUCHED:
                return [WHOLE_LAYER]
            found.update((z, x, y) for x in range(col0, col1 + 1) for y in range(row0, row1 + 1))
    return sorted(found)


def union(
    *boxes: tuple[float, float, float, float] | None,
) -> tuple[float, float, float, float] | None:
    """The box around all given boxes (None when none is given)."""
    present = [b for b in boxes if b is not None]
    if not present:
        return None
    return (
        min(b[0] for b in present),
        min(b[1] for b in present),
        max(b[2] for b in present),
        max(b[3] for b in present),
    )
