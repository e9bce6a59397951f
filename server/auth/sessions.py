"""Browser sessions: a random id in an HttpOnly cookie, its digest and CSRF token in the store."""

import time

from starlette.requests import HTTPConnection
from starlette.responses import Response

from server.auth import tokens
from server.auth.accounts import AccountStore, SessionRecord
from server.auth.settings import AuthSettings

COOKIE = "tsukuba_gis_session"
# Over HTTPS the __Host- prefix makes browsers insist on Secure, Path=/ and no Domain, so a
# sibling host or a plain-HTTP page cannot plant or overwrite this cookie.
SECURE_COOKIE = "__Host-tsukuba_gis_session"
TOUCH_EVERY_S = 60  # idle tracking needs minutes, not a database write per request


class Sessions:
    """Start, look up and end sessions; write and clear their cookie.

    Attributes:
        store: where sessions are kept (shared by every worker).
        settings: lifetimes and cookie flags.
    """

    def __init__(self, store: AccountStore, settings: AuthSettings):
        self.store, self.settings = store, settings

    def secure(self, conn: HTTPConnection) -> bool:
        """Whether the cookie gets ``Secure`` (HTTPS, also behind a proxy that says so)."""
        if self.settings.cookie_secure is not None:
            return self.settings.cookie_secure
        return conn.url.scheme in ("https", "wss")

    def cookie_name(self, conn: HTTPConnection) -> str:
        """The cookie this request's scheme uses."""
        return SECURE_COOKIE if self.secure(conn) else COOKIE

    def start(self, username: str) -> tuple[str, SessionRecord]:
        """A brand-new session (never one the browser brought along: no fixation)."""
        now = time.time()
        session_id = tokens.new_session_id()
        record = SessionRecord(
            tokens.digest(session_id),
            username,
            tokens.new_csrf_token(),
            now,
            now,
            now + self.settings.session_hours * 3600,
        )
        self.store.add_session(record)
        return session_id, record

    def resolve(self, conn: HTTPConnection) -> SessionRecord | None:
        """The live session of the request's cookie, or None (unknown, expired, idle)."""
        session_id = conn.cookies.get(self.cookie_name(conn))
        if not session_id or len(session_id) > 128:
            return None
        record = self.store.get_session(tokens.digest(session_id))
        if record is None:
            return None
        now = time.time()
        idle = now - record.last_seen > self.settings.session_idle_minutes * 60
        if now >= record.expires or idle:
            self.store.delete_session(record.digest)
            return None
        if now - record.last_seen > TOUCH_EVERY_S:
            self.store.touch_session(record.digest, now)
        return record

    def end(self, record: SessionRecord) -> None:
        """Invalidate a session server-side: its cookie is worthless from now on."""
        self.store.delete_session(record.digest)

    def set_cookie(self, response: Response, conn: HTTPConnection, session_id: str) -> None:
        """Send the session cookie: HttpOnly, SameSite, Path=/, Secure over HTTPS, no Max-Age
        (it dies with the browser; the server ends it after the configured hours anyway)."""
        response.set_cookie(
            self.cookie_name(conn),
            session_id,
            path="/",
            httponly=True,
            secure=self.secure(conn),
            samesite=self.settings.cookie_samesite,
        )

    def clear_cookie(self, response: Response, conn: HTTPConnection) -> None:
        """Tell the browser to drop the cookie."""
        response.delete_cookie(
            self.cookie_name(conn),
            path="/",
            httponly=True,
            secure=self.secure(conn),
            samesite=self.settings.cookie_samesite,
        )
