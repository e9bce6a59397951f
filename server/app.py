"""The application factory: one FastAPI app with the OGC API, health, viewer and its assets."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server import health, live, search, viewer
from server.auth.settings import AuthSettings
from server.auth.staff import mount as mount_staff
from server.cors import PublicCORS
from server.errors import add_exception_handlers
from server.feeds.routes import feed_routes
from server.metrics import RequestMetrics, metrics_route, time_store
from server.notify.routes import subscription_routes
from server.notify.settings import NotifySettings
from server.ogcapi.adapter import Publication, ogcapi_app
from server.ogcapi.openapi_local import SCHEMAS_DIR
from server.ogcapi.transactions import transaction_routes
from server.opendata.routes import router as opendata_router
from server.rasters.routes import raster_routes
from server.report.routes import point_endpoint
from server.reports import ReportService
from server.reports.settings import ReportSettings
from server.security import add_security
from server.snapshot import AUDIENCES, PREFIXES, Snapshots
from server.styles.routes import style_routes
from server.tiles.routes import tile_routes
from server.tiles.service import TileService
from tsukuba_gis import __version__
from tsukuba_gis.errors import GisError
from tsukuba_gis.layerdef import Access
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store

LOG = logging.getLogger(__name__)


class MountRoots:
    """Serve ``/api`` like ``/api/`` (an OGC landing page URL is given without the slash)."""

    def __init__(self, app: ASGIApp, roots: tuple[str, ...]):
        self.app, self.roots = app, roots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Append the slash to a bare root path, pass everything else through."""
        if scope["type"] == "http" and scope["path"] in self.roots:
            scope = {**scope, "path": scope["path"] + "/", "raw_path": (scope["path"] + "/").encode()}
        await self.app(scope, receive, send)


def ogc_api(snapshots: Snapshots, audience: Access) -> ASGIApp:
    """The OGC API of one audience (Features, Records through pygeoapi; Tiles, Coverages beside it)."""
    publication = Publication(audience, snapshots)
    base_url = f"{snapshots.settings.public_url}{PREFIXES[audience]}"
    tiles = TileService(snapshots, audience, base_url)
    extensions = (
        tile_routes(tiles, publication)
        + style_routes(snapshots, audience)
        + raster_routes(snapshots, audience, base_url)
    )
    if audience == "internal":  # writes (OGC API - Features Part 4) on the staff side only
        extensions += transaction_routes(publication)
    return ogcapi_app(publication, SCHEMAS_DIR, extensions=extensions)


def _lifespan(snapshots: Snapshots, reports: ReportService | None):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The first snapshots are built before the first request, not by it. A store that is
        # down at start-up does not stop the server: /health says 503 and it recovers by itself.
        for audience in AUDIENCES:
            try:
                await run_in_threadpool(snapshots.get, audience)
            except GisError as err:
                LOG.warning("the %s snapshot could not be built at start-up: %s", audience, err)
        if reports is not None:
            await run_in_threadpool(reports.start)
        yield
        snapshots.store.close()

    return lifespan


def create_app(
    settings: Settings | None = None,
    auth_settings: AuthSettings | None = None,
    *,
    notify_settings: NotifySettings | None = None,
    report_settings: ReportSettings | None = None,
) -> FastAPI:
    """Build the whole server for one installation (settings are read once, here or by the caller)."""
    settings = settings or Settings()
    if not settings.public_url:
        settings = settings.model_copy(update={"public_url": settings.resolved_public_url()})
    store = open_store(settings.store_url, settings.keep_versions)
    snapshots = Snapshots(settings, store)
    report_settings = report_settings or ReportSettings()
    reports = ReportService(settings, report_settings, snapshots) if report_settings.enabled else None
    # FastAPI's own /docs and /openapi.json are off: the OGC API documents itself at /api/openapi,
    # and a framework-level document would list staff routes to the world.
    app = FastAPI(
        title="tsukuba-gis",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan(snapshots, reports),
    )
    add_exception_handlers(app)
    app.state.settings, app.state.store, app.state.snapshots = settings, store, snapshots
    app.include_router(health.router)
    app.router.routes.append(Route("/search", search.endpoint(snapshots, "public"), include_in_schema=False))
    app.router.routes.append(Route("/point", point_endpoint(snapshots, "public"), include_in_schema=False))
    app.router.routes.append(Route("/live.json", live.endpoint(snapshots, "public"), include_in_schema=False))
    app.router.routes.extend(feed_routes(snapshots, "public", "/feeds"))
    app.router.routes.extend(subscription_routes(snapshots, notify_settings or NotifySettings()))
    app.mount(PREFIXES["public"], ogc_api(snapshots, "public"))
    staff_reports = reports.staff_routes() if reports else []
    staff_api = ogc_api(snapshots, "internal")
    mount_staff(app, settings, auth_settings or AuthSettings(), snapshots, staff_api, staff_reports)
    if reports is not None:
        app.router.routes.extend(reports.public_routes(app.state.authenticator))
    app.include_router(opendata_router)
    viewer.mount(app, settings, snapshots)
    time_store(store)
    app.router.routes.insert(0, metrics_route(store, app.state.authenticator))
    # Level 5, not Starlette's 9: a 450 kB page of items compresses 3x faster for 4 % more bytes.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(RequestMetrics)  # inside MountRoots: it sees the scope the routers fill
    app.add_middleware(MountRoots, roots=tuple(PREFIXES.values()))
    app.add_middleware(PublicCORS)  # public prefixes only (server/cors.py)
    add_security(app, settings)  # outermost: trusted proxies, allowed hosts, security headers
    return app
