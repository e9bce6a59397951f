"""The staff side of the app: ``/auth`` (sign in and out) and everything under ``/internal``
(the staff OGC API at ``/internal/api`` and the staff viewer config) behind one ASGI wrapper.
"""

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from server import point, search, viewer
from server.auth.accounts import open_account_store
from server.auth.audit import open_audit_log, redact_access_log
from server.auth.authenticate import Authenticator
from server.auth.middleware import RequireStaff
from server.auth.routes import auth_app, http_error
from server.auth.settings import AuthSettings
from server.auth.web import trusted_origins
from server.publications import PREFIXES
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import Store

STAFF_ROOT = "/internal"


def staff_app(settings: Settings, store: Store, staff_api: ASGIApp) -> Starlette:
    """Everything staff-only, before the wall is put around it."""

    async def viewer_config(request: Request) -> JSONResponse:
        return JSONResponse(viewer.viewer_config(settings, "internal"))

    api_path = PREFIXES["internal"].removeprefix(STAFF_ROOT)
    routes = [
        Route("/viewer-config.json", viewer_config),
        Route("/search", search.endpoint(settings, store, "internal")),
        Route("/point", point.endpoint(settings, store, "internal")),
        Mount(api_path, app=staff_api),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def mount(
    app: FastAPI, settings: Settings, auth_settings: AuthSettings, store: Store, staff_api: ASGIApp
) -> None:
    """Add /auth and the walled /internal to the app."""
    if not PREFIXES["internal"].startswith(STAFF_ROOT + "/"):
        raise ValueError(f"the staff API must live under {STAFF_ROOT}/ to be behind the wall")
    accounts = open_account_store(auth_settings.accounts_url(settings.data_dir))
    open_audit_log(
        auth_settings.audit_path(settings.data_dir),
        auth_settings.audit_max_bytes,
        auth_settings.audit_backups,
    )
    redact_access_log()
    authenticator = Authenticator(auth_settings, accounts)
    trusted = trusted_origins(settings.public_url, auth_settings.trusted_origins)
    app.state.authenticator = authenticator
    app.mount("/auth", auth_app(authenticator, trusted))
    app.mount(STAFF_ROOT, RequireStaff(staff_app(settings, store, staff_api), authenticator, trusted))
