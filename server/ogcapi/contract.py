"""What the OpenAPI document promises, made exactly what the routes serve.

pygeoapi's generator documents operations this product does not serve (POST and OPTIONS on
items), parameters whose values it refuses (any ``crs``), a free-form "vendor" parameter, and
responses by references to OGC building blocks whose media types and schemas differ from the
answers (GeoJSON items documented as ``application/json``; errors as OGC API - Processes
exceptions). :func:`settle` rewrites each served operation: GET only, the parameters really
read, every status the route answers with its media types, and schemas written for the
documents this server sends (``SCHEMAS``). The staff side may add its own path items (writes)
through ``extra_paths`` of ``build_openapi``.
"""

import re
from typing import Any

from server.ogcapi import cql, crs

JSON, GEOJSON, HTML, JSONLD = "application/json", "application/geo+json", "text/html", "application/ld+json"
CSV, GPKG = "text/csv", "application/geopackage+sqlite3"
SCHEMA_JSON, OPENAPI = "application/schema+json", "application/vnd.oai.openapi+json;version=3.0"
MVT = "application/vnd.mapbox-vector-tile"
REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


_LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
        "hreflang": {"type": "string"},
    },
}
_LINKS = {"type": "array", "items": _ref("Link")}
_GEOMETRY = {
    "type": "object",
    "nullable": True,
    "required": ["type"],
    "properties": {
        "type": {
            "type": "string",
            "enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
            + ["GeometryCollection"],
        },
        "coordinates": {"type": "array"},
    },
}
_FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "geometry": _ref("Geometry"),
        "properties": {"type": "object", "nullable": True},
        "links": _LINKS,
    },
}
_FEATURES = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": _ref("Feature")},
        "links": _LINKS,
        "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
    },
}
EXCEPTION = {  # the OGC error body (server/errors.py): transaction_docs.py names it too
    "type": "object",
    "required": ["code", "description"],
    "properties": {
        "code": {"type": "string"},
        "type": {"type": "string"},
        "description": {"type": "string"},
    },
}


def _document(*required: str, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {"links": _LINKS, **properties}}


SCHEMAS: dict[str, Any] = {
    "Link": _LINK,
    "Geometry": _GEOMETRY,
    "Feature": _FEATURE,
    "FeatureCollection": _FEATURES,
    "Exception": EXCEPTION,
    "LandingPage": _document("links", title={"type": "string"}, description={"type": "string"}),
    "ConformanceDeclaration": _document(
        "conformsTo", conformsTo={"type": "array", "items": {"type": "string"}}
    ),
    "Collections": _document("collections", collections={"type": "array", "items": _ref("Collection")}),
    "Collection": _document("id", "links", id={"type": "string"}, title={"type": "string"}),
    "JSONSchema": {"type": "object", "properties": {"properties": {"type": "object"}}},
    "TileSets": _document("tilesets", tilesets={"type": "array", "items": {"type": "object"}}),
    "TileSet": {
        "oneOf": [
            _document("dataType", "crs", "links", dataType={"type": "string"}, crs={"type": "string"}),
            {"type": "object", "required": ["tilejson", "tiles"], "properties": {"tiles": {"type": "array"}}},
        ]
    },
    "TileMatrixSets": _document(
        "tileMatrixSets", tileMatrixSets={"type": "array", "items": {"type": "object"}}
    ),
    "TileMatrixSet": {"type": "object", "required": ["id", "crs", "tileMatrices"]},
    "OpenAPI": {"type": "object", "required": ["openapi", "paths"]},
    "Styles": _document("styles", styles={"type": "array", "items": {"type": "object", "required": ["id"]}}),
    "MapStyle": {"type": "object", "required": ["version", "sources", "layers"]},
    "StyleMetadata": {"type": "object", "required": ["id", "stylesheets"]},
}


def _content(*types: tuple[str, str | None]) -> dict[str, Any]:
    content = {}
    for media_type, schema in types:
        if schema:
            content[media_type] = {"schema": _ref(schema)}
        elif media_type == JSONLD:
            content[media_type] = {"schema": {"type": "object"}}  # JSON-LD: its own vocabulary
        else:
            content[media_type] = {"schema": {"type": "string"}}
    return content


def _errors(path_params: bool) -> dict[str, Any]:
    error = _content((JSON, "Exception"), (HTML, None), (JSONLD, "Exception"))
    answers = {
        "400": {
            "description": "A parameter the client must fix (the body says which and why)",
            "content": error,
        },
        "503": {
            "description": "The data store is not available; try again after Retry-After seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "content": _content((JSON, "Exception")),
        },
    }
    answers["404"] = {"description": "No such resource", "content": error}
    del path_params  # every route may answer 404 (a collection gone since the document was made)
    return answers


def _ok(description: str, *types: tuple[str, str | None]) -> dict[str, Any]:
    return {"description": description, "content": _content(*types)}


def _parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": False,
            "description": description, "schema": schema}  # fmt: skip


def _f(values: list[str]) -> dict[str, Any]:
    return _parameter("f", "The format of the answer (else by Accept)", {"type": "string", "enum": values})


CRS_PARAMETERS = [
    _parameter(
        "crs",
        "The CRS of the answer's coordinates (default CRS84)",
        {"type": "string", "enum": crs.SUPPORTED},
    ),
    _parameter("bbox-crs", "The CRS of bbox (default CRS84)", {"type": "string", "enum": crs.SUPPORTED}),
]
FILTER_PARAMETERS = [
    _parameter("filter", "A CQL2 expression on the queryables (see /queryables)", {"type": "string"}),
    _parameter(
        "filter-lang",
        "The language of filter (cql-text: the draft name of cql2-text, as GDAL sends it)",
        {"type": "string", "enum": [*cql.LANGUAGES, *cql.ALIASES], "default": "cql2-text"},
    ),
    _parameter(
        "filter-crs",
        "The CRS of filter's geometries (default CRS84)",
        {"type": "string", "enum": crs.SUPPORTED},
    ),
]

# (path pattern, formats of f, 200 content) per kind of route served.
KINDS: list[tuple[str, list[str], tuple]] = [
    (r"/", ["json", "html", "jsonld"], ((JSON, "LandingPage"), (HTML, None), (JSONLD, None))),
    (r"/openapi", ["json", "html"], ((OPENAPI, "OpenAPI"), (HTML, None))),
    (
        r"/conformance",
        ["json", "html", "jsonld"],
        ((JSON, "ConformanceDeclaration"), (HTML, None), (JSONLD, None)),
    ),
    (r"/collections", ["json", "html", "jsonld"], ((JSON, "Collections"), (HTML, None), (JSONLD, None))),
    (r"/collections/[^/]+", ["json", "html", "jsonld"], ((JSON, "Collection"), (HTML, None), (JSONLD, None))),
    (
        r"/collections/[^/]+/(schema|queryables)",
        ["json", "html"],
        ((SCHEMA_JSON, "JSONSchema"), (HTML, None)),
    ),
    (
        r"/collections/[^/]+/items",
        ["json", "html", "jsonld", "csv", "gpkg"],
        ((GEOJSON, "FeatureCollection"), (HTML, None), (JSONLD, None), (CSV, None), (GPKG, None)),
    ),
    (
        r"/collections/[^/]+/items/\{featureId\}",
        ["json", "html", "jsonld"],
        ((GEOJSON, "Feature"), (HTML, None), (JSONLD, None)),
    ),
    (r"/collections/[^/]+/tiles", ["json", "html"], ((JSON, "TileSets"), (HTML, None))),
    (
        r"/collections/[^/]+/tiles/\{tileMatrixSetId\}",
        ["json", "tilejson", "html"],
        ((JSON, "TileSet"), (HTML, None)),
    ),
    (r"/tileMatrixSets", ["json", "html"], ((JSON, "TileMatrixSets"), (HTML, None))),
    (r"/tileMatrixSets/\{tileMatrixSetId\}", ["json", "html"], ((JSON, "TileMatrixSet"), (HTML, None))),
]
STYLE_JSON, SLD, QML = (
    "application/vnd.mapbox.style+json",
    "application/vnd.ogc.sld+xml;version=1.0",
    "application/vnd.qgis.qml+xml",
)
# OGC API - Styles (server/styles): lists and metadata take no f (always JSON).
KINDS += [
    (r"(/collections/[^/]+)?/styles", [], ((JSON, "Styles"),)),
    (r"/styles/\{styleId\}", ["mapbox"], ((STYLE_JSON, "MapStyle"),)),
    (
        r"/collections/[^/]+/styles/\{styleId\}",
        ["mapbox", "sld10", "qml"],
        ((STYLE_JSON, "MapStyle"), (SLD, None), (QML, None)),
    ),
    (r"(/collections/[^/]+)?/styles/\{styleId\}/metadata", [], ((JSON, "StyleMetadata"),)),
]
TILE = r"/collections/[^/]+/tiles/\{tileMatrixSetId\}/\{tileMatrix\}/\{tileRow\}/\{tileCol\}"
TILE_MATRIX_SETS = ["WebMercatorQuad"]  # server/tiles serves this one
TMS_PARAMETER = {
    "name": "tileMatrixSetId",
    "in": "path",
    "required": True,
    "description": "The tile matrix set",
    "schema": {"type": "string", "enum": TILE_MATRIX_SETS},
}
DROPPED_PARAMETERS = {
    "vendorSpecificParameters",
    "f",
    "crs",
    "bbox-crs",
    "ui",
    "filter",
    "filter-lang",
    "filter-crs",
}


def _name_of(parameter: dict[str, Any], components: dict[str, Any]) -> str:
    ref = parameter.get("$ref", "")
    if ref.startswith("#/components/parameters/"):
        return components.get("parameters", {}).get(ref.rsplit("/", 1)[1], {}).get("name", "")
    return parameter.get("name", "")


def _parameters(path: str, operation: dict[str, Any], formats: list[str], components: dict) -> list:
    kept = [p for p in operation.get("parameters", []) if _name_of(p, components) not in DROPPED_PARAMETERS]
    added = [_f(formats)] if formats else []
    if path.endswith("/items") and "opendata-catalog" not in path:
        added += CRS_PARAMETERS + FILTER_PARAMETERS
    elif path.endswith("/items/{featureId}") and "opendata-catalog" not in path:
        added += CRS_PARAMETERS[:1]
    return kept + added


def _operation(path: str, operation: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    operation["parameters"] = [
        TMS_PARAMETER if _name_of(p, components) == "tileMatrixSetId" else p
        for p in operation.get("parameters", [])
    ]
    if re.fullmatch(TILE, path):
        operation["responses"] = {
            "200": {
                "description": "A vector tile (MVT)",
                "content": {MVT: {"schema": {"type": "string", "format": "binary"}}},
            },
            "204": {"description": "No feature in this tile"},
            **_errors(True),
        }
        operation["parameters"] = [p for p in operation["parameters"] if _name_of(p, components) != "f"]
        operation["parameters"].append(_f(["mvt"]))
        return operation
    for pattern, formats, types in KINDS:
        if re.fullmatch(pattern, path):
            if path.endswith("/items") and "opendata-catalog" in path:
                formats, types = ["json", "html", "jsonld"], types[:3]
            operation["parameters"] = _parameters(path, operation, formats, components)
            operation["responses"] = {"200": _ok("The resource", *types), **_errors("{" in path)}
            return operation
    raise ValueError(f"{path}: not a route this server documents")


def settle(document: dict[str, Any], extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document with exactly the served operations, parameters, statuses and media types."""
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    paths = {}
    for path, item in document["paths"].items():
        if "get" not in item:
            continue
        paths[path] = {"get": _operation(path, item["get"], components)}
    paths.update(extra_paths or {})
    document["paths"] = paths
    for unused in ("bbox-crs-epsg", "vendorSpecificParameters", "crs", "bbox-crs"):
        components.get("parameters", {}).pop(unused, None)
    components.pop("responses", None)  # pygeoapi's: every operation now has its own
    return document
