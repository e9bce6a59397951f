"""Files GDAL reads well (Shapefile, GeoJSON, GeoPackage, KML, GML), streamed with pyogrio."""

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from etl.encoding import shapefile_encoding
from etl.formats import FormatError
from etl.source import ROW, Chunk, OpenedSource
from tsukuba_gis.layerdef import SourceDef


def _gdal_path(path: Path) -> str:
    # A zipped shapefile is read in place through GDAL's virtual file system.
    return f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)


def _info(gdal_path: str, source: SourceDef, encoding: str | None, label: str) -> dict:
    try:
        options = {"WRITE_GFS": "NO"} if source.resolved_format == "gml" else {}
        return pyogrio.read_info(gdal_path, layer=source.layer, encoding=encoding, **options)
    except pyogrio.errors.DataLayerError as err:
        layers = ", ".join(str(n) for n in pyogrio.list_layers(gdal_path)[:, 0])
        raise FormatError(f"{label}: {err}; layers in the file: {layers}") from None
    except pyogrio.errors.DataSourceError as err:
        raise FormatError(f"{label}: cannot be opened as {source.resolved_format}: {err}") from None


def _crs(info_crs: str | None, source: SourceDef, label: str, decisions: dict[str, str]) -> str:
    if info_crs:
        decisions["crs"] = f"{info_crs}, as the file declares"
        if source.crs and source.crs != info_crs:
            decisions["crs"] += f" (the definition's {source.crs} is ignored: the file wins)"
        return info_crs
    if source.crs:
        decisions["crs"] = f"{source.crs}, from the layer definition (the file declares none)"
        return source.crs
    raise FormatError(f"{label}: the file declares no CRS (no .prj?) and the layer definition sets "
                      "no source crs; add `crs: EPSG:xxxx` to the source in the definition")


def open_ogr(path: Path, source: SourceDef, label: str, chunk_size: int) -> OpenedSource:
    """Open a GDAL-readable source and stream it in chunks of ``chunk_size`` features."""
    decisions: dict[str, str] = {}
    encoding = None
    if source.resolved_format == "shapefile":
        encoding, why = shapefile_encoding(path, source.encoding)
        decisions["encoding"] = why
    gdal_path = _gdal_path(path)
    info = _info(gdal_path, source, encoding, label)
    crs = _crs(info.get("crs"), source, label, decisions)
    return OpenedSource(
        path=path, label=label, columns=[str(c) for c in info["fields"]], crs=crs,
        decisions=decisions, feature_count=info.get("features"),
        chunks=_chunks(gdal_path, source, encoding, crs, label, chunk_size),
    )


def _chunks(gdal_path: str, source: SourceDef, encoding: str | None, crs: str, label: str,
            chunk_size: int) -> Iterator[Chunk]:
    row = 0
    try:
        # WRITE_GFS=NO: GDAL must not leave a .gfs file next to a department's GML.
        options = {"WRITE_GFS": "NO"} if source.resolved_format == "gml" else {}
        with pyogrio.open_arrow(gdal_path, layer=source.layer, encoding=encoding,
                                batch_size=chunk_size, use_pyarrow=True, **options) as (meta, reader):
            geometry_name = meta.get("geometry_name") or "wkb_geometry"
            for batch in reader:
                frame = batch.to_pandas()
                wkb = frame.pop(geometry_name).to_numpy() if geometry_name in frame else None
                geoms = shapely.from_wkb(wkb, on_invalid="ignore") if wkb is not None else None
                frame[ROW] = np.arange(row + 1, row + len(frame) + 1)
                row += len(frame)
                yield Chunk(gpd.GeoDataFrame(frame, geometry=geoms, crs=crs))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.GeometryError) as err:
        raise FormatError(f"{label}: reading stopped after row {row}: {err}") from None
