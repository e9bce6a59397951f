"""``/auth``: sign in and out of a staff session, and ask who is signed in (for the viewer)."""

import json
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.auth.accounts import AccountError, SessionRecord
from server.auth.audit import audit
from server.auth.authenticate import Authenticator, AuthFailure, Principal, client_address
from server.auth.lockout import Attempts
from server.auth.sso import SingleSignOn
from server.auth.sso_routes import sso_routes
from server.auth.web import NO_STORE, check_state_change, origin_ok, refusal, store_unavailable
from server.errors import http_error, ogc_error
from tsukuba_gis.errors import BadRequest

MAX_BODY = 16 * 1024


async def _read_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadRequest("request body too large")
    return body


async def _credentials(request: Request) -> tuple[str, str]:
    """User name and password from a JSON or an URL-encoded form body."""
    body = await _read_body(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            data = json.loads(body)
            data = data if isinstance(data, dict) else {}
        elif kind == "application/x-www-form-urlencoded":
            data = {k: v[0] for k, v in parse_qs(body.decode("utf-8")).items()}
        else:
            raise BadRequest("send application/json or an x-www-form-urlencoded form")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON or form data") from None
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise BadRequest("username and password are required")
    return username, password


def _me(principal: Principal, session: SessionRecord | None, attempts: list[Attempts] | None = None) -> dict:
    return {
        "user": principal.username,
        "role": principal.role,
        "auth": principal.method,
        # Whose layers they may edit (the viewer offers its edit mode on those; the server decides).
        "departments": list(principal.departments),
        "scope": principal.scope,
        "csrf_token": session.csrf_token if session else None,
        "expires": session.expires if session else None,
        # The holder sees who has been trying their name (OWASP: tell the user about failures).
        "failed_sign_ins": [
            {
                "address": a.address,
                "failures": a.failures,
                "last": _iso(a.last),
                "locked_until": _iso(a.locked_until) if a.locked_until > time.time() else None,
            }
            for a in attempts or []
        ],
    }


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")


def auth_app(
    authenticator: Authenticator, trusted: frozenset[str], sso: SingleSignOn | None = None, viewer: str = ""
) -> Starlette:
    """The /auth endpoints over one authenticator (``sso``: the login at the identity provider,
    which sends the browser back to the viewer at ``viewer``)."""
    sessions = authenticator.sessions

    async def login(request: Request) -> Response:
        if not origin_ok(request, trusted):  # login CSRF: no signing a victim into our account
            return refusal(request, AuthFailure(403, "Forbidden", "cross-origin request refused"))
        try:
            username, password = await _credentials(request)
        except BadRequest as err:
            return ogc_error(400, err.code, err.description)
        try:
            user = await run_in_threadpool(
                authenticator.check_password, username, password, client_address(request)
            )
        except AuthFailure as failure:
            audit("login_failed", request, failure.status)
            return refusal(request, failure)
        previous = await run_in_threadpool(sessions.resolve, request)
        if previous is not None:
            await run_in_threadpool(sessions.end, previous)
        # Always a fresh id: a cookie the browser brought (perhaps planted) is never promoted.
        session_id, record = await run_in_threadpool(sessions.start, user.username)
        principal = Principal(
            user.username, user.role, "session", session=record, departments=user.departments
        )
        audit("login", request, 200, user.username, user.role, "password")
        response = JSONResponse(_me(principal, record), headers=NO_STORE)
        sessions.set_cookie(response, request, session_id)
        return response

    async def logout(request: Request) -> Response:
        session = await run_in_threadpool(sessions.resolve, request)
        if session is None:
            return refusal(request, AuthFailure(401, "AuthenticationRequired", "not signed in"))
        user = await run_in_threadpool(authenticator.store.get_user, session.username)
        principal = Principal(session.username, user.role if user else "staff", "session", session)
        try:
            check_state_change(request, principal, trusted)
        except AuthFailure as failure:
            audit("logout_refused", request, failure.status, session.username)
            return refusal(request, failure)
        await run_in_threadpool(sessions.end, session)
        audit("logout", request, 204, principal.username, principal.role, "session")
        response = Response(status_code=204, headers=NO_STORE)
        sessions.clear_cookie(response, request)
        return response

    async def me(request: Request) -> Response:
        try:
            principal = await run_in_threadpool(authenticator.authenticate, request)
        except AuthFailure as failure:
            return refusal(request, failure)
        attempts = await run_in_threadpool(authenticator.throttle.attempts, principal.username)
        return JSONResponse(_me(principal, principal.session, attempts), headers=NO_STORE)

    async def methods(request: Request) -> Response:
        # Public: the viewer's login dialog offers the SSO button only where it works.
        return JSONResponse({"password": True, "sso": sso is not None}, headers=NO_STORE)

    routes = [
        Route("/methods", methods, methods=["GET"]),
        *(sso_routes(authenticator, sso, viewer) if sso else []),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/me", me, methods=["GET"]),
    ]
    handlers = {HTTPException: http_error, AccountError: store_unavailable}
    return Starlette(routes=routes, exception_handlers=handlers)
