"""One virtual raster (GDAL VRT) over every input of a layer: the mosaic GDAL reads by blocks.

We write the VRT XML ourselves rather than merging arrays (``rasterio.merge`` holds the whole
result in memory): GDAL then reads each window of the mosaic from the files under it, so
memory stays flat whatever the size. The VRT also carries what the definition adds to files
that lack it (CRS, no-data value) without touching the department's files.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from etl.formats import FormatError
from etl.raster.sources import RasterInput

_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "float32": "Float32",
    "float64": "Float64",
}


@dataclass
class Mosaic:
    """The VRT and what it decided."""

    path: Path
    width: int
    height: int
    overlaps: bool
    decisions: dict[str, str]


def _check_alike(inputs: list[RasterInput]) -> None:
    first = inputs[0]
    for other in inputs[1:]:
        what = None
        if other.crs != first.crs:
            what = f"CRS {other.crs.to_string()} differs from {first.crs.to_string()}"
        elif other.count != first.count:
            what = f"{other.count} band(s), {first.label} has {first.count}"
        elif other.dtype != first.dtype:
            what = f"cell type {other.dtype}, {first.label} has {first.dtype}"
        elif not (
            math.isclose(other.transform.a, first.transform.a, rel_tol=1e-9)
            and math.isclose(other.transform.e, first.transform.e, rel_tol=1e-9)
        ):
            what = (
                f"cell size {other.transform.a:g} x {-other.transform.e:g},"
                f" {first.label} has {first.transform.a:g} x {-first.transform.e:g}"
            )
        if what:
            raise FormatError(
                f"{other.label}: cannot be mosaicked with {first.label}: {what}; every file of one"
                " raster layer needs the same CRS, bands, cell type and cell size"
            )
    if first.dtype not in _GDAL_TYPES:
        raise FormatError(f"{first.label}: cell type {first.dtype} is not supported")


def _overlap(a: RasterInput, b: RasterInput, tolerance: float) -> bool:
    (al, ab, ar, at), (bl, bb, br, bt) = a.bounds, b.bounds
    return min(ar, br) - max(al, bl) > tolerance and min(at, bt) - max(ab, bb) > tolerance


def _source_xml(item: RasterInput, band: int, x_off: float, y_off: float, nodata: float | None) -> str:
    kind = "ComplexSource" if item.nodata is not None else "SimpleSource"
    masked = f"<NODATA>{item.nodata!r}</NODATA>" if item.nodata is not None else ""
    return (
        f'<{kind}><SourceFilename relativeToVRT="0">{escape(str(item.dataset.resolve()))}</SourceFilename>'
        f"<SourceBand>{band}</SourceBand>"
        f'<SrcRect xOff="0" yOff="0" xSize="{item.width}" ySize="{item.height}"/>'
        f'<DstRect xOff="{x_off!r}" yOff="{y_off!r}" xSize="{item.width}" ySize="{item.height}"/>'
        f"{masked}</{kind}>"
    )


def build(inputs: list[RasterInput], out: Path) -> Mosaic:
    """Write the VRT of the inputs (later files win where they overlap) and describe it."""
    _check_alike(inputs)
    first = inputs[0]
    res_x, res_y = first.transform.a, -first.transform.e
    left = min(i.bounds[0] for i in inputs)
    top = max(i.bounds[3] for i in inputs)
    right = max(i.bounds[2] for i in inputs)
    bottom = min(i.bounds[1] for i in inputs)
    width, height = round((right - left) / res_x), round((top - bottom) / res_y)
    nodatas = {i.nodata for i in inputs}
    nodata = (
        first.nodata if len(nodatas) == 1 else next(n for n in (i.nodata for i in inputs) if n is not None)
    )
    decisions: dict[str, str] = {}
    if len(inputs) > 1:
        decisions["mosaic"] = f"{len(inputs)} files into {width} x {height} cells"
    if nodata is None and len(inputs) > 1 and width * height > sum(i.width * i.height for i in inputs):
        raise FormatError(
            f"{first.label}: the files leave gaps in the mosaic but declare no no-data value;"
            " add `nodata:` to the definition"
        )
    offsets = [((i.transform.c - left) / res_x, (top - i.transform.f) / res_y) for i in inputs]
    if any(abs(v - round(v)) > 1e-6 for xy in offsets for v in xy):
        decisions["alignment"] = (
            "the files' grids are not aligned: cells resampled (nearest) onto the first's"
        )
    tolerance = min(res_x, res_y) / 2
    overlaps = any(_overlap(a, b, tolerance) for n, a in enumerate(inputs) for b in inputs[n + 1 :])
    if overlaps:
        decisions["overlap"] = "files overlap: where both have data, the later file (by name) wins"
    bands = []
    for band in range(1, first.count + 1):
        interp = first.colorinterp[band - 1] if band <= len(first.colorinterp) else "undefined"
        sources = "".join(
            _source_xml(i, band, x, y, nodata) for i, (x, y) in zip(inputs, offsets, strict=True)
        )
        nodata_xml = f"<NoDataValue>{nodata!r}</NoDataValue>" if nodata is not None else ""
        bands.append(
            f'<VRTRasterBand dataType="{_GDAL_TYPES[first.dtype]}" band="{band}">{nodata_xml}'
            f"<ColorInterp>{interp.capitalize()}</ColorInterp>{sources}</VRTRasterBand>"
        )
    geotransform = ", ".join(repr(float(v)) for v in (left, res_x, 0.0, top, 0.0, -res_y))
    out.write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f'<SRS dataAxisToSRSAxisMapping="{_axis_mapping(first)}">{escape(first.crs.to_wkt())}</SRS>'
        f"<GeoTransform>{geotransform}</GeoTransform>{''.join(bands)}</VRTDataset>",
        encoding="utf-8",
    )
    return Mosaic(out, width, height, overlaps, decisions)


def _axis_mapping(item: RasterInput) -> str:
    # Rasters are always x = easting/longitude first, whatever the CRS's official axis order.
    return "2,1" if item.crs.is_geographic or _northing_first(item) else "1,2"


def _northing_first(item: RasterInput) -> bool:
    from pyproj import CRS as ProjCRS

    axes = ProjCRS.from_wkt(item.crs.to_wkt()).axis_info
    return bool(axes) and axes[0].direction.lower() == "north"


def cell_count(width: int, height: int) -> int:
    """Cells of a grid (numpy integer-safe)."""
    return int(np.int64(width) * np.int64(height))
