"""``/auth/oidc/login`` and ``/auth/oidc/callback``: the viewer's staff login at the identity
provider, ending in the same session the password login makes."""

import html

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from server.auth.accounts import DEPARTMENT, AccountError, User, normalize_username
from server.auth.audit import audit
from server.auth.authenticate import Authenticator, AuthFailure
from server.auth.sso import SignedIn, SingleSignOn
from server.auth.web import NO_STORE, refusal

# The state of a started sign-in, so that only the browser that started it can finish it (a
# victim sent to a callback URL of the attacker's sign-in is refused). SameSite=Lax, not
# Strict: the callback is a navigation from the provider's site.
LOGIN_COOKIE = "tsukuba_gis_sso"
SECURE_LOGIN_COOKIE = "__Secure-tsukuba_gis_sso"
COOKIE_PATH = "/auth/oidc/"
# The viewer asks /auth/me after a page load only when told to (api/auth.js).
SIGNED_IN = "/?staff=sso"
PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>ログインできませんでした / Sign-in failed</title></head>
<body><h1>ログインできませんでした / Sign-in failed</h1><p>{description}</p>
<p><a href="{viewer}/">地図に戻る / Back to the map</a></p></body></html>
"""


def failed(request: Request, failure: AuthFailure, viewer: str) -> Response:
    """The refusal: a page for a browser's navigation, the OGC JSON error for anything else."""
    if "text/html" not in request.headers.get("accept", ""):
        return refusal(request, failure)
    page = PAGE.format(description=html.escape(failure.description), viewer=html.escape(viewer))
    response = HTMLResponse(page, status_code=failure.status, headers=NO_STORE)
    if failure.status == 503:
        response.headers["retry-after"] = str(int(failure.retry_after) or 30)
    return response


def sso_routes(authenticator: Authenticator, sso: SingleSignOn, viewer: str) -> list[Route]:
    """The two routes of the SSO login over one authenticator (its store and sessions)."""
    sessions, store = authenticator.sessions, authenticator.store

    def cookie_name(request: Request) -> str:
        return SECURE_LOGIN_COOKIE if sessions.secure(request) else LOGIN_COOKIE

    def forget_login(response: Response, request: Request) -> Response:
        response.delete_cookie(
            cookie_name(request), path=COOKIE_PATH, httponly=True, secure=sessions.secure(request)
        )
        return response

    async def login(request: Request) -> Response:
        try:
            url, state = await run_in_threadpool(sso.start)
        except AuthFailure as failure:
            return failed(request, failure, viewer)
        response = RedirectResponse(url, status_code=303, headers=NO_STORE)
        response.set_cookie(
            cookie_name(request),
            state,
            max_age=int(sso.settings.oidc_login_ttl_s),
            path=COOKIE_PATH,
            httponly=True,
            secure=sessions.secure(request),
            samesite="lax",
        )
        return response

    async def callback(request: Request) -> Response:
        params = dict(request.query_params)
        try:
            signed_in = await run_in_threadpool(sso.finish, params, request.cookies.get(cookie_name(request)))
            user = await run_in_threadpool(_account, store, signed_in)
        except AuthFailure as failure:
            audit("sso_failed", request, failure.status)
            return forget_login(failed(request, failure, viewer), request)
        previous = await run_in_threadpool(sessions.resolve, request)
        if previous is not None:
            await run_in_threadpool(sessions.end, previous)
        session_id, _ = await run_in_threadpool(sessions.start, user.username)
        audit("login", request, 303, user.username, user.role, "oidc", user.departments)
        response = RedirectResponse(f"{viewer}{SIGNED_IN}", status_code=303, headers=NO_STORE)
        sessions.set_cookie(response, request, session_id)
        return forget_login(response, request)

    return [
        Route("/oidc/login", login, methods=["GET"]),
        Route("/oidc/callback", callback, methods=["GET"]),
    ]


def _account(store, signed_in: SignedIn) -> User:
    """The SSO user's account, following the claims of this sign-in (sessions need an account:
    ``users remove`` ends them, ``users list`` shows who signed in)."""
    try:
        username = normalize_username(signed_in.username)
    except AccountError as err:
        raise AuthFailure(
            403, "Forbidden", f"the identity provider's user name is not usable here: {err}"
        ) from None
    # A department the provider names that is no folder id here cannot be one of ours.
    departments = [d for d in signed_in.departments if DEPARTMENT.match(d)]
    user = store.sync_sso_user(username, signed_in.role, departments)
    if user is None:
        raise AuthFailure(
            403,
            "Forbidden",
            f"{username} is a local account here; an administrator must remove it before SSO",
        )
    return user
