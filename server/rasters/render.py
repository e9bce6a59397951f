"""Map tile images of a raster: its cells coloured by the style, transparent where no data.

Pillow encodes (it only writes here: no image from outside is ever decoded, so its
decompression-bomb limits are never in play). PNG at zlib level 6 (the size/speed middle) and
WebP lossless (the cells' exact colours, smaller than PNG).
"""

import io
import math
from functools import lru_cache

import numpy as np
from PIL import Image

from server.rasters import reader
from server.rasters.published import Z0_METRES, PublishedRaster

FORMATS = {"png": "image/png", "webp": "image/webp"}
PNG_LEVEL = 6


def encode(rgba: np.ndarray, fmt: str) -> bytes:
    """RGBA pixels as PNG or WebP bytes."""
    image = Image.fromarray(rgba, "RGBA")
    out = io.BytesIO()
    if fmt == "webp":
        image.save(out, "WEBP", lossless=True, quality=50, method=1)
    else:
        image.save(out, "PNG", compress_level=PNG_LEVEL)
    return out.getvalue()


@lru_cache(maxsize=4)
def empty_tile(fmt: str) -> bytes:
    """A fully transparent tile (inside the limits but without data): a picture, not an error."""
    return encode(np.zeros((reader.TILE_SIZE, reader.TILE_SIZE, 4), dtype=np.uint8), fmt)


def _tile_metres(raster: PublishedRaster, z: int) -> float:
    """Metres per pixel at zoom z at the raster's latitude (the hillshade's cell size)."""
    south, north = raster.record.bbox[1], raster.record.bbox[3]
    return Z0_METRES * math.cos(math.radians((south + north) / 2)) / 2**z


def render(raster: PublishedRaster, z: int, x: int, y: int, fmt: str) -> bytes:
    """One map tile of a raster version, in its style."""
    style = raster.style
    shaded = style.kind == "ramp" and raster.definition.hillshade
    image = reader.tile(raster, z, x, y, buffer=1 if shaded else 0)
    data = image.array
    if np.ma.getmaskarray(data).all():
        return empty_tile(fmt)
    rgba = style.colorize(data, _tile_metres(raster, z) if shaded else None)
    return encode(rgba, fmt)
