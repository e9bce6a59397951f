"""A Starlette app over one ``pygeoapi.api.API`` object, made by a factory from a config.

pygeoapi's own ``starlette_app`` is a module-level singleton that reads one config from the
environment at import time, so it cannot serve two publications (public and staff) in one
process. This adapter calls the same framework-neutral functions of ``pygeoapi.api.*``.
"""

import logging
import threading
import time
from collections.abc import Callable
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
from server.ogcapi.provider import RECORDS, REQUEST
from server.ogcapi.routes import ROUTES, STATIC_DIRS
from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import LayerRecord

LOG = logging.getLogger(__name__)
RELOAD_CHECK_S = 1.0
MAX_DOCUMENTS = 256
INLINE_MAX_ITEMS = 1000  # a page of 1,000 buildings takes ~15 ms
# What else than the URL selects a representation: f= or Accept (HTML/JSON/CSV), the language.
VARY = "Accept, Accept-Language"


def ogc_error(status: int, code: str, description: str) -> JSONResponse:
    """An OGC API exception body (``code``/``description``), as pygeoapi writes them."""
    return JSONResponse({"code": code, "type": code, "description": description}, status_code=status)


class Publication:
    """The pygeoapi API of one audience, rebuilt when the store registry changes.

    Attributes:
        name: "public" or "internal".
        build: makes (config, openapi document) from the current layers and registry.
        generation: reads the registry change counter.
        layers: reads the current layer records (for HTTP validators).
        in_process: the store's reads are CPU work in this process (GeoPackage).
        records: layer id -> record, as of the last build.
    """

    def __init__(self, name: str, build: Callable[[], tuple[dict, dict]],
                 generation: Callable[[], int],
                 layers: Callable[[], list[LayerRecord]] | None = None, in_process: bool = False):
        self.name, self.build, self.generation = name, build, generation
        self.layers, self.in_process = layers, in_process
        self.records: dict[str, LayerRecord] = {}
        self._lock = threading.Lock()
        self._api: API | None = None
        self._built_for = -1
        self._checked_at = 0.0
        self._documents: dict[tuple, tuple] = {}

    def ready(self) -> API | None:
        """The API object if it was checked within the last second (no lock, no thread hop)."""
        if self._api is not None and time.monotonic() - self._checked_at < RELOAD_CHECK_S:
            return self._api
        return None

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
        return not request.url.path.endswith("/items") or limit is None or (
            limit.isdigit() and int(limit) <= INLINE_MAX_ITEMS)

    def document(self, key: tuple) -> tuple | None:
        """A kept answer of a document route (landing page, collections, OpenAPI, ...)."""
        return self._documents.get(key)

    def keep_document(self, api: API, key: tuple, answer: tuple) -> None:
        """Keep an answer made by ``api`` while it is still the current API object.

        These documents depend only on the generated config, which changes only with the API
        object, so they are made once per build and language/format, not once per request
        (/collections: 3,980 -> over 5,000 req/s on 2 workers).
        """
        if api is self._api:
            if len(self._documents) >= MAX_DOCUMENTS:
                self._documents.clear()  # bounded: odd query strings cannot fill the memory
            self._documents[key] = answer

    def api(self) -> API:
        """The current API object; checks the registry at most once a second."""
        now = time.monotonic()
        if self._api is not None and now - self._checked_at < RELOAD_CHECK_S:
            return self._api
        with self._lock:
            self._checked_at = now
            generation = self.generation()
            if self._api is None or generation != self._built_for:
                config, openapi = self.build()
                self.records = {r.layer_id: r for r in self.layers()} if self.layers else {}
                self._api = API(config, openapi)
                self._documents = {}
                self._built_for = generation
                LOG.info("%s OGC API built for registry generation %s (%d collections)",
                         self.name, generation, len(config["resources"]))
        return self._api


def _to_response(headers: dict[str, str], status: int, content: Any) -> Response:
    if isinstance(content, str):
        content = content.encode("utf-8")
    response = Response(content, status_code=status)
    response.headers.update({k: str(v) for k, v in headers.items()})
    return response


def _validators(publication: Publication, request: Request, api_request: APIRequest
                ) -> caching.Validators | None:
    """From the versions of the layer a route shows (every layer for the others)."""
    layer = request.path_params.get("collection_id")
    records = publication.records
    shown = [records[layer]] if layer in records else list(records.values())
    if not shown:
        return None
    chosen = request.query_params.get("f") or request.headers.get("accept", "")
    return caching.layer_validators(shown, publication.name, chosen, str(api_request.locale))


def _document_key(request: Request) -> tuple:
    headers = request.headers
    return (request.url.path, request.url.query, headers.get("accept", ""),
            headers.get("accept-language", ""))


async def _run(publication: Publication, api: API, func: Callable, api_request: APIRequest,
               request: Request, args: list, document: bool) -> tuple:
    """pygeoapi's answer (headers, status, content): kept, on the event loop, or in a thread."""
    key = _document_key(request) if document else None
    if key is not None and (kept := publication.document(key)) is not None:
        return kept
    REQUEST.set(api_request)  # both copied into the worker thread with the context
    RECORDS.set(publication.records)
    if publication.answers_inline(request):
        answer = func(api, api_request, *args)
    else:
        answer = await run_in_threadpool(func, api, api_request, *args)
    if key is not None and answer[1] == 200:
        publication.keep_document(api, key, answer)
    return answer


async def _answer(publication: Publication, func: Callable, params: tuple[str, ...],
                  check_format: bool, request: Request, document: bool) -> Response:
    api = publication.ready() or await run_in_threadpool(publication.api)
    api_request = await APIRequest.from_starlette(request, api.locales)
    validators = _validators(publication, request, api_request)
    cache = {}
    if validators is not None:
        cache = {**caching.headers(validators, publication.name == "public"), "Vary": VARY}
        if caching.not_modified(request.headers, validators):
            return caching.not_modified_response(cache)
    if check_format and not api_request.is_valid():
        headers, status, content = api.get_format_exception(api_request)
    else:
        args = [request.path_params[p] for p in params]
        headers, status, content = await _run(publication, api, func, api_request, request, args,
                                              document)
    response = _to_response(headers, status, content)
    if status == 200:
        response.headers.update(cache)
    return response


def _handler(publication: Publication, path: str, func: Callable, params: tuple[str, ...],
             check_format: bool):
    document = "/items" not in path  # answers that depend on the config only, not on the data

    async def handle(request: Request) -> Response:
        try:
            return await _answer(publication, func, params, check_format, request, document)
        except ClientDisconnect:  # the client left before sending its body: nobody to answer
            return Response(status_code=400)
        except StoreError as err:  # the database is down: say so; clients and proxies retry
            LOG.warning("OGC API %s: store unavailable on %s: %s", publication.name,
                        request.url.path, err)
            response = ogc_error(503, "ServiceUnavailable",
                                 "the data store is not available; try again shortly")
            response.headers["Retry-After"] = "5"
            return response
        except Exception:  # a bug in pygeoapi or here: answer, log, never drop the connection
            LOG.exception("OGC API %s failed on %s", publication.name, request.url.path)
            return ogc_error(500, "NoApplicableCode", "internal server error")

    return handle


async def http_error(request: Request, exc: HTTPException) -> Response:
    """404/405 and other HTTP errors as OGC API exception bodies."""
    codes = {404: "NotFound", 405: "InvalidOperation"}
    return ogc_error(exc.status_code, codes.get(exc.status_code, "InvalidParameterValue"),
                     "no such resource" if exc.status_code == 404 else str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    LOG.exception("unexpected error on %s", request.url.path)
    return ogc_error(500, "NoApplicableCode", "internal server error")


def ogcapi_app(publication: Publication, schemas_dir=None) -> Starlette:
    """The OGC API of one publication, to mount at its URL prefix."""
    patches.install()
    routes = [
        Route(path, _handler(publication, path, func, params, check_format),
              methods=["GET", "HEAD"])
        for path, func, params, check_format in ROUTES
    ]
    tiles = getattr(publication, "tiles", None)
    if tiles is not None:  # OGC API - Tiles (server/tiles), same app: same wall, same mount
        from server.tiles.routes import tile_routes

        routes = tile_routes(tiles, publication) + routes
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC_DIRS[0])))
    if schemas_dir is not None:
        routes.append(Mount("/schemas", app=StaticFiles(directory=schemas_dir)))
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error,
                                                      Exception: _server_error})
    app.router.redirect_slashes = False
    return app
