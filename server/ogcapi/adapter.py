"""A Starlette app over one ``pygeoapi.api.API`` object, made by a factory from a config.

pygeoapi's own ``starlette_app`` is a module-level singleton that reads one config from the
environment at import time, so it cannot serve two publications (public and staff) in one
process. This adapter calls the same framework-neutral functions of ``pygeoapi.api.*``.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pygeoapi.api import APIRequest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from server import caching
from server.errors import add_exception_handlers, unexpected
from server.ogcapi import downloads, patches
from server.ogcapi.build import ApiBuild
from server.ogcapi.geojson import REQUEST
from server.ogcapi.provider import RECORDS
from server.ogcapi.routes import ROUTES, STATIC_DIRS
from server.snapshot import Snapshots
from tsukuba_gis.errors import GisError
from tsukuba_gis.layerdef import Access

LOG = logging.getLogger(__name__)
INLINE_MAX_ITEMS = 1000  # a page of 1,000 buildings takes ~15 ms
# What else than the URL selects a representation: f= or Accept (HTML/JSON/CSV), the language.
VARY = "Accept, Accept-Language"


class Publication:
    """The pygeoapi API of one audience: the ``api`` of its current snapshot.

    Attributes:
        name: "public" or "internal".
        snapshots: the audience snapshots of the store (``server/snapshot.py``).
        in_process: the store's reads are CPU work in this process (GeoPackage).
    """

    def __init__(self, name: Access, snapshots: Snapshots):
        self.name, self.snapshots = name, snapshots
        self.in_process = snapshots.store.in_process

    def ready(self) -> ApiBuild | None:
        """The current build if the registry was checked within the last second (no I/O)."""
        snapshot = self.snapshots.ready(self.name)
        return snapshot.api if snapshot is not None else None

    def current(self) -> ApiBuild:
        """The current build; checks the registry at most once a second."""
        return self.snapshots.get(self.name).api

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
    publication: Publication, built: ApiBuild, request: Request, api_request: APIRequest
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
    built: ApiBuild,
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


def _download(built: ApiBuild, request: Request) -> tuple | None:
    """(function, args) of a filtered download (items of a feature collection as CSV/GPKG)."""
    chosen = request.query_params.get("f")
    resource = built.api.config["resources"].get(request.path_params.get("collection_id"), {})
    if chosen not in downloads.FORMATS or not request.url.path.endswith("/items"):
        return None
    if not any(p["type"] == "feature" for p in resource.get("providers", [])):
        return None
    return downloads.download, resource, request.path_params["collection_id"], request.query_params, chosen


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
        live = request.path_params.get("collection_id") in built.live
        control = caching.PUBLIC_LIVE if live else caching.PUBLIC
        cache = {**caching.headers(validators, publication.name == "public", control), "Vary": VARY}
        if caching.not_modified(request.headers, validators):
            return caching.not_modified_response(cache)
    if (download := _download(built, request)) is not None:
        return await run_in_threadpool(*download)
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
    config only, not on the data, so it is kept per build). Errors (a store outage, a bug) are
    answered by the app's one error table (``server/errors.py``)."""

    async def handle(request: Request) -> Response:
        try:
            return await _answer(publication, func, params, check_format, request, document)
        except GisError:
            raise
        except Exception as exc:  # a bug in pygeoapi or here: answer, log, keep the connection
            return unexpected(exc, request.url.path)

    return handle


def ogcapi_app(publication: Publication, schemas_dir=None, extensions: Sequence[BaseRoute] = ()) -> Starlette:
    """The OGC API of one publication, to mount at its URL prefix.

    ``extensions``: more routes of the same API, tried before the core ones (e.g. OGC API -
    Tiles, server/tiles), as titiler's factories take ``extensions``; the items routes of both
    are tried before any other.
    """
    patches.install()
    core = [
        # Items depend on the data; every other route on the generated config only.
        Route(
            path,
            handler(publication, func, params, check_format, "/items" not in path),
            methods=["GET", "HEAD"],
        )
        for path, func, params, check_format in ROUTES
    ]
    # Starlette tries routes in order: the items and the feature routes, the busiest, go first
    # (an extension's before the core's, so the staff side's feature GET with its ETag stays
    # the one answering; no other route's path overlaps theirs). 28 path tests less per
    # feature request, ~8 % of its CPU (bench/http_profile.py --scenario feature).
    ordered = [*extensions, *core]
    routes = sorted(ordered, key=lambda r: "/items" not in getattr(r, "path", ""))  # stable
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC_DIRS[0])))
    if schemas_dir is not None:
        routes.append(Mount("/schemas", app=StaticFiles(directory=schemas_dir)))
    app = Starlette(routes=routes)
    add_exception_handlers(app)
    app.router.redirect_slashes = False
    return app
