"""HTTP pieces shared by the staff wrapper and the /auth routes: refusals, Origin and CSRF."""

import hmac
import logging
import math
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from server.auth.accounts import AccountError
from server.auth.authenticate import AuthFailure, Principal
from server.errors import ogc_error

LOG = logging.getLogger(__name__)
REALM = "tsukuba-gis staff"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def refusal(conn: HTTPConnection, failure: AuthFailure) -> JSONResponse:
    """An OGC JSON error with the challenge (401) or Retry-After (429) it calls for."""
    response = ogc_error(failure.status, failure.code, failure.description)
    response.headers.update(NO_STORE)
    if failure.status == 401:
        # Offer Basic only to tools and typed-in URLs: a browser shows its own password dialog
        # for a Basic challenge, which must not pop up over the viewer's fetch() calls.
        if conn.headers.get("sec-fetch-mode", "navigate") == "navigate":
            response.headers.append("www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
        response.headers.append("www-authenticate", f'Bearer realm="{REALM}"')
    if failure.status == 429:
        response.headers["retry-after"] = str(max(1, math.ceil(failure.retry_after)))
    return response


def store_unavailable(conn: HTTPConnection, err: AccountError) -> JSONResponse:
    """503 when the account store cannot answer (nobody can be let in, nobody is locked out)."""
    LOG.error("%s", err)
    response = ogc_error(503, "ServiceUnavailable", "staff sign-in is unavailable; try later")
    response.headers.update({**NO_STORE, "retry-after": "30"})
    return response


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else url


def origin_ok(conn: HTTPConnection, trusted: frozenset[str]) -> bool:
    """Whether a state-changing request comes from this site (or says nothing: not a browser).

    Browsers send ``Origin`` on every cross-origin and every same-origin non-GET fetch/form
    post, so a missing Origin (and Referer) means a non-browser client, which carries no
    ambient cookie to abuse.
    """
    claimed = conn.headers.get("origin") or conn.headers.get("referer")
    if claimed is None:
        return True
    own = _origin_of(f"{conn.url.scheme}://{conn.headers.get('host', '')}")
    return _origin_of(claimed) in trusted | {own}


def csrf_ok(conn: HTTPConnection, principal: Principal) -> bool:
    """Whether a session request carries its CSRF token (other methods are not ambient)."""
    if principal.session is None:
        return principal.method != "session"
    sent = conn.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(sent.encode(), principal.session.csrf_token.encode())


def check_state_change(conn: HTTPConnection, principal: Principal, trusted: frozenset[str]) -> None:
    """AuthFailure (403) for a cross-origin or CSRF-tokenless unsafe request."""
    if conn.scope.get("method", "GET") in SAFE_METHODS:
        return
    if not origin_ok(conn, trusted):
        raise AuthFailure(403, "Forbidden", "cross-origin request refused")
    if not csrf_ok(conn, principal):
        raise AuthFailure(403, "Forbidden", "missing or wrong X-CSRF-Token header")


def trusted_origins(public_url: str | None, extra: list[str]) -> frozenset[str]:
    """The origins besides the request's own that may send state-changing requests."""
    urls = [*extra, *([public_url] if public_url else [])]
    return frozenset(_origin_of(url) for url in urls)
