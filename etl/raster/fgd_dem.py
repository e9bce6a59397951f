"""基盤地図情報 数値標高モデル (FGD DEM, JPGIS GML: DEM5A/5B/5C/10A/10B), decoded with lxml.

One file holds one mesh: ``gml:Envelope`` (lowerCorner/upperCorner as "lat lon", JGD2011
geographic = EPSG:6668), ``gml:GridEnvelope`` low/high (inclusive cell indices), a
``gml:tupleList`` of ``種別,標高`` lines, ``gml:sequenceRule order="+x-y"`` (row by row from the
north-west) and ``gml:startPoint`` "x y" (where the first tuple goes: cells before it have no
data). GSI omits trailing cells without data, so fewer tuples than cells is normal; more is an
error. ``データなし`` and the value -9999. mean no data; the other types (地表面, 表層面, 海水面,
内水面, その他) keep their value and are counted in the decisions.

The file is read with ``iterparse``: the header elements are cleared as they pass, and the
tuples are decoded straight into the grid.
"""

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from lxml import etree
from rasterio.transform import from_bounds

from etl.formats import FormatError

GML = "{http://www.opengis.net/gml/3.2}"
NODATA = -9999.0
NO_DATA_TYPE = "データなし"
SRS = {"fguuid:jgd2011.bl": "EPSG:6668", "fguuid:jgd2000.bl": "EPSG:4612"}
_WANTED = {
    f"{GML}{n}"
    for n in (
        "Envelope",
        "lowerCorner",
        "upperCorner",
        "low",
        "high",
        "tupleList",
        "sequenceRule",
        "startPoint",
    )
}


def _snap(value: float) -> float:
    """Undo the 6-decimal rounding of mesh corners (36.008333 → 36.008333…): 0.1" steps."""
    steps = round(value * 36000)
    return steps / 36000 if abs(value * 36000 - steps) < 0.05 else value


def _ints(text: str | None, label: str, what: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in (text or "").split())
    except ValueError:
        raise FormatError(f"{label}: {what} must be two integers, not {text!r}") from None
    return a, b


class _Header:
    """What the elements before and around the tuple list say."""

    def __init__(self, label: str):
        self.label = label
        self.srs: str | None = None
        self.lower: tuple[float, float] | None = None
        self.upper: tuple[float, float] | None = None
        self.low = self.high = self.start = None
        self.order: str | None = None

    def take(self, element: etree._Element) -> None:
        """Keep what one header element says."""
        tag, text = element.tag, element.text
        if tag == f"{GML}Envelope":
            self.srs = element.get("srsName")
        elif tag in (f"{GML}lowerCorner", f"{GML}upperCorner"):
            try:
                lat, lon = (float(v) for v in (text or "").split())
            except ValueError:
                raise FormatError(
                    f"{self.label}: {tag[len(GML) :]} must be 'lat lon', not {text!r}"
                ) from None
            setattr(self, "lower" if tag.endswith("lowerCorner") else "upper", (lat, lon))
        elif tag == f"{GML}low":
            self.low = _ints(text, self.label, "gml:low")
        elif tag == f"{GML}high":
            self.high = _ints(text, self.label, "gml:high")
        elif tag == f"{GML}sequenceRule":
            self.order = element.get("order")
        elif tag == f"{GML}startPoint":
            self.start = _ints(text, self.label, "gml:startPoint")

    def shape(self, max_cells: int) -> tuple[int, int]:
        if self.low is None or self.high is None or self.lower is None:
            raise FormatError(
                f"{self.label}: no gml:Envelope/gml:GridEnvelope before gml:tupleList: not a FGD DEM"
            )
        cols, rows = self.high[0] - self.low[0] + 1, self.high[1] - self.low[1] + 1
        if cols <= 0 or rows <= 0:
            raise FormatError(f"{self.label}: gml:GridEnvelope high {self.high} is below low {self.low}")
        if cols * rows > max_cells:
            raise FormatError(
                f"{self.label}: the grid claims {cols} x {rows} cells, more than the limit of {max_cells}"
                " (TSUKUBA_GIS_RASTER_MAX_BYTES); the file is damaged or not one mesh"
            )
        return rows, cols


def _fill(grid: np.ndarray, text: str, start: int, label: str, types: Counter) -> int:
    """Decode the tuple lines into the flat grid from cell ``start``; return the tuple count."""
    flat = grid.reshape(-1)
    if not text.strip():
        return 0
    # pandas' C parser: a DEM10B mesh has 843,750 tuples.
    table = pd.read_csv(
        io.StringIO(text), header=None, names=["type", "value"], dtype=str, skip_blank_lines=True
    )
    if len(table) > flat.size - start:
        raise FormatError(
            f"{label}: {len(table)} tuples do not fit the grid: {flat.size} cells, the first tuple at"
            f" cell {start} leaves room for {flat.size - start}; the file is damaged"
        )
    kinds = table["type"].str.strip()
    values = pd.to_numeric(table["value"], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values))
    if bad.size:
        row = table.iloc[bad[0]]
        raise FormatError(f"{label}: tuple {bad[0] + 1} {row['type']},{row['value']} is not '種別,標高'")
    types.update(kinds.value_counts().to_dict())
    keep = (kinds.to_numpy() != NO_DATA_TYPE) & (values > -9998)
    target = flat[start : start + len(table)]
    target[keep] = values[keep]
    return len(table)


def _parse(path: Path, label: str, max_cells: int) -> tuple[_Header, str]:
    """The header and the tuple text (the grid size is checked before the text is kept)."""
    header = _Header(label)
    text = None
    try:
        for _, element in etree.iterparse(str(path), events=("end",), huge_tree=True):
            if element.tag == f"{GML}tupleList":
                header.shape(max_cells)  # refuse an absurd grid before keeping its tuples
                text = element.text or ""
            elif element.tag in _WANTED:
                header.take(element)
            element.clear(keep_tail=False)
    except etree.XMLSyntaxError as err:
        raise FormatError(f"{label}: not well-formed XML ({err}); the file is truncated or damaged") from None
    if text is None:
        raise FormatError(f"{label}: no gml:tupleList: not a FGD DEM (数値標高モデル) file")
    if header.order not in (None, "+x-y"):
        raise FormatError(f"{label}: sequenceRule {header.order!r} is not supported (FGD DEM uses +x-y)")
    if header.srs not in SRS:
        raise FormatError(f"{label}: srsName {header.srs!r} is not one of {', '.join(SRS)}")
    if header.upper is None:
        raise FormatError(f"{label}: gml:Envelope has no upperCorner")
    return header, text


def read(path: Path, label: str, max_cells: int) -> tuple[np.ndarray, tuple, str, dict[str, str]]:
    """The grid (float32, NODATA), its lon/lat bounds, its CRS and the decisions taken."""
    header, text = _parse(path, label, max_cells)
    rows, cols = header.shape(max_cells)
    grid = np.full((rows, cols), NODATA, dtype=np.float32)
    start_x, start_y = header.start or (0, 0)
    if not (0 <= start_x < cols and 0 <= start_y < rows):
        raise FormatError(f"{label}: startPoint {start_x} {start_y} lies outside the {cols} x {rows} grid")
    start = start_y * cols + start_x
    types: Counter = Counter()
    count = _fill(grid, text, start, label, types)
    (lat0, lon0), (lat1, lon1) = header.lower, header.upper
    bounds = (_snap(lon0), _snap(lat0), _snap(lon1), _snap(lat1))
    decisions = {
        "format": "FGD DEM (基盤地図情報 数値標高モデル)",
        "crs": f"{SRS[header.srs]} (srsName {header.srs})",
        "grid": f"{cols} x {rows} cells, start point {start_x} {start_y}, {count} tuples",
        "types": ", ".join(f"{k} {v}" for k, v in types.most_common()),
    }
    if count < grid.size - start:
        decisions["trailing"] = f"{grid.size - start - count} cells after the last tuple have no data"
    return grid, bounds, SRS[header.srs], decisions


def to_geotiff(path: Path, label: str, out: Path, max_cells: int) -> dict[str, str]:
    """Decode one FGD DEM file into a georeferenced float32 GeoTIFF; return the decisions."""
    grid, bounds, crs, decisions = read(path, label, max_cells)
    rows, cols = grid.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": from_bounds(*bounds, cols, rows),
        "nodata": NODATA,
    }
    with rasterio.open(out, "w", **profile) as ds:
        ds.write(grid, 1)
    return decisions
