"""Open the files of a raster layer: expand globs, decode GSI tiles and FGD DEM, check headers.

Every input ends up as something GDAL opens (the department's GeoTIFF/COG/ASCII grid itself,
or a GeoTIFF decoded into the work directory), with its CRS and no-data value decided and the
decision written down. Nothing here reads the cells of a GDAL-readable file: a header that
claims an absurd size is refused before any block is read.
"""

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import CRSError, NotGeoreferencedWarning, RasterioError

from etl.formats import FormatError
from etl.raster import fgd_dem, gsi
from tsukuba_gis.errors import SourceError
from tsukuba_gis.rasterdef import RasterLayerDef, RasterSourceDef

ASK = "ask the department for the file again"
DRIVERS = {"geotiff": ("GTiff", "COG"), "aaigrid": ("AAIGrid",)}


@dataclass
class RasterInput:
    """One source file, ready for the mosaic.

    Attributes:
        label: the file relative to the sources directory (how reports name it).
        dataset: what GDAL opens: the file itself or its decoded GeoTIFF.
        decisions: format, CRS and no-data choices and why.
    """

    path: Path
    label: str
    format: str
    dataset: Path
    crs: CRS
    nodata: float | None
    width: int
    height: int
    count: int
    dtype: str
    transform: rasterio.Affine
    colorinterp: tuple[str, ...]
    decisions: dict[str, str] = field(default_factory=dict)
    as_is: bool = True  # the file says its CRS and no-data value itself: GDAL may read it directly

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in ``crs``."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    @property
    def size_bytes(self) -> int:
        """The uncompressed size of its cells."""
        return self.width * self.height * self.count * np.dtype(self.dtype).itemsize


def expand(source: RasterSourceDef, sources_dir: Path) -> list[Path]:
    """The files a source names, sorted (a glob in ``path`` may name many)."""
    if not source.is_glob:
        path = sources_dir / source.path
        if not path.is_file():
            raise SourceError(f"{source.path}: file not found in {sources_dir}")
        return [path]
    found = sorted(p for p in sources_dir.glob(source.path) if p.is_file())
    if not found:
        raise SourceError(f"{source.path}: no file in {sources_dir} matches this pattern")
    return found


def check_size(label: str, width: int, height: int, count: int, dtype: str, limit: int) -> None:
    """Refuse a header whose cells would exceed ``limit`` bytes, before anything is read."""
    size = width * height * count * np.dtype(dtype).itemsize
    if width <= 0 or height <= 0 or size > limit:
        raise FormatError(
            f"{label}: the header claims {width} x {height} cells x {count} band(s) of {dtype}"
            f" ({size / 1024**3:.1f} GiB uncompressed), over the limit of {limit / 1024**3:.1f} GiB"
            f" (TSUKUBA_GIS_RASTER_MAX_BYTES); the header is damaged, or split the raster; {ASK}"
        )


def _decode(source: RasterSourceDef, path: Path, label: str, workdir: Path, n: int, limit: int):
    """GSI tiles and FGD DEM become float32 GeoTIFFs in the work directory."""
    fmt = source.resolved_format
    out = workdir / f"input-{n}.tif"
    if fmt in ("gsi_png", "gsi_txt"):
        return out, gsi.to_geotiff(path, label, fmt, out)
    return out, fgd_dem.to_geotiff(path, label, out, max_cells=limit // 4)


def _crs(ds, source: RasterSourceDef, label: str, decisions: dict[str, str]) -> CRS:
    if ds.crs is not None:
        if source.crs and CRS.from_user_input(source.crs) != ds.crs:
            decisions["crs"] = (
                f"{ds.crs.to_string()} from the file (the definition's {source.crs} is ignored)"
            )
        else:
            decisions.setdefault("crs", f"{ds.crs.to_string()} from the file")
        return ds.crs
    if not source.crs:
        raise FormatError(
            f"{label}: the file declares no CRS; add `crs: EPSG:xxxx` to its source in the"
            " definition (EPSG:6677 for Tsukuba's plane rectangular zone IX)"
        )
    try:
        crs = CRS.from_user_input(source.crs)
    except CRSError as err:
        raise FormatError(f"{label}: the definition's crs {source.crs!r} is not a CRS: {err}") from None
    decisions["crs"] = f"{source.crs} from the definition (the file declares none)"
    return crs


def _nodata(ds, source: RasterSourceDef, layer: RasterLayerDef, decisions: dict[str, str]) -> float | None:
    declared = source.nodata if source.nodata is not None else layer.nodata
    if ds.nodata is not None:
        decisions.setdefault("nodata", f"{ds.nodata:g} from the file")
        return float(ds.nodata)
    if declared is not None:
        decisions["nodata"] = f"{declared:g} from the definition (the file declares none)"
        return float(declared)
    decisions["nodata"] = "none: every cell holds a value"
    return None


def _open(path: Path, label: str, fmt: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", NotGeoreferencedWarning)
            return rasterio.open(path)
    except NotGeoreferencedWarning:
        raise FormatError(
            f"{label}: the file has no georeferencing (no geotransform): it does not say where it is; {ASK}"
        ) from None
    except RasterioError as err:
        raise FormatError(
            f"{label}: not a readable {fmt} raster ({err}); the file is damaged; {ASK}"
        ) from None


def open_input(
    source: RasterSourceDef, layer: RasterLayerDef, path: Path, label: str, workdir: Path, n: int, limit: int
) -> RasterInput:
    """Open (and for GSI/FGD decode) one file; check its header, CRS and no-data value."""
    fmt = source.resolved_format
    dataset, decisions = path, {"format": fmt}
    if fmt not in DRIVERS:
        dataset, decisions = _decode(source, path, label, workdir, n, limit)
    with _open(dataset, label, fmt) as ds:
        if fmt in DRIVERS and ds.driver not in DRIVERS[fmt]:
            raise FormatError(f"{label}: GDAL reads this file as {ds.driver}, not as {fmt}; set format")
        check_size(label, ds.width, ds.height, ds.count, ds.dtypes[0], limit)
        if not ds.transform.is_rectilinear:
            raise FormatError(f"{label}: the grid is rotated; only north-up rasters are supported")
        if len(set(ds.dtypes)) != 1:
            raise FormatError(f"{label}: bands of different types ({', '.join(ds.dtypes)}) are not supported")
        crs = _crs(ds, source, label, decisions)
        nodata = _nodata(ds, source, layer, decisions)
        return RasterInput(
            path=path,
            label=label,
            format=fmt,
            dataset=dataset,
            crs=crs,
            nodata=nodata,
            width=ds.width,
            height=ds.height,
            count=ds.count,
            dtype=ds.dtypes[0],
            transform=ds.transform,
            colorinterp=tuple(c.name for c in ds.colorinterp),
            decisions=decisions,
            as_is=ds.crs is not None and (ds.nodata is not None or nodata is None),
        )


def open_inputs(layer: RasterLayerDef, sources_dir: Path, workdir: Path, limit: int) -> list[RasterInput]:
    """Every file of every source of the layer, opened and checked."""
    inputs: list[RasterInput] = []
    for source in layer.sources:
        for path in expand(source, sources_dir):
            label = path.relative_to(sources_dir).as_posix()
            inputs.append(open_input(source, layer, path, label, workdir, len(inputs), limit))
    total = sum(i.size_bytes for i in inputs)
    if total > limit:
        raise FormatError(
            f"{layer.id}: the {len(inputs)} files hold {total / 1024**3:.1f} GiB uncompressed, over the"
            f" limit of {limit / 1024**3:.1f} GiB (TSUKUBA_GIS_RASTER_MAX_BYTES)"
        )
    return inputs
