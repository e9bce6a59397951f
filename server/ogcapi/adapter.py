"""A Starlette app over one ``pygeoapi.api.API`` object, made by a factory from a config.

pygeoapi's own ``starlette_app`` is a module-level singleton that reads one config from the
environment at import time, so it cannot serve two publications (public and staff) in one
process. This adapter calls the same framework-neutral functions of ``pygeoapi.api.*``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pygeoapi.api import API, APIRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server import caching
from server.ogcapi import patches
from server.ogcapi.provider import RECORDS, REQUEST, StoreUnavailable
from server.ogcapi.routes import ROUTES, STATIC_DIRS
from server.refresh import Refreshed
from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import LayerRecord

LOG = logging.getLogger(__name__)
MAX_DOCUMENTS = 256
INLINE_MAX_ITEMS = 1000  # a page of 1,000 buildings takes ~15 ms
# What else than the URL selects a representation: f= or Accept (HTML/JSON/CSV), the language.
VARY = "Accept, Accept-Language"


def ogc_error(status: int, code: str, description: str) -> JSONResponse:
    """An OGC API exception body (``code``/``description``), as pygeoapi writes them."""
    return JSONResponse({"code": code, "type": code, "description": description}, status_code=status)


@dataclass
class Build:
    """One publication as of one registry generation.

    Attributes:
        api: the pygeoapi API object made from the generated config.
        records: layer id -> the layer record the config was made from (HTTP validators,
            providers).
        documents: answers of the document routes made by this ``api`` (they depend on the
            config only, so they are made once per build, language and format, and dropped
            with the build).
    """

    api: API
    records: dict[str, LayerRecord]
    documents: dict[tuple, tuple] = field(default_factory=dict)

    def keep(self, key: tuple, answer: tuple) -> None:
        """Keep a document answer (/collections: 3,980 -> 8,907 req/s on 2 workers)."""
        if len(self.documents) >= MAX_DOCUMENTS:
            self.documents.clear()  # bounded: odd query strings cannot fill the memory
        self.documents[key] = answer


class Publication:
    """The pygeoapi API of one audience, rebuilt when the store registry changes.

    Attributes:
        name: "public" or "internal".
        build: makes (config, openapi document, layer records) from the layers and registry.
        in_process: the store's reads are CPU work in this process (GeoPackage).
        tiles: the publication's OGC API - Tiles service (server/tiles), if any.
    """

    def __init__(
        self,
        name: str,
        build: Callable[[], tuple[dict, dict, list[LayerRecord]]],
        generation: Callable[[], int],
        in_process: bool = False,
        tiles: Any = None,
    ):
        self.name, self.build, self.in_process, self.tiles = name, build, in_process, tiles
        self._current = Refreshed(self._make, generation)

    def _make(self) -> Build:
        config, openapi, records = self.build()
        LOG.info("%s OGC API built (%d collections)", self.name, len(config["resources"]))
        return Build(API(config, openapi), {r.layer_id: r for r in records})

    def ready(self) -> Build | None:
        """The current build if the registry was checked within the last second (no I/O)."""
        return self._current.fresh()

    def current(self) -> Build:
        """The current build; checks the registry at most once a second."""
        return self._current.get()

    def answers_inline(self, request: Request) -> bool:
        """Small requests on an in-process store are answered on the event loop.

        A worker thread only helps while a request waits (on PostgreSQL, say). A GeoPackage read
        never waits: in a thread it competes for the GIL with the event loop, and each hand-off
        can cost the interpreter's 5 ms switch interval (one feature: 1,160 -> 1,430 req/s on
        one worker, pages of 100: 257 -> 371). Pages over INLINE_MAX_ITEMS still go to a thread
        so that one large download does not hold up every other request of the worker.
        """
        if not self.in_process:
            return False
        limit = request.query_params.get("limit")  # none: the default page (100)
        return (
            not request.url.path.endswith("/items")
            or limit is None
            # ASCII digits only, and short: int() of "²" or of 5,000 digits raises (pygeoapi
            # answers such a limit with a 400 of its own).
            or (limit.isascii() and limit.isdigit() and len(limit) <= 6 and int(limit) <= INLINE_MAX_ITEMS)
        )


def _to_response(headers: dict[str, str], status: int, content: Any) -> Response:
    if isinstance(content, str):
        content = content.encode("utf-8")
    response = Response(content, status_code=status)
    response.headers.update({k: str(v) for k, v in headers.items()})
    return response


def _validators(
    publication: Publication, built: Build, request: Request, api_request: APIRequest
) -> caching.Validators | None:
    """From the versions of the layer a route shows (every layer for the others)."""
    layer = request.path_params.get("collection_id")
    records = built.records
    shown = [records[layer]] if layer in records else list(records.values())
    if not shown:
        return None
    chosen = request.query_params.get("f") or request.headers.get("accept", "")
    return caching.layer_validators(shown, publication.name, chosen, str(api_request.locale))


def _document_key(request: Request) -> tuple:
    headers = request.headers
    return (
        request.url.path,
        request.url.query,
        headers.get("accept", ""),
        headers.get("accept-language", ""),
    )


async def _run(
    publication: Publication,
    built: Build,
    func: Callable,
    api_request: APIRequest,
    request: Request,
    args: list,
    document: bool,
) -> tuple:
    """pygeoapi's answer (headers, status, content): kept, on the event loop, or in a thread."""
    key = _document_key(request) if document else None
    if key is not None and (kept := built.documents.get(key)) is not None:
        return kept
    REQUEST.set(api_request)  # both copied into the worker thread with the context
    RECORDS.set(built.records)
    if publication.answers_inline(request):
        answer = func(built.api, api_request, *args)
    else:
        answer = await run_in_threadpool(func, built.api, api_request, *args)
    if key is not None and answer[1] == 200:
        built.keep(key, answer)
    return answer


async def _answer(
    publication: Publication,
    func: Callable,
    params: tuple[str, ...],
    check_format: bool,
    request: Request,
    document: bool,
) -> Response:
    built = publication.ready() or await run_in_threadpool(publication.current)
    api_request = await APIRequest.from_starlette(request, built.api.locales)
    validators = _validators(publication, built, request, api_request)
    cache = {}
    if validators is not None:
        cache = {**caching.headers(validators, publication.name == "public"), "Vary": VARY}
        if caching.not_modified(request.headers, validators):
            return caching.not_modified_response(cache)
    if check_format and not api_request.is_valid():
        headers, status, content = built.api.get_format_exception(api_request)
    else:
        args = [request.path_params[p] for p in params]
        headers, status, content = await _run(publication, built, func, api_request, request, args, document)
    response = _to_response(headers, status, content)
    if status == 200:
        response.headers.update(cache)
    return response


def handler(
    publication: Publication, func: Callable, params: tuple[str, ...], check_format: bool, document: bool
):
    """The route endpoint for one pygeoapi function (``document``: its answer depends on the
    config only, not on the data, so it is kept per build)."""

    async def handle(request: Request) -> Response:
        try:
            return await _answer(publication, func, params, check_format, request, document)
        except ClientDisconnect:  # the client left before sending its body: nobody to answer
            return Response(status_code=400)
        except StoreError as err:  # the database is down: say so; clients and proxies retry
            LOG.warning("OGC API %s: store unavailable on %s: %s", publication.name, request.url.path, err)
            response = ogc_error(503, StoreUnavailable.ogc_exception_code, StoreUnavailable.default_msg)
            response.headers["Retry-After"] = "5"
            return response
        except Exception:  # a bug in pygeoapi or here: answer, log, never drop the connection
            LOG.exception("OGC API %s failed on %s", publication.name, request.url.path)
            return ogc_error(500, "NoApplicableCode", "internal server error")

    return handle


async def http_error(request: Request, exc: HTTPException) -> Response:
    """404/405 and other HTTP errors as OGC API exception bodies."""
    codes = {404: "NotFound", 405: "InvalidOperation"}
    return ogc_error(
        exc.status_code,
        codes.get(exc.status_code, "InvalidParameterValue"),
        "no such resource" if exc.status_code == 404 else str(exc.detail),
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    LOG.exception("unexpected error on %s", request.url.path)
    return ogc_error(500, "NoApplicableCode", "internal server error")


def ogcapi_app(publication: Publication, schemas_dir=None) -> Starlette:
    """The OGC API of one publication, to mount at its URL prefix."""
    patches.install()
    routes = [
        # Items depend on the data; every other route on the generated config only.
        Route(
            path,
            handler(publication, func, params, check_format, "/items" not in path),
            methods=["GET", "HEAD"],
        )
        for path, func, params, check_format in ROUTES
    ]
    if publication.tiles is not None:  # OGC API - Tiles (server/tiles): same wall, same mount
        from server.tiles.routes import tile_routes

        routes = tile_routes(publication.tiles, publication) + routes
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC_DIRS[0])))
    if schemas_dir is not None:
        routes.append(Mount("/schemas", app=StaticFiles(directory=schemas_dir)))
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: _server_error})
    app.router.redirect_slashes = False
    return app
