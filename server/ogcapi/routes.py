"""The OGC API routes this product serves, mapped to pygeoapi's API functions.

Only what really works is routed and declared: no processes, EDR or STAC, and the conformance
list is cut down to the classes the store provider implements (coverages and map tiles: the
classes ``server/rasters`` implements, when there is a raster collection).
"""

from pathlib import Path

import pygeoapi
import pygeoapi.api as core_api
import pygeoapi.api.itemtypes as itemtypes_api
from pygeoapi.api import API, APIRequest

from server.rasters import config as rasters

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


def conformance(api: API, request: APIRequest):
    """pygeoapi's conformance document, limited to the classes that really work here."""
    headers, status, content = core_api.conformance(api, request)
    if request.format == "html" or status != 200:
        return headers, status, content
    import orjson

    document = orjson.loads(content)
    declared = {c for c in document["conformsTo"] if c in SUPPORTED_CONFORMANCE}
    document["conformsTo"] = sorted(declared | rasters.conformance(api.config))
    return headers, status, orjson.dumps(document)


def collection_items(api: API, request: APIRequest, collection_id: str):
    """Items; record collections take only JSON/HTML/JSON-LD.

    pygeoapi offers its dataset formatters (CSV) on record collections too, and then fails with
    an UnboundLocalError (it reads a CRS variable that only feature collections set).
    """
    resource = api.config["resources"].get(collection_id, {})
    kinds = {p["type"] for p in resource.get("providers", [])}
    if "record" in kinds and request.format not in (None, "json", "html", "jsonld"):
        return api.get_format_exception(request)
    return itemtypes_api.get_collection_items(api, request, collection_id)


# (path, function(api, request, *params), path params, check the f= format up front)
ROUTES = [
    ("/", core_api.landing_page, (), True),
    ("/openapi", core_api.openapi_, (), True),
    ("/conformance", conformance, (), True),
    ("/collections", core_api.describe_collections, (), True),
    ("/collections/{collection_id}", core_api.describe_collections, ("collection_id",), True),
    ("/collections/{collection_id}/schema", core_api.get_collection_schema, ("collection_id",), True),
    (
        "/collections/{collection_id}/queryables",
        itemtypes_api.get_collection_queryables,
        ("collection_id",),
        True,
    ),
    ("/collections/{collection_id}/items", collection_items, ("collection_id",), False),
    (
        "/collections/{collection_id}/items/{item_id}",
        itemtypes_api.get_collection_item,
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
