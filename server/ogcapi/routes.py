"""The OGC API routes this product serves, mapped to pygeoapi's API functions.

Only what really works is routed and declared: no processes, EDR or STAC, and the conformance
list is cut down to the classes the store provider implements (coverages and map tiles: the
classes ``server/rasters`` implements, when there is a raster collection).
"""

from pathlib import Path

import orjson
import pygeoapi
import pygeoapi.api as core_api
import pygeoapi.api.itemtypes as itemtypes_api
from pygeoapi.api import API, APIRequest

from server.ogcapi import cql
from server.rasters import config as rasters
from tsukuba_gis.errors import BadRequest

HERE = Path(__file__).resolve().parent
STATIC_DIRS = [p for p in (HERE / "static", Path(pygeoapi.__file__).parent / "static") if p.is_dir()]

SUPPORTED_CONFORMANCE = {
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/landing-page",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-common-3/1.0/conf/schemas",
    # The open-data catalog collection (server.opendata.records): records, q=, sortby, JSON, HTML.
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/opensearch",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/html",
    # Vector tiles of every feature collection (server/tiles): MVT in WebMercatorQuad.
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
}
# Declared by us (pygeoapi's list has them only for its own providers): what works on both stores.
ADDED_CONFORMANCE = {
    # Part 2: crs= and bbox-crs= in CRS84, EPSG:4326, 6668, 6677, 3857 (server/ogcapi/crs.py).
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # Part 3 and CQL2 (server/ogcapi/cql.py; tsukuba_gis/store/*_filter.py). Not declared: the
    # temporal functions (pygeofilter's CQL2 text cannot parse them), arrays, property-property
    # comparisons and functions.
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
}
SUPPORTED_CONFORMANCE |= ADDED_CONFORMANCE
GEOJSON = "application/geo+json"


def conformance(api: API, request: APIRequest):
    """pygeoapi's conformance document, limited to the classes that really work here."""
    headers, status, content = core_api.conformance(api, request)
    if request.format == "html" or status != 200:
        return headers, status, content
    document = orjson.loads(content)
    offered = {c for c in document["conformsTo"] if c in SUPPORTED_CONFORMANCE} | ADDED_CONFORMANCE
    offered |= rasters.conformance(api.config)
    document["conformsTo"] = sorted(offered)
    return headers, status, orjson.dumps(document)


def landing_page(api: API, request: APIRequest):
    """pygeoapi's landing page without its link to /processes (no process is served)."""
    headers, status, content = core_api.landing_page(api, request)
    if request.format in (None, "json") and status == 200:
        document = orjson.loads(content)
        document["links"] = [link for link in document["links"] if not link["rel"].endswith("/processes")]
        content = orjson.dumps(document)
    return headers, status, content


def _geojson(request: APIRequest, answer: tuple) -> tuple:
    """Items and features as JSON are GeoJSON: say so (``application/geo+json``)."""
    headers, status, content = answer
    if status == 200 and request.format in (None, "json"):
        headers["Content-Type"] = GEOJSON
    return headers, status, content


def _records_page(request: APIRequest, answer: tuple) -> tuple:
    """A catalogue page as GeoJSON: numberReturned counted, no link to the refused CSV."""
    headers, status, content = _geojson(request, answer)
    if status != 200 or request.format not in (None, "json"):
        return headers, status, content
    document = orjson.loads(content)
    document["numberReturned"] = len(document["features"])
    document["links"] = [link for link in document["links"] if "csv" not in link.get("type", "")]
    return headers, status, orjson.dumps(document)


def collection_items(api: API, request: APIRequest, collection_id: str):
    """Items; record collections take only JSON/HTML/JSON-LD.

    pygeoapi offers its dataset formatters (CSV) on record collections too, and then fails with
    an UnboundLocalError (it reads a CRS variable that only feature collections set).
    """
    resource = api.config["resources"].get(collection_id, {})
    kinds = {p["type"] for p in resource.get("providers", [])}
    if "record" in kinds:
        if request.format not in (None, "json", "html", "jsonld"):
            return api.get_format_exception(request)
        if request.params.get("filter") is not None:
            raise BadRequest("filter: the catalogue is searched with q=")
        if len((request.params.get("bbox") or "").split(",")) == 6:
            # pygeoapi's TinyDB records provider unpacks four numbers (a 500 otherwise).
            raise BadRequest("bbox: the catalogue's records have 2D extents: give four numbers")
        return _records_page(request, itemtypes_api.get_collection_items(api, request, collection_id))
    if not resource:
        return itemtypes_api.get_collection_items(api, request, collection_id)  # its 404
    token = cql.FILTER.set(cql.request_filter(resource, request.params))
    try:
        return _geojson(request, itemtypes_api.get_collection_items(api, request, collection_id))
    finally:
        cql.FILTER.reset(token)


def collection_item(api: API, request: APIRequest, collection_id: str, item_id: str):
    """One item; GeoJSON says so."""
    return _geojson(request, itemtypes_api.get_collection_item(api, request, collection_id, item_id))


GEOMETRY_FORMATS = {"point": "geometry-point", "line": "geometry-linestring", "polygon": "geometry-polygon"}


def queryables(api: API, request: APIRequest, collection_id: str):
    """pygeoapi's queryables, with the layer definition's labels (in the request's language)
    as titles and the layer's geometry type."""
    headers, status, content = itemtypes_api.get_collection_queryables(api, request, collection_id)
    resource = api.config["resources"].get(collection_id, {})
    provider = next((p for p in resource.get("providers", []) if p["type"] == "feature"), None)
    if status != 200 or provider is None or request.format not in (None, "json"):
        return headers, status, content
    options = provider["options"]
    language = "en" if str(request.locale).startswith("en") else "ja"
    document = orjson.loads(content)
    for name, schema in document["properties"].items():
        if name == "geometry":
            schema["format"] = GEOMETRY_FORMATS.get(options.get("geometry"), "geometry-any")
        elif name in options.get("labels", {}):
            schema["title"] = options["labels"][name][language]
    return headers, status, orjson.dumps(document)


# (path, function(api, request, *params), path params, check the f= format up front)
ROUTES = [
    ("/", landing_page, (), True),
    ("/openapi", core_api.openapi_, (), True),
    ("/conformance", conformance, (), True),
    ("/collections", core_api.describe_collections, (), True),
    ("/collections/{collection_id}", core_api.describe_collections, ("collection_id",), True),
    ("/collections/{collection_id}/schema", core_api.get_collection_schema, ("collection_id",), True),
    (
        "/collections/{collection_id}/queryables",
        queryables,
        ("collection_id",),
        True,
    ),
    ("/collections/{collection_id}/items", collection_items, ("collection_id",), False),
    (
        "/collections/{collection_id}/items/{item_id}",
        collection_item,
        ("collection_id", "item_id"),
        True,
    ),
]

# OpenAPI paths kept from pygeoapi's generated document (anything else is not routed).
OPENAPI_PATHS = (
    "/",
    "/openapi",
    "/conformance",
    "/collections",
    "/tileMatrixSets",
    "/tileMatrixSets/{tileMatrixSetId}",
)
OPENAPI_PATH_SUFFIXES = (
    "/items",
    "/items/{featureId}",
    "/queryables",
    "/schema",
    "/tiles",
    "/tiles/{tileMatrixSetId}",
    "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
)
