"""The tile documents: OGC API - Tiles tilesets list and tileset, TileJSON 3.0, TMS list.

Links are absolute and right behind the publication's mount (``base`` is ``.../api`` or
``.../internal/api``), as pygeoapi writes the other documents' links.
"""

from typing import Any

from tsukuba_gis.tiles import grid
from tsukuba_gis.tiles.rules import TileSet

MVT = "application/vnd.mapbox-vector-tile"
TILEJSON_TYPE = "application/vnd.mapbox.tile+json"
REL = "http://www.opengis.net/def/rel/ogc/1.0"
JSON_TYPES = {
    "string": "String",
    "integer": "Number",
    "number": "Number",
    "boolean": "Boolean",
    "date": "String",
}
SCHEMA_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "string",
}
GEOMETRY_DIMENSION = {"point": 0, "line": 1, "polygon": 2}


def tileset_url(base: str, layer_id: str) -> str:
    """The tileset metadata URL of a collection."""
    return f"{base}/collections/{layer_id}/tiles/{grid.TMS_ID}"


def tile_template(base: str, layer_id: str) -> str:
    """The OGC tile URL template of a collection."""
    return f"{tileset_url(base, layer_id)}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"


def tileset_head_links(base: str, url: str) -> list[dict[str, Any]]:
    """The first links of a tileset document at ``url`` (vector or map tiles): itself, its
    TileJSON, its tiling scheme."""
    return [
        {"rel": "self", "type": "application/json", "title": "This tileset (JSON)", "href": url},
        {"rel": "alternate", "type": TILEJSON_TYPE, "title": "TileJSON 3.0.0", "href": f"{url}?f=tilejson"},
        {
            "rel": f"{REL}/tiling-scheme",
            "type": "application/json",
            "title": grid.TMS_ID,
            "href": f"{base}/tileMatrixSets/{grid.TMS_ID}",
        },
    ]


def _tileset_links(base: str, layer_id: str) -> list[dict[str, Any]]:
    return [
        *tileset_head_links(base, tileset_url(base, layer_id)),
        {
            "rel": f"{REL}/styles",
            "type": "application/json",
            "title": "スタイル / Styles (MapLibre, SLD 1.0, QGIS QML)",
            "href": f"{base}/collections/{layer_id}/styles",
        },
        {
            "rel": "describedby",
            "type": "application/vnd.mapbox.style+json",
            "title": "MapLibre / Mapbox GL style",
            "href": f"{base}/collections/{layer_id}/styles/default?f=mapbox",
        },
        {
            "rel": "item",
            "type": MVT,
            "title": "Mapbox vector tiles",
            "templated": True,
            "href": tile_template(base, layer_id),
        },
        {
            "rel": f"{REL}/geodata",
            "type": "application/json",
            "title": "The collection",
            "href": f"{base}/collections/{layer_id}",
        },
    ]


def tilesets_list(base: str, tileset: TileSet) -> dict[str, Any]:
    """``/collections/{id}/tiles``: the one tileset of the collection."""
    layer_id = tileset.spec.layer_id
    url = f"{base}/collections/{layer_id}/tiles"
    entry = {
        "title": tileset.layer.title.ja,
        "dataType": "vector",
        "crs": grid.CRS_URI,
        "tileMatrixSetURI": grid.TMS_URI,
        "links": _tileset_links(base, layer_id),
    }
    return {
        "links": [
            {"rel": "self", "type": "application/json", "title": "This document", "href": f"{url}?f=json"},
            {
                "rel": "alternate",
                "type": "text/html",
                "title": "This document as HTML",
                "href": f"{url}?f=html",
            },
        ],
        "tilesets": [entry],
    }


def tileset(base: str, tileset: TileSet) -> dict[str, Any]:
    """``/collections/{id}/tiles/WebMercatorQuad``: OGC API - Tiles tileset metadata."""
    spec, layer = tileset.spec, tileset.layer
    west, south, east, north = spec.bounds
    properties = {
        name: {"type": SCHEMA_TYPES[kind], "title": _label(layer, name)} for name, kind in spec.fields
    }
    return {
        "title": layer.title.ja,
        "description": layer.description.ja,
        "dataType": "vector",
        "crs": grid.CRS_URI,
        "tileMatrixSetURI": grid.TMS_URI,
        "tileMatrixSetLimits": grid.limits(spec.bounds, spec.minzoom, spec.maxzoom),
        "boundingBox": {
            "lowerLeft": [west, south],
            "upperRight": [east, north],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "centerPoint": {
            "coordinates": [(west + east) / 2, (south + north) / 2],
            "tileMatrix": str(spec.minzoom),
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "attribution": layer.license.attribution.ja,
        "license": layer.license.id,
        "layers": [
            {
                "id": spec.layer_id,
                "title": layer.title.ja,
                "dataType": "vector",
                "geometryDimension": GEOMETRY_DIMENSION[spec.geometry],
                "minTileMatrix": str(spec.minzoom),
                "maxTileMatrix": str(spec.maxzoom),
                "propertiesSchema": {"type": "object", "required": [spec.id_field], "properties": properties},
            }
        ],
        "style": {
            "id": "default",
            "title": f"{layer.title.ja} / {layer.title.en}",
            "links": [
                {
                    "rel": "stylesheet",
                    "type": "application/vnd.mapbox.style+json",
                    "href": f"{base}/collections/{spec.layer_id}/styles/default?f=mapbox",
                }
            ],
        },
        "links": _tileset_links(base, spec.layer_id),
    }


def tilejson(base: str, tileset: TileSet) -> dict[str, Any]:
    """TileJSON 3.0.0 of a collection's tiles (MapLibre, QGIS, Leaflet plugins read it)."""
    spec, layer = tileset.spec, tileset.layer
    west, south, east, north = spec.bounds
    template = (
        tile_template(base, spec.layer_id)
        .replace("{tileMatrix}", "{z}")
        .replace("{tileRow}", "{y}")
        .replace("{tileCol}", "{x}")
    )
    return {
        "tilejson": "3.0.0",
        "name": layer.title.ja,
        "description": (
            f"{layer.title.en}. Tiles exist for zoom {spec.minzoom} to"
            f" {spec.maxzoom}; above {spec.maxzoom} clients overzoom the"
            f" zoom-{spec.maxzoom} tiles."
        ),
        "attribution": layer.license.attribution.ja,
        "version": f"{spec.version}.0.0",
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": spec.minzoom,
        "maxzoom": spec.maxzoom,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, spec.minzoom],
        "vector_layers": [
            {
                "id": spec.layer_id,
                "description": layer.title.en,
                "minzoom": spec.minzoom,
                "maxzoom": spec.maxzoom,
                "fields": {n: JSON_TYPES[k] for n, k in spec.fields},
                # Which attribute is the OGC API feature id (/items/{id}).
                "id_field": spec.id_field,
            }
        ],
    }


def tile_matrix_sets(base: str) -> dict[str, Any]:
    """``/tileMatrixSets``: the tile matrix sets this server tiles in (one)."""
    url = f"{base}/tileMatrixSets"
    return {
        "links": [{"rel": "self", "type": "application/json", "title": "This document", "href": url}],
        "tileMatrixSets": [
            {
                "id": grid.TMS_ID,
                "title": grid.TMS.title,
                "uri": grid.TMS_URI,
                "crs": grid.CRS_URI,
                "links": [
                    {
                        "rel": "self",
                        "type": "application/json",
                        "title": grid.TMS_ID,
                        "href": f"{url}/{grid.TMS_ID}",
                    }
                ],
            }
        ],
    }


def _label(layer, name: str) -> str:
    if name == "fid":
        return "地物番号 / Feature number"
    field = next((f for f in layer.fields if f.name == name), None)
    return f"{field.label.ja} / {field.label.en}" if field else name
