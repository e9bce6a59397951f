"""Tile paths pygeoapi's OpenAPI generator leaves out (it writes the tilesets list and the tile
path of each collection with a tile provider): the tile matrix sets and each tileset document.
References point at the official Tiles 1.0 document, which ``localize`` maps to the vendored copy.
"""

from typing import Any

from pygeoapi.openapi import OPENAPI_YAML

TILES = OPENAPI_YAML["oapit"]
FEATURES = OPENAPI_YAML["oapif-1"]


def _errors() -> dict[str, Any]:
    return {
        "400": {"$ref": f"{FEATURES}#/components/responses/InvalidParameter"},
        "404": {"$ref": f"{FEATURES}#/components/responses/NotFound"},
        "500": {"$ref": f"{FEATURES}#/components/responses/ServerError"},
    }


def _get(summary: str, operation: str, parameters: list, ok: str, tags: list[str]) -> dict:
    return {
        "get": {
            "summary": summary,
            "operationId": operation,
            "tags": tags,
            "parameters": parameters,
            "responses": {"200": {"$ref": f"{TILES}#/components/responses/{ok}"}, **_errors()},
        }
    }


def add_tile_paths(document: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Add the tile matrix set paths and every collection's tileset path (in place)."""
    tms = {"$ref": f"{TILES}#/components/parameters/tileMatrixSetId"}
    paths = document["paths"]
    paths["/tileMatrixSets"] = _get(
        "The tile matrix sets of this server", "getTileMatrixSetsList", [], "TileMatrixSetsList", ["server"]
    )
    paths["/tileMatrixSets/{tileMatrixSetId}"] = _get(
        "A tile matrix set definition", "getTileMatrixSet", [tms], "TileMatrixSet", ["server"]
    )
    fmt = {
        "name": "f",
        "in": "query",
        "required": False,
        "style": "form",
        "explode": False,
        "description": "json: OGC tileset metadata; tilejson: TileJSON 3.0.0",
        "schema": {"type": "string", "enum": ["json", "tilejson"], "default": "json"},
    }
    for name, resource in config["resources"].items():
        if not any(p.get("type") == "tile" for p in resource.get("providers", [])):
            continue
        base = f"/collections/{name}/tiles"
        paths[f"{base}/{{tileMatrixSetId}}"] = _get(
            f"The vector tileset of {name} (OGC tileset metadata or TileJSON)",
            f"describe{name.capitalize()}.collection.vector.getTileSet",
            [tms, fmt],
            "TileSet",
            [name],
        )
        tile = paths.get(f"{base}/{{tileMatrixSetId}}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}")
        if tile is not None:  # pygeoapi's: add the empty-tile answer
            tile["get"]["responses"]["204"] = {"$ref": f"{TILES}#/components/responses/EmptyTile"}
    return document
