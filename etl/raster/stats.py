"""Read a raster strip by strip: statistics per band, and the checks every cell must pass.

Memory stays flat: one strip of rows (about ``STRIP_BYTES``, with a few same-sized
temporaries) is in memory at a time. The
checks are the ones a department's file fails in practice: blocks that cannot be read
(truncated, corrupt), cells outside the declared value range (a unit or scale error), and a
raster that holds no value at all.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from etl.formats import FormatError
from tsukuba_gis.rasterdef import ValueRange
from tsukuba_gis.store import BandStats

STRIP_BYTES = 16 * 1024**2
AUTO_BINS = 50


@dataclass
class OutOfRange:
    """The first cell found outside the declared value range, and how many there are."""

    count: int = 0
    value: float | None = None
    row: int = 0
    col: int = 0
    band: int = 1


@dataclass
class _Band:
    """Running sums of one band (float64, so a 400-million-cell mean stays exact enough)."""

    valid: int = 0
    nodata: int = 0
    low: float = np.inf
    high: float = -np.inf
    total: float = 0.0
    squares: float = 0.0
    counts: np.ndarray | None = None

    def add(self, values: np.ndarray, missing: int) -> None:
        self.nodata += missing
        if values.size == 0:
            return
        values = values.astype(np.float64, copy=False)
        self.valid += values.size
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))
        self.total += float(values.sum())
        self.squares += float(np.dot(values, values))

    def result(self, edges: list[float] | None) -> BandStats:
        if not self.valid:
            return BandStats(None, None, None, None, 0, self.nodata)
        if edges and np.isinf(edges[-1]):  # an open last class ("20.0 m and above")
            edges = [*edges[:-1], max(self.high, edges[-2])]
        mean = self.total / self.valid
        variance = max(self.squares / self.valid - mean * mean, 0.0)
        return BandStats(
            min=self.low,
            max=self.high,
            mean=mean,
            stddev=variance**0.5,
            valid_count=self.valid,
            nodata_count=self.nodata,
            edges=tuple(float(e) for e in edges) if edges else (),
            histogram=tuple(int(c) for c in self.counts) if self.counts is not None else (),
        )


@dataclass
class Scan:
    """What one read of a raster found."""

    bands: list[BandStats]
    out_of_range: OutOfRange = field(default_factory=OutOfRange)

    @property
    def valid(self) -> int:
        """Cells holding a value in the first band."""
        return self.bands[0].valid_count


def natural_edges(dtype: str) -> list[float] | None:
    """One bin per value for 8-bit bands (photographs), so they need no second read."""
    if np.dtype(dtype) == np.uint8:
        return [float(v) for v in range(257)]
    return None


def strips(width: int, height: int, bands: int, itemsize: int, block_rows: int = 512) -> Iterator[Window]:
    """Windows of whole rows, a multiple of the block height, at most STRIP_BYTES each."""
    row_bytes = max(width * bands * itemsize, 1)
    rows = max(1, min(height, STRIP_BYTES // row_bytes))
    if rows > block_rows:
        rows -= rows % block_rows
    for top in range(0, height, rows):
        yield Window(0, top, width, min(rows, height - top))


def _valid(data: np.ndarray, nodata: float | None) -> np.ndarray:
    mask = np.ones(data.shape, dtype=bool) if nodata is None else data != nodata
    if data.dtype.kind == "f":
        mask &= np.isfinite(data)
        if nodata is not None and np.isnan(nodata):
            mask = ~np.isnan(data)
    return mask


def _histogram(counts: np.ndarray, values: np.ndarray, edges: np.ndarray) -> None:
    # edges[i] <= v < edges[i + 1]; the last bin holds its upper edge too.
    steps = np.diff(edges)
    if np.isfinite(steps).all() and np.allclose(steps, steps[0]):  # equal bins: arithmetic, not a search
        index = np.floor((values - edges[0]) / steps[0]).astype(np.int64)
    else:
        index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = len(edges) - 2
    inside = (index >= 0) & (index < len(edges) - 1)
    counts += np.bincount(index[inside], minlength=len(edges) - 1)[: len(edges) - 1]


def _read(ds, window: Window, label: str) -> np.ndarray:
    try:
        return ds.read(window=window)
    except RasterioError as err:
        raise FormatError(
            f"{label}: cannot read rows {window.row_off}-{window.row_off + window.height - 1}"
            f" ({err}); the file is truncated or corrupt; ask the department for the file again"
        ) from None


def _check_range(data: np.ndarray, mask: np.ndarray, value_range: ValueRange, found: OutOfRange, top: int):
    valid = data[mask]
    if not valid.size or (valid.min() >= value_range.min and valid.max() <= value_range.max):
        return  # the common case: no cell-by-cell mask needed
    outside = mask & ((data < value_range.min) | (data > value_range.max))
    hits = int(outside.sum())
    if hits:
        if not found.count:
            band, row, col = (int(v[0]) for v in np.nonzero(outside))
            found.value, found.row, found.col, found.band = (
                float(data[band, row, col]),
                top + row,
                col,
                band + 1,
            )
        found.count += hits


def scan(
    path,
    label: str,
    edges: list[float] | None = None,
    value_range: ValueRange | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> Scan:
    """Statistics of every band (histogram over ``edges``, else 50 bins min..max: a second read)."""
    with rasterio.open(path) as ds:
        nodata = ds.nodata
        bands = [_Band() for _ in range(ds.count)]
        bins = np.asarray(edges, dtype=np.float64) if edges else None
        for b in bands:
            b.counts = np.zeros(len(bins) - 1, dtype=np.int64) if bins is not None else None
        found = OutOfRange()
        itemsize = np.dtype(ds.dtypes[0]).itemsize
        for window in strips(ds.width, ds.height, ds.count, itemsize, ds.block_shapes[0][0]):
            data = _read(ds, window, label)
            mask = _valid(data, nodata)
            if value_range is not None:
                _check_range(data, mask, value_range, found, window.row_off)
            for i, band in enumerate(bands):
                values = data[i][mask[i]]
                band.add(values, int(mask[i].size - values.size))
                if bins is not None:
                    _histogram(band.counts, values, bins)
            progress(window.height)
        if bins is None:
            return Scan(_auto_histograms(ds, bands, label), found)
    return Scan([b.result(edges) for b in bands], found)


def _auto_histograms(ds, bands: list[_Band], label: str) -> list[BandStats]:
    """A second read: 50 equal bins between each band's min and max (no edges were declared)."""
    edges = []
    for band in bands:
        low, high = (band.low, band.high) if band.valid else (0.0, 1.0)
        high = high if high > low else low + 1.0
        edges.append(np.linspace(low, high, AUTO_BINS + 1))
        band.counts = np.zeros(AUTO_BINS, dtype=np.int64)
    itemsize = np.dtype(ds.dtypes[0]).itemsize
    for window in strips(ds.width, ds.height, ds.count, itemsize, ds.block_shapes[0][0]):
        data = _read(ds, window, label)
        mask = _valid(data, ds.nodata)
        for i, band in enumerate(bands):
            _histogram(band.counts, data[i][mask[i]], edges[i])
    return [b.result(list(e)) for b, e in zip(bands, edges, strict=True)]
