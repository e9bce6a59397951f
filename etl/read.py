"""Read step: open a source file as the definition describes it, whatever its format."""

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pyproj

from etl.formats import FormatError
from etl.formats.csv_points import open_csv
from etl.formats.ogr import open_ogr
from etl.formats.xmlsafe import check_gdal_xml
from etl.paths import in_sources
from etl.source import ROW, Chunk, OpenedSource
from tsukuba_gis.layerdef import SourceDef

CHUNK_SIZE = 50_000


def _xml_source(path: Path, label: str, frame: gpd.GeoDataFrame, kind: str) -> OpenedSource:
    # XML readers parse the whole file; the frame is one chunk (PLATEAU/FGD files are tiles).
    def chunks() -> Iterator[Chunk]:
        yield Chunk(frame)

    columns = [c for c in frame.columns if c not in (ROW, frame.geometry.name)]
    return OpenedSource(
        path=path,
        label=label,
        columns=columns,
        crs=str(frame.crs),
        decisions={"crs": f"{frame.crs}, from the {kind} srsName"},
        feature_count=len(frame),
        chunks=chunks(),
    )


def open_source(source: SourceDef, sources_dir: Path, chunk_size: int = CHUNK_SIZE) -> OpenedSource:
    """Open one source file of a layer; raise FormatError naming the file on any problem.

    Examples
    --------
    >>> opened = open_source(layer.sources[0], Path("sources"))
    >>> for chunk in opened.chunks:
    ...     print(len(chunk.frame), len(chunk.rejects))
    """
    label = source.path
    path = in_sources(sources_dir, source.path, label)
    if not path.exists():
        raise FormatError(
            f"{label}: file not found at {path}; put the department's file there or"
            " fix `path:` in the layer definition"
        )
    if not path.is_file() or path.stat().st_size == 0:
        what = "is a folder, not a file" if path.is_dir() else "is empty (0 bytes)"
        raise FormatError(f"{label}: {what}; ask the department for the file again")
    opened = _open(path, source, label, chunk_size, sources_dir)
    _check_crs(opened)
    if source.filter:
        missing = [c for c in source.filter if c not in opened.columns]
        if missing:
            raise FormatError(
                f"{label}: filter column(s) {', '.join(missing)} not in the file"
                f" (its columns: {', '.join(opened.columns)})"
            )
        opened.chunks = _filtered(opened, opened.chunks, source.filter)
    return opened


def _open(path: Path, source: SourceDef, label: str, chunk_size: int, sources_dir: Path) -> OpenedSource:
    fmt = source.resolved_format
    if fmt == "csv":
        return open_csv(path, source, label, chunk_size)
    if fmt == "citygml":
        from etl.formats.citygml import read_citygml

        return _xml_source(path, label, read_citygml(path, root=sources_dir), "CityGML")
    if fmt == "gml" and _is_fgd(path):
        from etl.formats.fgd import read_fgd_gml

        return _xml_source(path, label, read_fgd_gml(path), "FGD GML")
    check_gdal_xml(path, sources_dir)  # GDAL must not read a DTD or schema from outside
    return open_ogr(path, source, label, chunk_size)


def _check_crs(opened: OpenedSource) -> None:
    """A CRS PROJ does not know, or one without a datum, is an error: never a guess."""
    try:
        crs = pyproj.CRS.from_user_input(opened.crs)
    except pyproj.exceptions.CRSError as err:
        raise FormatError(
            f"{opened.label}: unknown coordinate system {str(opened.crs)[:80]!r}"
            f" ({opened.decisions.get('crs', 'declared')}): {err}; use an EPSG code"
            " such as EPSG:6677 (plane zone IX) or EPSG:6668 (lat/lon)"
        ) from None
    if crs.geodetic_crs is None:
        raise FormatError(
            f"{opened.label}: the coordinate system {crs.name!r} has no geodetic"
            " datum (a local grid?); it cannot be placed on a map. Declare the real"
            " `crs:` in the layer definition"
        )


def _filtered(opened: OpenedSource, chunks: Iterator[Chunk], wanted: dict) -> Iterator[Chunk]:
    """Only the rows of this layer; the others belong to other layers of the same file."""
    kept = total = 0
    for chunk in chunks:
        mask = True
        for column, value in wanted.items():
            mask = mask & (chunk.frame[column].astype(str) == str(value))
        total += len(chunk.frame)
        kept += int(mask.sum()) if not isinstance(mask, bool) else len(chunk.frame)
        yield Chunk(chunk.frame[mask], chunk.rejects)
    condition = " and ".join(f"{k} = {v}" for k, v in wanted.items())
    opened.decisions["filter"] = f"kept {kept} of {total} rows where {condition}"


def _is_fgd(path: Path) -> bool:
    with open(path, "rb") as handle:
        return b"fgd.gsi.go.jp/spec" in handle.read(4096)


__all__ = ["open_source", "FormatError", "OpenedSource", "Chunk", "ROW"]
