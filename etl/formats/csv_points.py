"""CSV (often exported from Excel) with point coordinates in columns.

Lat/lon columns (緯度/経度) or plane-rectangular X/Y, where Japanese surveying calls the
northing X and the easting Y, the opposite of GIS x/y.
"""

import io
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.encoding import check_decodes, detect, normalise
from etl.formats import FormatError
from etl.source import ROW, Chunk, OpenedSource
from tsukuba_gis.layerdef import SourceDef
from tsukuba_gis.store import Reject


def _encoding(path: Path, source: SourceDef, label: str) -> tuple[str, str]:
    data = path.read_bytes()
    if source.encoding:
        encoding = normalise(source.encoding)
        if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
            encoding = "utf-8-sig"  # Excel's BOM must not end up in the first header name
        check_decodes(data, encoding, label)
        return encoding, f"{encoding}, declared in the layer definition"
    encoding, why = detect(data)
    return encoding, f"{encoding}, {why} (none declared)"


def _columns(source: SourceDef) -> tuple[str, str]:
    """The (x, y) columns in GIS order: easting/longitude first."""
    if source.lon is not None:
        return source.lon, source.lat
    return source.y, source.x  # survey Y is the easting, survey X the northing


def open_csv(path: Path, source: SourceDef, label: str, chunk_size: int) -> OpenedSource:
    """Open a coordinate CSV; rows without usable coordinates become rejects, with the reason."""
    encoding, why = _encoding(path, source, label)
    with open(path, encoding=encoding, newline="") as handle:
        header = pd.read_csv(io.StringIO(handle.readline()), dtype=str).columns
    columns = [str(c) for c in header]
    xcol, ycol = _columns(source)
    missing = [c for c in (xcol, ycol) if c not in columns]
    if missing:
        raise FormatError(f"{label}: coordinate column(s) {', '.join(missing)} not in the header"
                          f" ({', '.join(columns)})")
    decisions = {"encoding": why, "crs": f"{source.crs}, from the layer definition (a CSV has none)"}
    if source.x is not None:
        decisions["axes"] = f"survey convention: X={source.x} is the northing, Y={source.y} the easting"
    return OpenedSource(path=path, label=label, columns=[c for c in columns if c not in (xcol, ycol)],
                        crs=source.crs, decisions=decisions, feature_count=None,
                        chunks=_chunks(path, encoding, xcol, ycol, source.crs, label, chunk_size))


def _chunks(path: Path, encoding: str, xcol: str, ycol: str, crs: str, label: str,
            chunk_size: int) -> Iterator[Chunk]:
    row = 0
    reader = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False,
                         chunksize=chunk_size, skipinitialspace=True)
    for frame in reader:
        frame[ROW] = np.arange(row + 1, row + len(frame) + 1)
        row += len(frame)
        raw_x, raw_y = frame.pop(xcol), frame.pop(ycol)
        x = pd.to_numeric(raw_x.str.strip(), errors="coerce")
        y = pd.to_numeric(raw_y.str.strip(), errors="coerce")
        bad = x.isna() | y.isna()
        rejects = [_reject(label, r, raw_x[i], raw_y[i], xcol, ycol, frame.loc[i])
                   for i, r in zip(frame.index[bad], frame[ROW][bad], strict=True)]
        good = frame[~bad].replace({"": None})
        geometry = gpd.points_from_xy(x[~bad], y[~bad])
        yield Chunk(gpd.GeoDataFrame(good, geometry=geometry, crs=crs), rejects)


def _reject(label: str, row: int, x: str, y: str, xcol: str, ycol: str, values: pd.Series) -> Reject:
    if not str(x).strip() and not str(y).strip():
        reason = f"no coordinates ({ycol}/{xcol} are empty)"
    else:
        reason = f"coordinates are not numbers: {xcol}={x!r}, {ycol}={y!r}"
    attributes = {k: v for k, v in values.items() if k != ROW}
    attributes.update({xcol: x, ycol: y})
    return Reject(source=label, row=int(row), reason=reason, attributes=attributes)
