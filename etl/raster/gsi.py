"""GSI elevation tiles (地理院タイル 標高タイル): the PNG and TXT encodings, decoded to metres.

PNG (dem_png): x = R·2^16 + G·2^8 + B; x < 2^23 → h = x·0.01 m, x = 2^23 → no data,
x > 2^23 → h = (x − 2^24)·0.01 m (below sea level). TXT (dem): 256 lines of 256
comma-separated metres, ``e`` = no data. Neither file says where it is: the tile's z/x/y come
from its path (``.../{z}/{x}/{y}.png``, or a name ending ``z{z}-x{x}-y{y}``) and give its
bounds in Web Mercator (EPSG:3857).
"""

import re
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.transform import from_bounds

from etl.formats import FormatError

TILE = 256
NODATA = -9999.0
HALF_WORLD = 20037508.342789244  # EPSG:3857 half circumference (m)
_ZXY_DIRS = re.compile(r"(?:^|/)(\d{1,2})/(\d+)/(\d+)\.(?:png|txt)$", re.IGNORECASE)
_ZXY_NAME = re.compile(r"z(\d{1,2})[-_]x(\d+)[-_]y(\d+)[^/]*\.(?:png|txt)$", re.IGNORECASE)


def tile_of(path: Path) -> tuple[int, int, int]:
    """The (z, x, y) of a tile from its path; FormatError when the path does not say."""
    text = path.as_posix()
    match = _ZXY_DIRS.search(text) or _ZXY_NAME.search(text)
    if not match:
        raise FormatError(
            f"{path.name}: a GSI elevation tile must sit at {{z}}/{{x}}/{{y}}.png (or .txt),"
            " or be named like z14-x14568-y6425.png: its position comes from the path"
        )
    z, x, y = (int(g) for g in match.groups())
    if z > 24 or x >= 2**z or y >= 2**z:
        raise FormatError(f"{path.name}: tile {z}/{x}/{y} does not exist (x and y must be below 2^{z})")
    return z, x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of an XYZ tile in EPSG:3857 metres."""
    size = 2 * HALF_WORLD / 2**z
    left, top = -HALF_WORLD + x * size, HALF_WORLD - y * size
    return left, top - size, left + size, top


def decode_png_rgb(rgb: np.ndarray) -> np.ndarray:
    """Metres (float32, NODATA for no data) from a (3, 256, 256) uint8 array."""
    r, g, b = (band.astype(np.int64) for band in rgb[:3])
    x = (r << 16) | (g << 8) | b
    heights = np.where(x < 2**23, x, x - 2**24).astype(np.float64) * 0.01
    return np.where(x == 2**23, NODATA, heights).astype(np.float32)


def read_png(path: Path, label: str) -> np.ndarray:
    """The elevations of a dem_png tile."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # the path says where it is
            with rasterio.open(path) as ds:
                if (ds.width, ds.height) != (TILE, TILE) or ds.count < 3:
                    raise FormatError(
                        f"{label}: a GSI elevation tile is {TILE}x{TILE} RGB; this PNG is"
                        f" {ds.width}x{ds.height} with {ds.count} band(s)"
                    )
                rgb = ds.read([1, 2, 3])
    except RasterioError as err:
        raise FormatError(f"{label}: not a readable PNG ({err}); ask for the tile again") from None
    return decode_png_rgb(rgb)


def read_txt(path: Path, label: str) -> np.ndarray:
    """The elevations of a dem TXT tile (256 lines x 256 values, ``e`` = no data)."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (UnicodeDecodeError, OSError) as err:
        raise FormatError(f"{label}: not a GSI elevation text tile ({err})") from None
    lines = [line for line in lines if line.strip()]
    if len(lines) != TILE:
        raise FormatError(f"{label}: a GSI elevation text tile has {TILE} lines; this one has {len(lines)}")
    grid = np.empty((TILE, TILE), dtype=np.float32)
    for row, line in enumerate(lines):
        cells = line.strip().split(",")
        if len(cells) != TILE:
            raise FormatError(f"{label} line {row + 1}: {len(cells)} values, a tile row has {TILE}")
        try:
            grid[row] = [NODATA if c.strip() == "e" else float(c) for c in cells]
        except ValueError as err:
            raise FormatError(f"{label} line {row + 1}: {err}") from None
    return grid


def to_geotiff(path: Path, label: str, fmt: str, out: Path) -> dict[str, str]:
    """Decode one tile into a georeferenced float32 GeoTIFF; return the decisions taken."""
    z, x, y = tile_of(path)
    grid = read_png(path, label) if fmt == "gsi_png" else read_txt(path, label)
    transform = from_bounds(*tile_bounds(z, x, y), TILE, TILE)
    profile = {
        "driver": "GTiff",
        "width": TILE,
        "height": TILE,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:3857",
        "transform": transform,
        "nodata": NODATA,
    }
    with rasterio.open(out, "w", **profile) as ds:
        ds.write(grid, 1)
    return {
        "format": f"GSI elevation tile ({'PNG' if fmt == 'gsi_png' else 'TXT'}) z{z}/x{x}/y{y}",
        "crs": "EPSG:3857 (GSI tile grid, from the tile's z/x/y)",
        "nodata": f"{NODATA} (GSI no-data)",
    }
