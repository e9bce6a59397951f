"""The tile routes of one publication, mounted inside its OGC API app (so staff tiles are behind
the /internal wall like the rest of the staff API).

Tiles are served as the stores keep them, gzip-compressed, with ``Content-Encoding: gzip`` when
the client accepts it (browsers, MapLibre, QGIS, GDAL all do); the rare client that does not
gets them decompressed. The app's GZipMiddleware leaves a response that already has a
Content-Encoding alone, so nothing is compressed twice.
"""

import gzip
from collections.abc import Callable
from datetime import datetime

import orjson
from pygeoapi.api import tiles as pygeoapi_tiles
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import caching
from server.errors import ogc_error
from server.ogcapi.adapter import Publication, handler
from server.tiles import documents
from server.tiles.service import TileService
from tsukuba_gis.tiles import grid
from tsukuba_gis.tiles.rules import TileSet

# Tiles may be kept longer than documents: a new layer version changes their URL's ETag, and
# server/caching.py (shared with the OGC API documents) answers the revalidation.
PUBLIC_CACHE = "public, max-age=600, stale-while-revalidate=86400"
NOT_FOUND = "Collection not found"  # pygeoapi's words: an internal id answers like an unknown one


def _json(document: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status_code=status, media_type="application/json")


def _format(request: Request, allowed: tuple[str, ...]) -> str | Response:
    value = request.query_params.get("f", allowed[0])
    if value not in allowed:
        return ogc_error(400, "InvalidParameterValue", f"f must be one of: {', '.join(allowed)}")
    return value


def _unknown_tms(request: Request) -> Response | None:
    """The 404 of a tile matrix set this server does not have (None when it is ours)."""
    if request.path_params.get("tms", grid.TMS_ID) != grid.TMS_ID:
        return ogc_error(404, "NotFound", f"no such tile matrix set (this server has {grid.TMS_ID})")
    return None


def _lookup(tiles: TileService, request: Request) -> TileSet | Response:
    tileset = tiles.tilesets().get(request.path_params["collection_id"])
    if tileset is None:
        return ogc_error(404, "NotFound", NOT_FOUND)
    return _unknown_tms(request) or tileset


def _validators(tileset: TileSet, z: int, x: int, y: int) -> caching.Validators:
    """A strong ETag (the bytes of a tile are fixed by its layer version and rules)."""
    spec = tileset.spec
    loaded = datetime.fromisoformat(tileset.record.loaded_at).timestamp()
    return caching.Validators(
        f'"{spec.layer_id}-{spec.version}-{spec.variant}-{spec.key}-{z}-{x}-{y}"', loaded
    )


def _headers(tiles: TileService, validators: caching.Validators) -> dict[str, str]:
    return {
        **caching.headers(validators, tiles.audience == "public", PUBLIC_CACHE),
        "Vary": "Accept-Encoding",
    }


def _find_tile(tiles: TileService, request: Request) -> tuple[TileSet, int, int, int] | Response:
    """The tile set and (z, x, y) of a tile request, or the error answer."""
    tileset = _lookup(tiles, request)
    if isinstance(tileset, Response):
        return tileset
    p = request.path_params
    z, x, y = grid.parse_tile(p["z"], p["y"], p["x"])
    spec = tileset.spec
    if not grid.inside(spec.bounds, spec.minzoom, spec.maxzoom, z, x, y):
        return ogc_error(
            404,
            "NotFound",
            f"the tile is outside this tileset's limits (zoom"
            f" {spec.minzoom}-{spec.maxzoom}, see tileMatrixSetLimits)",
        )
    return tileset, z, x, y


def _tile_answer(tiles: TileService, request: Request) -> Response:
    """One MVT (gzip when accepted), 204 when empty, 304 when the client has it."""
    found = _find_tile(tiles, request)
    if isinstance(found, Response):
        return found
    tileset, z, x, y = found
    validators = _validators(tileset, z, x, y)
    headers = _headers(tiles, validators)
    if caching.not_modified(request.headers, validators):  # If-None-Match or If-Modified-Since
        return caching.not_modified_response(headers)
    data = tiles.tile(tileset, z, x, y)  # TilesNotReady: 503 with Retry-After (server/errors.py)
    if not data:
        return Response(status_code=204, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
    else:
        data = gzip.decompress(data)
    return Response(data, media_type=documents.MVT, headers=headers)


def tile_endpoint(tiles: TileService) -> Callable:
    """``.../tiles/{tms}/{tileMatrix}/{tileRow}/{tileCol}``: one MVT (204 when empty)."""

    async def endpoint(request: Request) -> Response:
        bad = _format(request, ("mvt",))
        if isinstance(bad, Response):
            return bad
        # A pre-built MBTiles tile is a microsecond SQLite read: no thread hop. PostGIS may wait.
        if tiles.waits:
            return await run_in_threadpool(_tile_answer, tiles, request)
        return _tile_answer(tiles, request)

    return endpoint


def document_endpoint(tiles: TileService, base: str, kind: str) -> Callable:
    """The tilesets list, the tileset (or its TileJSON), as JSON."""

    def answer(request: Request) -> Response:
        tileset = _lookup(tiles, request)
        if isinstance(tileset, Response):
            return tileset
        if kind == "list":
            return _json(documents.tilesets_list(base, tileset))
        if kind == "tilejson" or request.query_params.get("f") == "tilejson":
            return _json(documents.tilejson(base, tileset))
        return _json(documents.tileset(base, tileset))

    async def endpoint(request: Request) -> Response:
        allowed = {"list": ("json",), "tileset": ("json", "tilejson"), "tilejson": ("json",)}
        bad = _format(request, allowed[kind])
        if isinstance(bad, Response):
            return bad
        return await run_in_threadpool(answer, request) if tiles.waits else answer(request)

    return endpoint


def matrix_sets_endpoint(base: str, one: bool) -> Callable:
    """``/tileMatrixSets`` and ``/tileMatrixSets/{tms}``."""

    async def endpoint(request: Request) -> Response:
        bad = _format(request, ("json",))
        if isinstance(bad, Response):
            return bad
        if not one:
            return _json(documents.tile_matrix_sets(base))
        return _unknown_tms(request) or _json(grid.tms_document())

    return endpoint


def _html_or(json_endpoint: Callable, html_endpoint: Callable, tiles: TileService | None = None) -> Callable:
    """``f=html``: pygeoapi's page, after our own 404s (an unknown collection or tile matrix
    set); any other format: our JSON endpoint."""

    async def endpoint(request: Request) -> Response:
        if request.query_params.get("f") == "html":
            if tiles is not None and "collection_id" in request.path_params:
                missing = await run_in_threadpool(_lookup, tiles, request)
                if isinstance(missing, Response):
                    return missing
            return _unknown_tms(request) or await html_endpoint(request)
        return await json_endpoint(request)

    return endpoint


def tile_routes(tiles: TileService, publication: Publication) -> list[Route]:
    """The tile routes, to put before the publication's other routes."""
    base = tiles.base_url
    methods = ["GET", "HEAD"]
    collection = "/collections/{collection_id}/tiles"
    # The HTML pages are pygeoapi's (the adapter's handler, as for every other page); they
    # depend on the config only, so they are kept per build like the other documents.
    tiles_page = handler(
        publication, pygeoapi_tiles.get_collection_tiles, ("collection_id",), True, document=True
    )
    tms_page = handler(publication, pygeoapi_tiles.tilematrixsets, (), True, document=True)
    one_tms_page = handler(publication, pygeoapi_tiles.tilematrixset, ("tms",), True, document=True)
    tileset_page = handler(
        publication,
        pygeoapi_tiles.get_collection_tiles_metadata,
        ("collection_id", "tms"),
        True,
        document=True,
    )
    routes = [
        Route("/tileMatrixSets", _html_or(matrix_sets_endpoint(base, False), tms_page), methods=methods),
        # pygeoapi's landing page links here with a capital T.
        Route("/TileMatrixSets", _html_or(matrix_sets_endpoint(base, False), tms_page), methods=methods),
        Route(
            "/tileMatrixSets/{tms}", _html_or(matrix_sets_endpoint(base, True), one_tms_page), methods=methods
        ),
        Route(
            collection, _html_or(document_endpoint(tiles, base, "list"), tiles_page, tiles), methods=methods
        ),
        Route(
            collection + "/{tms}",
            _html_or(document_endpoint(tiles, base, "tileset"), tileset_page, tiles),
            methods=methods,
        ),
        # pygeoapi's tiles page reads the metadata here (TileJSON, its default).
        Route(collection + "/{tms}/metadata", document_endpoint(tiles, base, "tilejson"), methods=methods),
        Route(collection + "/{tms}/{z}/{y}/{x}", tile_endpoint(tiles), methods=methods),
    ]
    return routes
