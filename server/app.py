"""The application factory: one FastAPI app with the OGC API, health, viewer and its assets."""

import logging

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from server import health, opendata, point, search, viewer
from server.auth.settings import AuthSettings
from server.auth.staff import mount as mount_staff
from server.ogcapi.adapter import http_error, ogcapi_app
from server.ogcapi.openapi_local import SCHEMAS_DIR
from server.publications import PREFIXES, make_publication
from server.security import add_security
from tsukuba_gis import __version__
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


def create_app(settings: Settings | None = None, auth_settings: AuthSettings | None = None) -> FastAPI:
    """Build the whole server for one installation (settings are read once, here or by the caller)."""
    settings = settings or Settings()
    if not settings.public_url:
        settings = settings.model_copy(update={"public_url": settings.resolved_public_url()})
    store = open_store(settings.store_url, settings.keep_versions)
    # FastAPI's own /docs and /openapi.json are off: the OGC API documents itself at /api/openapi,
    # and a framework-level document would list staff routes to the world.
    app = FastAPI(
        title="tsukuba-gis",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        exception_handlers={StarletteHTTPException: http_error},
    )
    app.state.settings, app.state.store = settings, store
    app.include_router(health.router)
    app.include_router(search.router)
    app.include_router(point.router)
    public = make_publication(settings, store, "public")
    app.mount(PREFIXES["public"], ogcapi_app(public, SCHEMAS_DIR))
    staff = make_publication(settings, store, "internal")
    mount_staff(app, settings, auth_settings or AuthSettings(), store, ogcapi_app(staff, SCHEMAS_DIR))
    app.include_router(opendata.router)
    viewer.mount(app, settings)
    # Level 5, not Starlette's 9: a 450 kB page of items compresses 3x faster for 4 % more bytes.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(MountRoots, roots=tuple(PREFIXES.values()))
    add_security(app, settings)  # outermost: trusted proxies, allowed hosts, security headers
    return app
