"""The staff side of the app: ``/auth`` (sign in and out) and everything under ``/internal``
(the staff OGC API at ``/internal/api``, the staff viewer config, the staff change feeds at
``/internal/feeds``, the admins' webhooks and deliveries) behind one ASGI wrapper.
"""

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from server import live, search, viewer
from server.auth.accounts import open_account_store
from server.auth.audit import open_audit_log, redact_access_log
from server.auth.authenticate import Authenticator
from server.auth.middleware import RequireStaff
from server.auth.routes import auth_app
from server.auth.settings import AuthSettings
from server.auth.sso import SingleSignOn
from server.auth.web import trusted_origins
from server.errors import add_exception_handlers
from server.feeds.routes import feed_routes
from server.notify.admin import admin_routes
from server.report.routes import point_endpoint
from server.snapshot import PREFIXES, Snapshots
from tsukuba_gis.settings import Settings

STAFF_ROOT = "/internal"


def staff_app(snapshots: Snapshots, staff_api: ASGIApp, more: Sequence[BaseRoute] = ()) -> Starlette:
    """Everything staff-only, before the wall is put around it (``more``: other parts' routes,
    e.g. the residents' reports)."""
    api_path = PREFIXES["internal"].removeprefix(STAFF_ROOT)
    routes = [
        Route("/viewer-config.json", viewer.config_endpoint(snapshots, "internal")),
        Route("/search", search.endpoint(snapshots, "internal")),
        Route("/point", point_endpoint(snapshots, "internal")),
        Route("/live.json", live.endpoint(snapshots, "internal")),
        *feed_routes(snapshots, "internal", "/feeds"),
        *admin_routes(snapshots),  # webhooks and deliveries (admins)
        *more,
        Mount(api_path, app=staff_api),
    ]
    app = Starlette(routes=routes)
    add_exception_handlers(app)
    return app


def mount(
    app: FastAPI,
    settings: Settings,
    auth_settings: AuthSettings,
    snapshots: Snapshots,
    staff_api: ASGIApp,
    more: Sequence[BaseRoute] = (),
) -> None:
    """Add /auth and the walled /internal to the app."""
    if not PREFIXES["internal"].startswith(STAFF_ROOT + "/"):
        raise ValueError(f"the staff API must live under {STAFF_ROOT}/ to be behind the wall")
    accounts = open_account_store(auth_settings.accounts_url(settings.data_dir, settings.store_url))
    open_audit_log(
        auth_settings.audit_path(settings.data_dir),
        auth_settings.audit_max_bytes,
        auth_settings.audit_backups,
    )
    redact_access_log()
    authenticator = Authenticator(auth_settings, accounts)
    trusted = trusted_origins(settings.public_url, auth_settings.trusted_origins)
    app.state.authenticator = authenticator
    viewer = (settings.public_url or "").rstrip("/")
    sso = SingleSignOn(auth_settings, accounts, viewer) if auth_settings.sso_login_enabled else None
    app.mount("/auth", auth_app(authenticator, trusted, sso, viewer))
    app.mount(STAFF_ROOT, RequireStaff(staff_app(snapshots, staff_api, more), authenticator, trusted))
