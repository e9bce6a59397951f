"""Files GDAL reads well (Shapefile, GeoJSON, GeoPackage, KML, GML), streamed with pyogrio."""

import warnings
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from etl.formats import FormatError
from etl.formats import shapefile as shp
from etl.source import ROW, Chunk, OpenedSource
from tsukuba_gis.layerdef import SourceDef
from tsukuba_gis.store import Reject

# LIBKML's structural fields: present on every KML layer, rarely meant as attributes.
KML_STRUCTURE = (
    "id",
    "timestamp",
    "begin",
    "end",
    "altitudeMode",
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "icon",
)
_OGR_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
)


def _options(source: SourceDef) -> dict[str, str]:
    # WRITE_GFS=NO: GDAL must not leave a .gfs file next to a department's GML.
    return {"WRITE_GFS": "NO"} if source.resolved_format == "gml" else {}


def _layer_names(gdal_path: str, options: dict[str, str]) -> list[str]:
    # read_info by index rather than list_layers: list_layers cannot pass WRITE_GFS=NO.
    names = []
    for index in range(1000):
        try:
            names.append(pyogrio.read_info(gdal_path, layer=index, **options)["layer_name"])
        except pyogrio.errors.DataLayerError:
            break
    return names


def _info(gdal_path: str, source: SourceDef, encoding: str | None, label: str) -> dict:
    """The layer's metadata; the layer must be named when the file holds several."""
    options = _options(source)
    layer = None if source.resolved_format == "shapefile" else source.layer
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            info = pyogrio.read_info(gdal_path, layer=layer, encoding=encoding, **options)
    except pyogrio.errors.DataLayerError:
        names = ", ".join(_layer_names(gdal_path, options)) or "none"
        raise FormatError(
            f"{label}: no layer {source.layer!r} in the file (its layers: {names});"
            " fix `layer:` in the layer definition"
        ) from None
    except pyogrio.errors.DataSourceError as err:
        raise FormatError(
            f"{label}: cannot be opened as {source.resolved_format} ({err}); check"
            " that the file is complete and of that format"
        ) from None
    if layer is None and any("More than one layer" in str(w.message) for w in caught):
        names = ", ".join(_layer_names(gdal_path, options))
        raise FormatError(
            f"{label}: the file holds several layers ({names}); set `layer:` in the"
            " layer definition to the one to load"
        )
    return info


def _crs(info_crs: str | None, source: SourceDef, label: str, decisions: dict[str, str]) -> str:
    if info_crs:
        decisions["crs"] = f"{info_crs}, as the file declares"
        if source.crs and source.crs != info_crs:
            decisions["crs"] += f" (the definition's {source.crs} is ignored: the file wins)"
        return info_crs
    if source.crs:
        decisions["crs"] = f"{source.crs}, from the layer definition (the file declares none)"
        return source.crs
    raise FormatError(
        f"{label}: the file declares no CRS (no .prj?) and the layer definition sets "
        "no source crs; add `crs: EPSG:xxxx` to the source in the definition"
    )


def open_ogr(path: Path, source: SourceDef, label: str, chunk_size: int) -> OpenedSource:
    """Open a GDAL-readable source and stream it in chunks of ``chunk_size`` features."""
    decisions: dict[str, str] = {}
    encoding, gdal_path, count = None, str(path), None
    if source.resolved_format == "shapefile":
        parts = shp.locate(path, label, source.layer)
        count = shp.check(parts)
        encoding, decisions["encoding"] = shp.encoding(parts, source.encoding)
        gdal_path = parts.gdal_path
        if parts.member:
            decisions["archive"] = f"read in place from the zip: {parts.member}"
    info = _info(gdal_path, source, encoding, label)
    if source.resolved_format == "shapefile" and parts.has(".prj") and not info.get("crs"):
        raise FormatError(
            f"{label}: the .prj part cannot be understood as a coordinate system;"
            " ask for a .prj written by GIS software, or delete it and declare"
            " `crs:` in the layer definition"
        )
    crs = _crs(info.get("crs"), source, label, decisions)
    columns = [str(c) for c in info["fields"]]
    quiet: tuple[str, ...] = ()
    if info.get("driver") in ("LIBKML", "KML"):
        quiet = tuple(c for c in KML_STRUCTURE if c in columns)
    return OpenedSource(
        path=path,
        label=label,
        columns=columns,
        crs=crs,
        decisions=decisions,
        feature_count=count if count is not None else info.get("features"),
        chunks=_chunks(gdal_path, source, encoding, crs, label, chunk_size),
        quiet_columns=quiet,
    )


def _undecodable(frame, wkb: np.ndarray, geoms: np.ndarray, label: str) -> tuple[np.ndarray, list]:
    """Rows whose geometry bytes exist but do not decode (e.g. a ring that is not closed)."""
    bad = ~pd.isna(wkb) & shapely.is_missing(geoms)
    rejects = [
        Reject(
            label,
            int(row),
            "the geometry cannot be decoded (corrupt or e.g. a"
            " polygon ring that is not closed); fix it in the source",
            {k: v for k, v in values.items() if k != ROW},
        )
        for row, (_, values) in zip(frame[ROW][bad], frame[bad].iterrows(), strict=True)
    ]
    return bad, rejects


def _chunks(
    gdal_path: str, source: SourceDef, encoding: str | None, crs: str, label: str, chunk_size: int
) -> Iterator[Chunk]:
    row = 0
    layer = None if source.resolved_format == "shapefile" else source.layer
    try:
        with pyogrio.open_arrow(
            gdal_path,
            layer=layer,
            encoding=encoding,
            batch_size=chunk_size,
            use_pyarrow=True,
            **_options(source),
        ) as (meta, reader):
            geometry_name = meta.get("geometry_name") or "wkb_geometry"
            for batch in reader:
                frame = batch.to_pandas()
                wkb = (
                    frame.pop(geometry_name).to_numpy()
                    if geometry_name in frame
                    else np.full(len(frame), None, dtype=object)
                )
                geoms = shapely.from_wkb(wkb, on_invalid="ignore")
                frame[ROW] = np.arange(row + 1, row + len(frame) + 1)
                row += len(frame)
                bad, rejects = _undecodable(frame, wkb, geoms, label)
                yield Chunk(gpd.GeoDataFrame(frame[~bad], geometry=geoms[~bad], crs=crs), rejects)
    except _OGR_ERRORS as err:
        raise FormatError(
            f"{label}: reading stopped after row {row}: {err}; the file is damaged"
            " or not what its extension says"
        ) from None
