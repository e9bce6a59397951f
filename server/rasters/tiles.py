"""OGC API - Tiles map tiles of the raster collections, where the Tiles standard puts map tiles:

    /collections/{id}/map/tiles                                  tilesets list
    /collections/{id}/map/tiles/WebMercatorQuad                  tileset (f=json) or TileJSON
    /collections/{id}/map/tiles/WebMercatorQuad/{z}/{y}/{x}      PNG (f=png, default) or WebP

GDAL's OGCAPI driver and QGIS find them from the collection's ``tilesets-map`` link; Leaflet
and MapLibre take the TileJSON's template. A tile inside the limits without data is a
transparent image (not an error a map would log); outside the limits a 404.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import caching
from server.rasters.published import PublishedRaster
from server.rasters.render import FORMATS
from server.rasters.service import RasterService
from server.tiles.documents import REL, tileset_head_links
from tsukuba_gis.errors import BadRequest, NotFound
from tsukuba_gis.tiles import grid

PUBLIC_CACHE = "public, max-age=600, stale-while-revalidate=86400"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _format(request: Request, allowed: tuple[str, ...]) -> str:
    value = request.query_params.get("f", allowed[0])
    if value not in allowed:
        raise BadRequest(f"f must be one of: {', '.join(allowed)}")
    return value


def _tms(request: Request) -> None:
    if request.path_params.get("tms", grid.TMS_ID) != grid.TMS_ID:
        raise NotFound(f"no such tile matrix set (this server has {grid.TMS_ID})")


def tileset_url(base: str, layer_id: str) -> str:
    """The map tileset metadata URL of a raster collection."""
    return f"{base}/collections/{layer_id}/map/tiles/{grid.TMS_ID}"


def _links(base: str, raster: PublishedRaster) -> list[dict[str, Any]]:
    url = tileset_url(base, raster.id)
    template = f"{url}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"
    return [
        *tileset_head_links(base, url),
        {"rel": "item", "type": "image/png", "title": "PNG map tiles", "templated": True, "href": template},
        {
            "rel": "item",
            "type": "image/webp",
            "title": "WebP map tiles (lossless)",
            "templated": True,
            "href": f"{template}?f=webp",
        },
        {
            "rel": f"{REL}/geodata",
            "type": "application/json",
            "title": "The collection",
            "href": f"{base}/collections/{raster.id}",
        },
    ]


def tileset_document(base: str, raster: PublishedRaster) -> dict[str, Any]:
    """The tileset metadata (OGC API - Tiles, dataType map)."""
    layer = raster.definition
    west, south, east, north = raster.record.bbox
    return {
        "title": layer.title.ja,
        "description": layer.description.ja,
        "dataType": "map",
        "crs": grid.CRS_URI,
        "tileMatrixSetURI": grid.TMS_URI,
        "tileMatrixSetLimits": grid.limits(raster.record.bbox, raster.minzoom, raster.maxzoom),
        "boundingBox": {"lowerLeft": [west, south], "upperRight": [east, north], "crs": CRS84},
        "centerPoint": {
            "coordinates": [(west + east) / 2, (south + north) / 2],
            "tileMatrix": str(raster.minzoom),
            "crs": CRS84,
        },
        "attribution": layer.license.attribution.ja,
        "license": layer.license.id,
        "links": _links(base, raster),
    }


def tilejson_document(base: str, raster: PublishedRaster) -> dict[str, Any]:
    """TileJSON 3.0.0 of the PNG map tiles (Leaflet, MapLibre, QGIS read it)."""
    layer = raster.definition
    west, south, east, north = raster.record.bbox
    return {
        "tilejson": "3.0.0",
        "name": layer.title.ja,
        "description": layer.title.en,
        "attribution": layer.license.attribution.ja,
        "version": f"{raster.record.version}.0.0",
        "scheme": "xyz",
        "tiles": [f"{tileset_url(base, raster.id)}/{{z}}/{{y}}/{{x}}"],
        "minzoom": raster.minzoom,
        "maxzoom": raster.maxzoom,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, raster.minzoom],
    }


def tilesets_list(base: str, raster: PublishedRaster) -> dict[str, Any]:
    """``/collections/{id}/map/tiles``: the one map tileset of the collection."""
    url = f"{base}/collections/{raster.id}/map/tiles"
    return {
        "links": [{"rel": "self", "type": "application/json", "title": "This document", "href": url}],
        "tilesets": [
            {
                "title": raster.definition.title.ja,
                "dataType": "map",
                "crs": grid.CRS_URI,
                "tileMatrixSetURI": grid.TMS_URI,
                "links": _links(base, raster),
            }
        ],
    }


def _json(document: dict) -> Response:
    return Response(orjson.dumps(document), media_type="application/json")


def _validators(raster: PublishedRaster, fmt: str, z: int, x: int, y: int) -> caching.Validators:
    loaded = datetime.fromisoformat(raster.record.loaded_at).timestamp()
    return caching.Validators(f'"{raster.id}-{raster.key}-{fmt}-{z}-{x}-{y}"', loaded)


def _tile_answer(service: RasterService, request: Request, render: bool) -> Response | None:
    """The tile's answer; None when it must be rendered first and ``render`` is False."""
    fmt = _format(request, tuple(FORMATS))
    _tms(request)
    raster = service.raster(request.path_params["collection_id"])
    p = request.path_params
    z, x, y = grid.parse_tile(p["z"], p["y"], p["x"])
    if not grid.inside(raster.record.bbox, raster.minzoom, raster.maxzoom, z, x, y):
        raise NotFound(
            f"the tile is outside this tileset's limits (zoom {raster.minzoom}-{raster.maxzoom},"
            " see tileMatrixSetLimits)"
        )
    validators = _validators(raster, fmt, z, x, y)
    headers = caching.headers(validators, service.public, PUBLIC_CACHE)
    if caching.not_modified(request.headers, validators):
        return caching.not_modified_response(headers)
    data = service.tile(raster, fmt, z, x, y) if render else service.kept_tile(raster, fmt, z, x, y)
    if data is None:
        return None
    return Response(data, media_type=FORMATS[fmt], headers=headers)


def tile_endpoint(service: RasterService) -> Callable:
    """One map tile: a kept one on the event loop, a new one rendered in a render thread."""

    async def endpoint(request: Request) -> Response:
        answer = _tile_answer(service, request, render=False)
        if answer is None:
            answer = await service.run(_tile_answer, service, request, True)
        return answer

    return endpoint


def document_endpoint(service: RasterService, kind: str) -> Callable:
    """The tilesets list, or the tileset as OGC JSON or TileJSON."""

    async def endpoint(request: Request) -> Response:
        allowed = ("json",) if kind == "list" else ("json", "tilejson")
        fmt = _format(request, allowed)
        _tms(request)
        raster = service.raster(request.path_params["collection_id"])
        base = service.base_url
        if kind == "list":
            return _json(tilesets_list(base, raster))
        return _json(tilejson_document(base, raster) if fmt == "tilejson" else tileset_document(base, raster))

    return endpoint


def map_tile_routes(service: RasterService) -> list[Route]:
    """The map tile routes of the raster collections."""
    base = "/collections/{collection_id}/map/tiles"
    methods = ["GET", "HEAD"]
    return [
        Route(base, document_endpoint(service, "list"), methods=methods),
        Route(base + "/{tms}", document_endpoint(service, "tileset"), methods=methods),
        Route(base + "/{tms}/{z}/{y}/{x}", tile_endpoint(service), methods=methods),
    ]
