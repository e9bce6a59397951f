"""Reads of the COGs behind published rasters: map tiles, the value at a point, windows.

Each worker thread keeps its own open datasets, a few per thread, least recently used out: a
dataset handle is not safe to share between threads, and opening a COG per request (its header,
its IFDs, and above all a new warped VRT to WebMercator, whose coordinate operation PROJ looks
up again each time: 4-8 ms for JGD2011) is what makes tile servers slow. Map tiles are read by
rio-tiler's ``Reader`` over one kept ``WarpedVRT`` in EPSG:3857 (the pattern rio-tiler
documents); values and windows from the dataset itself, in its own grid. A new layer version
is a new file, so a kept handle is never stale; an old one is closed when it falls out.

The warped VRT's grid is the WebMercatorQuad tile grid itself at the raster's native zoom,
over whole blocks of ``2**ALIGN_LEVELS`` tiles: each map tile is then a whole-pixel window
of the VRT or of one of its overviews (GDAL makes one per source overview, at exactly 2x,
4x, ...), so a tile warps only the VRT blocks it lies in, and its pixels are resampled once
(GDAL's own grid put the tiles across up to six of its 512 x 128 blocks; measured on
bench/raster_serve.py's grid: ~20 % less CPU per cold tile).
"""

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window
from rio_tiler.io import Reader
from rio_tiler.models import ImageData

from server.rasters.published import OVERZOOM, PublishedRaster
from tsukuba_gis.errors import StoreError
from tsukuba_gis.tiles import grid

OPEN_PER_THREAD = 16
TILE_SIZE = 256
ALIGN_LEVELS = 5  # the VRT spans whole blocks of 32 x 32 native-zoom tiles: exact overview factors
_local = threading.local()


class Opened:
    """One thread's handles on one COG: the dataset, and (made on first use) its map reader."""

    def __init__(self, path: Path):
        try:
            self.dataset = rasterio.open(path)
        except rasterio.errors.RasterioError as err:
            # The registry names a file the raster directory does not have (a mount missing).
            raise StoreError(f"raster file {path} cannot be read: {err}") from None
        self._map: Reader | None = None
        self._vrt: WarpedVRT | None = None

    def map_reader(self, raster: PublishedRaster) -> Reader:
        """rio-tiler's Reader over a warped VRT of the whole dataset on the WebMercatorQuad grid."""
        if self._map is None:
            ds = self.dataset
            transform, width, height = _tile_grid(raster.record.bbox, raster.maxzoom - OVERZOOM)
            self._vrt = WarpedVRT(
                ds,
                crs=MERCATOR,
                transform=transform,
                width=width,
                height=height,
                resampling=Resampling[raster.definition.resolved_resampling],
                src_nodata=ds.nodata,
                nodata=ds.nodata,
                # No alpha band: rio-tiler masks a warped VRT's alpha whole (measured); it masks
                # what lies outside the grid by itself, and no-data cells by the value.
                add_alpha=False,
            )
            self._map = Reader(None, dataset=self._vrt)
        return self._map

    def close(self) -> None:
        """Close the VRT, then the dataset."""
        for handle in (self._map, self._vrt, self.dataset):
            if handle is not None:
                handle.close()


MERCATOR = CRS.from_epsg(3857)


def _tile_grid(bbox: tuple[float, float, float, float], zoom: int) -> tuple[Affine, int, int]:
    """(transform, width, height) of the WebMercatorQuad pixels at ``zoom`` over ``bbox``'s tiles.

    Rounded out to whole blocks of ``2**ALIGN_LEVELS`` tiles, so every overview GDAL derives
    (halving the size) keeps the tile grid, down to ``zoom - ALIGN_LEVELS``.
    """
    n = 2**ALIGN_LEVELS
    col0, row0, col1, row1 = grid.tile_range(bbox, zoom)
    col0, row0 = col0 // n * n, row0 // n * n
    col1, row1 = (col1 // n + 1) * n, (row1 // n + 1) * n
    left, _, right, top = grid.xy_bounds(zoom, col0, row0)
    size = (right - left) / TILE_SIZE
    return Affine(size, 0, left, 0, -size, top), (col1 - col0) * TILE_SIZE, (row1 - row0) * TILE_SIZE


def _open(path: Path) -> Opened:
    """This thread's handles on a COG (opened on first use)."""
    kept: OrderedDict[Path, Opened] | None = getattr(_local, "opened", None)
    if kept is None:
        kept = _local.opened = OrderedDict()
    opened = kept.get(path)
    if opened is not None:
        kept.move_to_end(path)
        return opened
    opened = kept[path] = Opened(path)
    while len(kept) > OPEN_PER_THREAD:
        kept.popitem(last=False)[1].close()
    return opened


def _to_native(crs: str, lon: float, lat: float) -> tuple[float, float]:
    """Lon/lat to the raster's CRS, with a Transformer kept per thread and CRS."""
    kept = getattr(_local, "transformers", None)
    if kept is None:
        kept = _local.transformers = {}
    transformer = kept.get(crs)
    if transformer is None:
        transformer = kept[crs] = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return transformer.transform(lon, lat)


def tile(raster: PublishedRaster, z: int, x: int, y: int, buffer: int = 0) -> ImageData:
    """The tile's cells (with ``buffer`` more cells on each side), resampled as the definition says."""
    method = raster.definition.resolved_resampling
    return (
        _open(raster.path)
        .map_reader(raster)
        .tile(x, y, z, tilesize=TILE_SIZE, buffer=buffer or None, resampling_method=method)
    )


def values_at(raster: PublishedRaster, lon: float, lat: float) -> list[float | None] | None:
    """Each band's value in the cell holding (lon, lat); None outside the raster, None per no-data band.

    The cell is found as rio-tiler's ``point`` finds it (``dataset.index``), with the lon/lat
    transformer kept per thread (rio-tiler makes a new coordinate operation per call: ~0.4 ms).
    """
    ds = _open(raster.path).dataset
    x, y = _to_native(raster.record.crs, lon, lat) if ds.crs.is_projected else (lon, lat)
    left, bottom, right, top = ds.bounds
    if not (left < x < right and bottom < y < top):
        return None
    row, col = ds.index(x, y)
    data = ds.read(window=Window(col, row, 1, 1), masked=True)[:, 0, 0]
    mask = np.ma.getmaskarray(data)
    return [None if m else float(v) for v, m in zip(data.data, mask, strict=True)]


@dataclass(frozen=True)
class Peak:
    """The largest value of the first band within a radius, and how far its cell is."""

    value: float
    distance_m: float


def peak_within(raster: PublishedRaster, lon: float, lat: float, radius_m: float) -> Peak | None:
    """The largest first-band value whose cell centre lies within ``radius_m`` (None: no value there).

    Reads only the window around the circle (a few thousand cells at most for 500 m of 10 m
    cells), then keeps the cells inside the circle.
    """
    ds = _open(raster.path).dataset
    projected = ds.crs.is_projected
    x, y = _to_native(raster.record.crs, lon, lat) if projected else (lon, lat)
    if projected:
        kx = ky = 1.0
    else:  # degrees: metres per degree around the point
        ky = 111_319.49
        kx = ky * math.cos(math.radians(lat))
    col_f, row_f = ~ds.transform @ (x, y)
    rx, ry = radius_m / kx / abs(ds.res[0]), radius_m / ky / abs(ds.res[1])
    col0, row0 = max(0, math.floor(col_f - rx)), max(0, math.floor(row_f - ry))
    col1, row1 = min(ds.width, math.ceil(col_f + rx) + 1), min(ds.height, math.ceil(row_f + ry) + 1)
    if col0 >= col1 or row0 >= row1:
        return None
    window = Window(col0, row0, col1 - col0, row1 - row0)
    data = ds.read(1, window=window, masked=True)
    rows, cols = np.mgrid[row0:row1, col0:col1]
    cx, cy = ds.transform @ (cols + 0.5, rows + 0.5)
    distance = np.hypot((cx - x) * kx, (cy - y) * ky)
    inside = (distance <= radius_m) & ~np.ma.getmaskarray(data)
    if not inside.any():
        return None
    values = np.where(inside, data.filled(-np.inf), -np.inf)
    at = np.unravel_index(int(np.argmax(values)), values.shape)
    return Peak(float(values[at]), float(distance[at]))


@dataclass(frozen=True)
class Cells:
    """Cells of a window of the native grid (``data``: bands x rows x cols) with its transform."""

    data: np.ndarray
    transform: rasterio.Affine
    profile: dict


def _cells_window(ds, bounds: tuple[float, float, float, float]) -> Window | None:
    """The whole cells of ``ds`` that ``bounds`` touches, clipped to the grid (None: outside)."""
    win = ds.window(*bounds)
    eps = 1e-6  # a bound on a cell edge does not take in the next cell
    col0 = max(0, math.floor(win.col_off + eps))
    row0 = max(0, math.floor(win.row_off + eps))
    col1 = min(ds.width, math.ceil(win.col_off + win.width - eps))
    row1 = min(ds.height, math.ceil(win.row_off + win.height - eps))
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def window(raster: PublishedRaster, bounds: tuple[float, float, float, float], bands: list[int]) -> Cells:
    """The native cells intersecting ``bounds`` (in the raster's CRS), unchanged (no resampling)."""
    ds = _open(raster.path).dataset
    win = _cells_window(ds, bounds)
    if win is None:
        raise ValueError("the bounds do not intersect the raster")
    data = ds.read(bands, window=win)
    profile = {"crs": ds.crs, "nodata": ds.nodata, "dtype": ds.dtypes[0]}
    return Cells(data, ds.window_transform(win), profile)


def cells_of(raster: PublishedRaster, bounds: tuple[float, float, float, float]) -> tuple[int, int]:
    """(cols, rows) of the window :func:`window` would read (to refuse a huge one first)."""
    win = _cells_window(_open(raster.path).dataset, bounds)
    return (0, 0) if win is None else (int(win.width), int(win.height))
