"""Cross-origin reads of the public routes, and none of the staff side.

A web app on another site may read the public API, open data, search, point and feeds (GET and
HEAD, with a preflight for its headers). Starlette's CORSMiddleware does the protocol; this
wrapper applies it only to the public path prefixes, so the staff side (``/internal``,
``/auth``) never sends a CORS header and a browser never lets another origin read it, with or
without credentials. Credentials are never allowed cross-origin (``allow_credentials=False``).
``/subscriptions`` is not among them on purpose: subscribing is done from the viewer (same
origin) or a plain form, and another site's script must not read its answers.
"""

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PREFIXES = ("/api", "/opendata", "/search", "/point", "/feeds")
# Headers a cross-origin script may read (CRS, caching validators, a download's file name).
EXPOSED = ["Content-Crs", "Content-Disposition", "Content-Language", "ETag", "Last-Modified", "Link"]
REQUEST_HEADERS = ["Accept", "Accept-Language", "If-None-Match", "If-Modified-Since", "Range"]
MAX_AGE_S = 3600


def is_public(path: str) -> bool:
    """Whether a path is under one of the public prefixes (``/api`` but not ``/apix``)."""
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PREFIXES)


class PublicCORS:
    """ASGI middleware: CORS for any origin on the public prefixes, nothing elsewhere.

    Attributes:
        app: the application.
        cors: the same application behind Starlette's CORSMiddleware.
    """

    def __init__(self, app: ASGIApp):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "HEAD"],
            allow_headers=REQUEST_HEADERS,
            allow_credentials=False,
            expose_headers=EXPOSED,
            max_age=MAX_AGE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Through CORSMiddleware for a public path, straight to the app otherwise."""
        if scope["type"] == "http" and is_public(scope["path"]):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
