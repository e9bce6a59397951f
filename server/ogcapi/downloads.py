"""Download what you filtered: ``/collections/{id}/items?f=csv|gpkg`` with any query.

The items query of a feature collection (bbox and bbox-crs, filter, property equality,
properties, sortby, crs) answers with every matching feature, not one page: CSV is streamed
as it is read (UTF-8 with a BOM so that Japanese Excel reads it; cells neutralised by
``csvsafe``; the geometry as WKT), a GeoPackage is written by GDAL (pyogrio) to a temporary
file and streamed from it. ``limit``/``offset``, when given, cut the result as for a page.

Coordinates in a file are in GIS order (longitude or easting first), as GeoPackage requires
and as WKT readers expect, whatever the axis order the CRS defines (the JSON answers follow it).

The query is read with the collection's own provider (the fields the audience may see, the
same coercions), so a download never reaches a column its JSON page could not.
"""

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
from pygeoapi.plugin import load_plugin
from pygeoapi.provider.base import ProviderInvalidQueryError
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response, StreamingResponse

from server.ogcapi import cql, patches
from server.ogcapi import crs as crs_module
from tsukuba_gis.csvsafe import safe_row
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.store import FeaturePage, LayerRecord, Query

FORMATS = {"csv": "text/csv; charset=utf-8", "gpkg": "application/geopackage+sqlite3"}
CHUNK = 5000
RESERVED = {"f", "lang", "bbox", "bbox-crs", "crs", "filter", "filter-lang", "filter-crs", "limit", "offset"}
RESERVED |= {"properties", "sortby", "skipGeometry", "resulttype"}
GEOMETRY_TYPES = {"point": "MultiPoint", "line": "MultiLineString", "polygon": "MultiPolygon"}


def _uri(params, name: str) -> str:
    value = params.get(name) or crs_module.CRS84
    if value not in crs_module.SUPPORTED:
        raise BadRequest(f"{name}: one of {', '.join(crs_module.SUPPORTED)}")
    return value


def _bbox(params) -> tuple[float, float, float, float] | None:
    text = params.get("bbox")
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise BadRequest("bbox: four comma-separated numbers") from None
    if len(values) not in (4, 6) or not all(abs(v) < 1e9 for v in values):
        raise BadRequest("bbox: four comma-separated numbers")
    box = patches.transform_bbox(values, _uri(params, "bbox-crs"), crs_module.CRS84)
    return tuple(box[:4])


def _int(params, name: str, default: int | None) -> int | None:
    text = params.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise BadRequest(f"{name}: a non-negative integer")
    return int(text)


def _sortby(params) -> list[dict[str, str]]:
    out = []
    for part in (params.get("sortby") or "").split(","):
        if part:
            order = part[0] if part[0] in "+-" else "+"
            out.append({"property": part.lstrip("+-"), "order": order})
    return out


def read_query(provider: Any, resource: dict, params) -> tuple[Query, int | None, str]:
    """The store query of the request, the limit (None: all), and the output CRS."""
    select = [p for p in (params.get("properties") or "").split(",") if p]
    unknown = [p for p in select if p not in provider.allowed]
    sortby = _sortby(params)
    if unknown or any(s["property"] not in provider.allowed for s in sortby):
        raise BadRequest("properties/sortby: only the queryables of this collection")
    equals = tuple(
        (name, provider._coerce(name, value))
        for name, value in params.items()
        if name not in RESERVED and name in provider.allowed
    )
    query = Query(
        bbox=_bbox(params),
        equals=equals,
        sortby=provider._order(sortby),
        select=provider._select(select),
        offset=_int(params, "offset", 0),
        filter=cql.request_filter(resource, params),
        with_count=False,
    )
    return query, _int(params, "limit", None), _uri(params, "crs")


def _pages(provider: Any, record: LayerRecord, query: Query, limit: int | None) -> Iterator[FeaturePage]:
    """Every matching feature, CHUNK at a time, of the version the request started with."""
    offset, left = query.offset, limit
    while left is None or left > 0:
        size = CHUNK if left is None else min(CHUNK, left)
        page = provider.store.query(record, Query(**{**query.__dict__, "offset": offset, "limit": size}))
        if page.ids:
            yield page
        if len(page.ids) < size:
            return
        offset += size
        left = None if left is None else left - size


def _wkt(page: FeaturePage, uri: str) -> list[str]:
    if uri != crs_module.CRS84:
        page = crs_module.transform_page(page, uri, gis_order=True)
    geoms = shapely.from_wkb(page.wkb)
    return shapely.to_wkt(geoms, rounding_precision=crs_module.decimals(uri)).tolist()


def _csv(provider: Any, record: LayerRecord, query: Query, limit: int | None, uri: str) -> Iterator[bytes]:
    names = list(query.select or provider.allowed)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", *names, "geometry_wkt"])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for page in _pages(provider, record, query, limit):
        buffer.seek(0)
        buffer.truncate()
        for fid, props, wkt in zip(page.ids, page.properties, _wkt(page, uri), strict=True):
            writer.writerow(safe_row([fid, *(props.get(n) for n in names), wkt]))
        yield buffer.getvalue().encode("utf-8")


def _gpkg(
    provider: Any, record: LayerRecord, query: Query, limit: int | None, uri: str, geometry: str
) -> str:
    layer = record.layer_id
    handle, path = tempfile.mkstemp(suffix=".gpkg", prefix="tsukuba-download-")
    os.close(handle)
    os.unlink(path)  # GDAL makes the file itself
    wrote = False
    for page in _pages(provider, record, query, limit):
        if uri != crs_module.CRS84:
            page = crs_module.transform_page(page, uri, gis_order=True)
        frame = gpd.GeoDataFrame(
            [{"id": fid, **props} for fid, props in zip(page.ids, page.properties, strict=True)],
            geometry=shapely.from_wkb(page.wkb),
            crs=crs_module.crs_of(uri),
        )
        pyogrio.write_dataframe(
            frame, path, layer=layer, driver="GPKG", append=wrote, promote_to_multi=True,
            geometry_type=GEOMETRY_TYPES.get(geometry),
        )  # fmt: skip
        wrote = True
    if not wrote:  # an empty layer with the published columns
        names = list(query.select or provider.allowed)
        empty = gpd.GeoDataFrame(
            {"id": [], **{n: [] for n in names}}, geometry=[], crs=crs_module.crs_of(uri)
        )
        pyogrio.write_dataframe(
            empty, path, layer=layer, driver="GPKG", geometry_type=GEOMETRY_TYPES.get(geometry)
        )
    return path


def download(resource: dict, collection_id: str, params, format_: str) -> Response:
    """The whole filtered result as CSV (streamed) or a GeoPackage (written, then streamed)."""
    provider_def = next(p for p in resource["providers"] if p["type"] == "feature")
    provider = load_plugin("provider", provider_def)
    try:
        query, limit, uri = read_query(provider, resource, params)
    except ProviderInvalidQueryError as err:  # the provider's own checks (coercion, repeats)
        raise BadRequest(err.message) from None
    record = provider._record()  # here, not in the stream's thread: the build's own version
    name = f"{collection_id}.{format_}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Content-Crs": f"<{uri}>"}
    if format_ == "csv":
        rows = _csv(provider, record, query, limit, uri)
        return StreamingResponse(rows, media_type=FORMATS["csv"], headers=headers)
    geometry = provider_def["options"].get("geometry", "")
    path = _gpkg(provider, record, query, limit, uri, geometry)
    return FileResponse(
        path, media_type=FORMATS["gpkg"], headers=headers, background=BackgroundTask(os.unlink, path)
    )
