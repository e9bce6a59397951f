"""The wall around ``/internal``: every request under it is authenticated before it gets in.

It wraps the mounted staff app as a whole (OGC API, its HTML, OpenAPI, static files, schemas,
the staff viewer config), so a route added there later is protected without anyone thinking
of it; per-route dependencies could be forgotten.
"""

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.auth.accounts import AccountError
from server.auth.audit import audit
from server.auth.authenticate import Authenticator, AuthFailure
from server.auth.web import check_state_change, refusal, store_unavailable


class RequireStaff:
    """ASGI wrapper: authenticate, check Origin/CSRF on unsafe methods, audit, forbid caching.

    Attributes:
        app: the staff app.
        authenticator: checks credentials.
        trusted: other origins allowed to change state.
    """

    def __init__(self, app: ASGIApp, authenticator: Authenticator, trusted: frozenset[str]):
        self.app, self.authenticator, self.trusted = app, authenticator, trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let an authenticated request through; answer anything else with a refusal."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websocket endpoints exist; refuse before accepting
            await send({"type": "websocket.close", "code": 1008})
            return
        conn = HTTPConnection(scope)
        try:
            principal = await run_in_threadpool(self.authenticator.authenticate, conn)
            check_state_change(conn, principal, self.trusted)
        except AuthFailure as failure:
            audit("refused", conn, failure.status)
            await refusal(conn, failure)(scope, receive, send)
            return
        except AccountError as err:
            await store_unavailable(conn, err)(scope, receive, send)
            return
        scope["user"] = principal  # in place, as Starlette's AuthenticationMiddleware: metrics read the route
        status = [500]

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = MutableHeaders(scope=message)
                # Staff data must not stay in a shared proxy or on a shared office PC's disk.
                headers["cache-control"] = "private, no-store"
            await send(message)

        try:
            await self.app(scope, receive, send_private)
        finally:
            audit(
                "access",
                conn,
                status[0],
                principal.username,
                principal.role,
                principal.method,
                principal.departments,
            )
