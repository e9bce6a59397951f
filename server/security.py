"""What the app does for itself against a hostile network: trusted proxies, allowed hosts, headers.

- ``X-Forwarded-For``/``-Proto`` count only from ``TSUKUBA_GIS_TRUSTED_PROXIES`` (addresses or
  CIDRs; default none), through uvicorn's ProxyHeadersMiddleware: any other client, a local
  process included, cannot choose its own address for the sign-in back-off or the audit log.
- Only the hosts of the public URL (plus ``TSUKUBA_GIS_ALLOWED_HOSTS``; loopback names when the
  public URL is loopback) are answered: the CSRF Origin check compares with the request's Host,
  so the Host must be one of ours (DNS rebinding, poisoned links). Starlette's
  TrustedHostMiddleware does the same, but answers plain text and reads an IPv6 Host wrongly.
- Every response says ``nosniff``; every HTML page gets a Content-Security-Policy, may not be
  framed by another site (clickjacking of the staff login) and sends no full URL as Referer.
"""

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from server.errors import ogc_error
from server.snapshot import PREFIXES
from tsukuba_gis.settings import Settings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# pygeoapi's HTML (our overrides of its templates) has inline scripts and onclick handlers:
# its pages may run inline script, ours (viewer, open data, login) may not.
PYGEOAPI_PREFIXES = tuple(PREFIXES.values())


def _split(value: object) -> object:
    return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


class SecuritySettings(BaseSettings):
    """Network trust of one installation (prefix ``TSUKUBA_GIS_``; lists comma-separated).

    Attributes:
        trusted_proxies: addresses or networks (CIDR) of the reverse proxies whose
            ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed; empty: nobody's.
        allowed_hosts: host names answered besides the public URL's (``*.example.jp`` allowed).
        header_timeout_s: a request must have arrived whole (headers and body) this many
            seconds after its first byte, and a new connection must start one as soon.
    """

    model_config = SettingsConfigDict(env_prefix="TSUKUBA_GIS_", env_file=".env", extra="ignore")

    trusted_proxies: Annotated[list[str], NoDecode] = []
    allowed_hosts: Annotated[list[str], NoDecode] = []
    header_timeout_s: float = 10.0

    @field_validator("trusted_proxies", "allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (CIDR)") from None
        return value


def _host_of(header: str) -> str:
    """The host part of a Host header: ``[::1]:8000`` -> ``::1``, ``Example.JP:80`` -> ``example.jp``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def allowed_hosts(settings: Settings, extra: list[str]) -> frozenset[str]:
    """The public URL's host, the extra hosts, and the loopback names for a loopback URL."""
    public = (urlsplit(settings.public_url or "").hostname or "").lower()
    hosts = {public, *(h.lower() for h in extra)} - {""}
    if public in LOOPBACK_HOSTS or public.startswith("127."):
        hosts.update(LOOPBACK_HOSTS)
    return frozenset(hosts)


class AllowedHosts:
    """ASGI middleware: a request for any other Host gets a 400 OGC error.

    Attributes:
        app: the application.
        hosts: exact host names, and ``*.domain`` patterns.
    """

    def __init__(self, app: ASGIApp, hosts: frozenset[str]):
        self.app, self.hosts = app, hosts
        self.suffixes = tuple(h[1:] for h in hosts if h.startswith("*."))

    def allowed(self, host: str) -> bool:
        """Whether a host name is one of ours."""
        return host in self.hosts or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a request for another host before anything else sees it."""
        if scope["type"] in ("http", "websocket") and not self.allowed(
            _host_of(Headers(scope=scope).get("host", ""))
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            response = ogc_error(
                400, "InvalidParameterValue", "this server does not answer for that host name"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _origins(urls: list[str | None]) -> str:
    found = []
    for url in urls:
        parts = urlsplit(url or "")
        if parts.scheme in ("http", "https") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"
            if origin not in found:
                found.append(origin)
    return " ".join(found)


def content_policies(settings: Settings) -> tuple[str, str]:
    """The CSP of our pages and of pygeoapi's (inline script allowed there only)."""
    tiles = _origins(
        [
            settings.basemap_std_url,
            settings.basemap_pale_url,
            settings.basemap_photo_url,
            settings.basemap_osm_url,
        ]
    )
    common = (
        f"default-src 'self'; img-src 'self' data: blob: {tiles}; style-src 'self' 'unsafe-inline';"
        " connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self';"
        " form-action 'self'; frame-ancestors 'none'"
    )
    return (
        f"{common}; script-src 'self'",
        f"{common}; script-src 'self' 'unsafe-inline'; worker-src 'self' blob:",
    )


class SecurityHeaders:
    """ASGI middleware: nosniff on every response; CSP, framing and Referer rules on HTML.

    Attributes:
        app: the application.
        ours: the CSP of the viewer, open data and login pages.
        pygeoapi: the CSP of pygeoapi's HTML (under PYGEOAPI_PREFIXES).
    """

    def __init__(self, app: ASGIApp, ours: str, pygeoapi: str):
        self.app, self.ours, self.pygeoapi = app, ours, pygeoapi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        policy = self.pygeoapi if path.startswith(PYGEOAPI_PREFIXES) else self.ours

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-content-type-options"] = "nosniff"
                if headers.get("content-type", "").startswith("text/html"):
                    own = headers.get("content-security-policy")  # a page's own, stricter one
                    headers["content-security-policy"] = f"{own}; frame-ancestors 'none'" if own else policy
                    headers["x-frame-options"] = "DENY"
                    headers["referrer-policy"] = "strict-origin-when-cross-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_security(app: ASGIApp, settings: Settings, security: SecuritySettings | None = None) -> None:
    """Add the middleware (outermost last: proxies first, then hosts, then headers)."""
    security = security or SecuritySettings()
    ours, pygeoapi = content_policies(settings)
    app.add_middleware(SecurityHeaders, ours=ours, pygeoapi=pygeoapi)
    app.add_middleware(AllowedHosts, hosts=allowed_hosts(settings, security.allowed_hosts))
    if security.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=security.trusted_proxies)
