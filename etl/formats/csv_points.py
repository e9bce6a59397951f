"""CSV (often exported from Excel) with point coordinates in columns.

Lat/lon columns (緯度/経度) or plane-rectangular X/Y, where Japanese surveying calls the
northing X and the easting Y, the opposite of GIS x/y. ``_row`` counts data rows (the first
row after the header is 1); reasons also give the line of the file, as Excel numbers it.
"""

import io
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.encoding import choose, line_blocks
from etl.formats import FormatError
from etl.source import ROW, Chunk, OpenedSource
from tsukuba_gis.layerdef import SourceDef
from tsukuba_gis.store import Reject


def _encoding(path: Path, source: SourceDef, label: str) -> tuple[str, str]:
    def blocks():
        with open(path, "rb") as handle:
            yield from line_blocks(handle)

    if source.encoding:
        return choose(blocks, source.encoding, "layer definition", label)
    return choose(blocks, None, "", label)


def _columns(source: SourceDef) -> tuple[str, str]:
    """The (x, y) columns in GIS order: easting/longitude first."""
    if source.lon is not None:
        return source.lon, source.lat
    return source.y, source.x  # survey Y is the easting, survey X the northing


def _header(path: Path, encoding: str, label: str) -> list[str]:
    with open(path, encoding=encoding, newline="") as handle:
        first = handle.readline()
    try:
        return [str(c).strip() for c in pd.read_csv(io.StringIO(first), dtype=str).columns]
    except pd.errors.ParserError as err:
        raise FormatError(f"{label}: line 1 (the header) cannot be parsed ({err})") from None


def open_csv(path: Path, source: SourceDef, label: str, chunk_size: int) -> OpenedSource:
    """Open a coordinate CSV; rows without usable coordinates become rejects, with the reason."""
    encoding, why = _encoding(path, source, label)
    columns = _header(path, encoding, label)
    xcol, ycol = _columns(source)
    missing = [c for c in (xcol, ycol) if c not in columns]
    if missing:
        raise FormatError(
            f"{label}: coordinate column(s) {', '.join(missing)} not in the header"
            f" ({', '.join(columns)}); fix lat/lon or x/y in the layer definition"
        )
    decisions = {"encoding": why, "crs": f"{source.crs}, from the layer definition (a CSV has none)"}
    if source.x is not None:
        decisions["axes"] = f"survey convention: X={source.x} is the northing, Y={source.y} the easting"
    return OpenedSource(
        path=path,
        label=label,
        columns=[c for c in columns if c not in (xcol, ycol)],
        crs=source.crs,
        decisions=decisions,
        feature_count=None,
        chunks=_chunks(path, encoding, xcol, ycol, source.crs, label, chunk_size),
    )


def _numbers(raw: pd.Series) -> pd.Series:
    # NFKC: Excel sheets typed in Japanese often hold full-width digits (３６．１).
    return pd.to_numeric(raw.str.normalize("NFKC").str.strip(), errors="coerce")


def _reader(path: Path, encoding: str, chunk_size: int, label: str) -> Iterator[pd.DataFrame]:
    reader = pd.read_csv(
        path, encoding=encoding, dtype=str, keep_default_na=False, chunksize=chunk_size, skipinitialspace=True
    )
    try:
        for frame in reader:
            frame.columns = [str(c).strip() for c in frame.columns]
            yield frame
    except pd.errors.ParserError as err:
        raise FormatError(
            f"{label}: {err} (lines count from 1 = the header); fix that row:"
            " a value with a comma needs double quotes"
        ) from None


def _chunks(
    path: Path, encoding: str, xcol: str, ycol: str, crs: str, label: str, chunk_size: int
) -> Iterator[Chunk]:
    row = 0
    for frame in _reader(path, encoding, chunk_size, label):
        frame[ROW] = np.arange(row + 1, row + len(frame) + 1)
        row += len(frame)
        raw_x, raw_y = frame[xcol], frame[ycol]  # kept: a later reject shows them as handed over
        x, y = _numbers(raw_x), _numbers(raw_y)
        bad = x.isna() | y.isna() | ~np.isfinite(x) | ~np.isfinite(y)
        rejects = [
            _reject(label, r, raw_x[i], raw_y[i], xcol, ycol, frame.loc[i])
            for i, r in zip(frame.index[bad], frame[ROW][bad], strict=True)
        ]
        good = frame[~bad].replace({"": None})
        geometry = gpd.points_from_xy(x[~bad], y[~bad])
        yield Chunk(gpd.GeoDataFrame(good, geometry=geometry, crs=crs), rejects)


def _reject(label: str, row: int, x: str, y: str, xcol: str, ycol: str, values: pd.Series) -> Reject:
    if not str(x).strip() and not str(y).strip():
        reason = f"no coordinates ({ycol}/{xcol} are empty)"
    else:
        reason = f"coordinates are not numbers: {xcol}={x!r}, {ycol}={y!r}"
    reason += f" (line {row + 1} of the file); fill in the coordinates or remove the row"
    attributes = {k: v for k, v in values.items() if k != ROW}
    return Reject(source=label, row=int(row), reason=reason, attributes=attributes)
