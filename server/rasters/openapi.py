"""The raster collections' paths in the OpenAPI document: only what ``server/rasters`` serves,
with its media types and status codes (pygeoapi's generated coverage path, which documents
GeoJSON answers, is not kept). References point at the official documents, which
``server/ogcapi/openapi_local.localize`` maps to the vendored copies."""

from typing import Any

from pygeoapi.openapi import OPENAPI_YAML

from server.rasters.config import GEOTIFF, GEOTIFF_FORMAT, is_raster

TILES = OPENAPI_YAML["oapit"]
FEATURES = OPENAPI_YAML["oapif-1"]
BINARY = {"type": "string", "format": "binary"}
JSON_OBJECT = {"type": "object"}


def _errors() -> dict[str, Any]:
    return {
        "304": {"description": "not modified (If-None-Match / If-Modified-Since)"},
        "400": {"$ref": f"{FEATURES}#/components/responses/InvalidParameter"},
        "404": {"$ref": f"{FEATURES}#/components/responses/NotFound"},
        "500": {"$ref": f"{FEATURES}#/components/responses/ServerError"},
    }


def _f(values: list[str], description: str) -> dict[str, Any]:
    return {
        "name": "f",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": description,
        "schema": {"type": "string", "enum": values, "default": values[0]},
    }


def _query(name: str, description: str, schema: dict | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _get(summary: str, operation: str, tag: str, parameters: list, content: dict[str, dict]) -> dict:
    return {
        "get": {
            "summary": summary,
            "operationId": operation,
            "tags": [tag],
            "parameters": parameters,
            "responses": {
                "200": {"description": "successful operation", "content": content},
                **_errors(),
            },
        }
    }


def _coverage(name: str, bands: list[str]) -> dict:
    parameters = [
        _f([GEOTIFF_FORMAT, "tif"], "GeoTIFF (the only encoding)"),
        _query(
            "bbox",
            "west,south,east,north in degrees (CRS84): the native cells that intersect it",
            {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
        ),
        _query(
            "bbox-crs",
            "the CRS of bbox (CRS84 only)",
            {"type": "string", "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]},
        ),
        _query(
            "subset",
            "x(low:high),y(low:high) in the grid's CRS (metres; x east, y north) or Lon(..),Lat(..)",
        ),
        _query(
            "properties",
            "bands to include (comma-separated)",
            {"type": "array", "items": {"type": "string", "enum": bands}},
        ),
    ]
    path = _get(
        f"The coverage of {name} as GeoTIFF (the stored COG when no parameter is given)",
        f"get{name.capitalize()}Coverage",
        name,
        parameters,
        {GEOTIFF: {"schema": BINARY}},
    )
    path["get"]["responses"]["206"] = {
        "description": "a byte range of the stored COG (Range requests)",
        "content": {GEOTIFF: {"schema": BINARY}},
    }
    return path


def _tile_paths(name: str, base: str) -> dict[str, dict]:
    tms = {"$ref": f"{TILES}#/components/parameters/tileMatrixSetId"}
    cells = [{"$ref": f"{TILES}#/components/parameters/{p}"} for p in ("tileMatrix", "tileRow", "tileCol")]
    json_only = [_f(["json"], "JSON")]
    return {
        base: _get(
            f"The map tilesets of {name}",
            f"get{name.capitalize()}.map.getTileSetsList",
            name,
            json_only,
            {"application/json": {"schema": JSON_OBJECT}},
        ),
        f"{base}/{{tileMatrixSetId}}": _get(
            f"The map tileset of {name} (OGC tileset metadata or TileJSON)",
            f"describe{name.capitalize()}.map.getTileSet",
            name,
            [tms, _f(["json", "tilejson"], "json: OGC tileset metadata; tilejson: TileJSON 3.0.0")],
            {"application/json": {"schema": JSON_OBJECT}},
        ),
        f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}": _get(
            f"A map tile of {name} (transparent where there is no data)",
            f"get{name.capitalize()}.map.getTile",
            name,
            [tms, *cells, _f(["png", "webp"], "png or webp (lossless)")],
            {"image/png": {"schema": BINARY}, "image/webp": {"schema": BINARY}},
        ),
    }


def add_raster_paths(document: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Add every raster collection's coverage, map tile, legend and schema paths (in place)."""
    paths = document["paths"]
    for name, resource in config["resources"].items():
        if not is_raster(resource):
            continue
        bands = list(resource["providers"][0]["options"]["fields"])
        base = f"/collections/{name}"
        paths[f"{base}/coverage"] = _coverage(name, bands)
        for kind in ("domainset", "rangetype"):
            paths[f"{base}/coverage/{kind}"] = _get(
                f"The coverage {kind} of {name} (CIS 1.1 JSON)",
                f"get{name.capitalize()}Coverage{kind.capitalize()}",
                name,
                [_f(["json"], "JSON")],
                {"application/json": {"schema": JSON_OBJECT}},
            )
        paths[f"{base}/legend"] = _get(
            f"The legend of {name}",
            f"get{name.capitalize()}Legend",
            name,
            [_f(["png", "json"], "png: the legend image; json: its rows")],
            {"image/png": {"schema": BINARY}, "application/json": {"schema": JSON_OBJECT}},
        )
        paths[f"{base}/schema"] = _get(
            f"The bands of {name} as a JSON schema",
            f"get{name.capitalize()}Schema",
            name,
            [_f(["json", "html"], "json or html")],
            {"application/schema+json": {"schema": JSON_OBJECT}, "text/html": {"schema": {"type": "string"}}},
        )
        paths.update(_tile_paths(name, f"{base}/map/tiles"))
    return document
