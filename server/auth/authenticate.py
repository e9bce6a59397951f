"""Who is asking: a session cookie, HTTP Basic, a personal token, or an SSO bearer JWT."""

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from starlette.requests import HTTPConnection

from server.auth import tokens
from server.auth.accounts import AccountStore, Role, SessionRecord, TokenRecord, TokenScope, User
from server.auth.lockout import Throttle
from server.auth.oidc import NoStaffRole, OIDCVerifier, TokenRejected
from server.auth.passwords import Passwords
from server.auth.sessions import Sessions
from server.auth.settings import AuthSettings
from tsukuba_gis.errors import GisError

Method = Literal["session", "basic", "token", "oidc"]
MAX_HEADER = 8192
BASIC_CACHE_S = 600
BASIC_CACHE_SIZE = 1024
TOUCH_TOKEN_EVERY_S = 60


@dataclass(frozen=True)
class Principal:
    """An authenticated staff member and how they proved it.

    Attributes:
        departments: whose layers they may edit (admins: every editable layer).
        scope: what the credential allows: ``read`` (a read-only token), ``edit``, or
            ``edit-unconditional`` (a token for a client that sends no If-Match).
    """

    username: str
    role: Role
    method: Method
    session: SessionRecord | None = None
    token_id: str | None = None
    departments: tuple[str, ...] = ()
    scope: TokenScope = "edit"


def token_departments(token: TokenRecord, user: User) -> tuple[str, ...]:
    """A token's departments: its own subset of the user's, or the user's (never more)."""
    if token.departments is None:
        return user.departments
    return tuple(d for d in token.departments if d in user.departments)


class AuthFailure(GisError):
    """Refused: the HTTP status, OGC code and description to answer with."""

    def __init__(self, status: int, code: str, description: str, retry_after: float = 0):
        super().__init__(description)
        self.status, self.code, self.description = status, code, description
        self.retry_after = retry_after


def client_address(conn: HTTPConnection) -> str:
    """The client's address (uvicorn's proxy_headers has applied X-Forwarded-For)."""
    return conn.client.host if conn.client else "unknown"


def _parse_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
        username, sep, password = decoded.partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        sep = ""
    if not sep or not username:
        raise AuthFailure(401, "InvalidCredentials", "malformed Basic credentials")
    return username, password


class Authenticator:
    """Checks the credentials of a request against the account store.

    Attributes:
        store: accounts, tokens, sessions, failure counters.
        passwords: argon2 hashing.
        throttle: back-off after failed password checks.
        sessions: browser sessions.
        oidc: the SSO token verifier, when configured.
    """

    def __init__(self, settings: AuthSettings, store: AccountStore):
        self.store = store
        self.passwords = Passwords(settings)
        self.passwords.verify(None, "")  # make the dummy hash now, not in the first login's time
        self.throttle = Throttle(store, settings)
        self.sessions = Sessions(store, settings)
        self.oidc = OIDCVerifier(settings) if settings.oidc_enabled else None
        # GIS clients send Basic on every request; argon2 costs ~100 ms and 64 MiB each time.
        # Remember successful checks in this process, keyed by an HMAC (random per-process key)
        # over name, stored hash and password: a password change is a new key, nothing stale.
        self._basic_key = secrets.token_bytes(32)
        self._basic_ok: dict[bytes, float] = {}

    def authenticate(self, conn: HTTPConnection) -> Principal:
        """The principal behind a request, or AuthFailure (an explicit bad credential is never
        overridden by a cookie that also came along)."""
        header = conn.headers.get("authorization")
        if header:
            return self._authorization(header, conn)
        api_key = conn.headers.get("x-api-key")
        if api_key:
            return self._token(api_key.strip())
        session = self.sessions.resolve(conn)
        user = self.store.get_user(session.username) if session else None
        if session and user:
            return Principal(
                user.username, user.role, "session", session=session, departments=user.departments
            )
        raise AuthFailure(
            401, "AuthenticationRequired", "staff only: sign in, or send HTTP Basic credentials or a token"
        )

    def _authorization(self, header: str, conn: HTTPConnection) -> Principal:
        scheme, _, value = header.strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if len(value) > MAX_HEADER:
            raise AuthFailure(401, "InvalidCredentials", "credentials too long")
        if scheme == "basic":
            username, password = _parse_basic(value)
            user = self.check_password(username, password, client_address(conn), cache=True)
            return Principal(user.username, user.role, "basic", departments=user.departments)
        if scheme == "bearer" and value.startswith(tokens.TOKEN_PREFIX + "_"):
            return self._token(value)
        if scheme == "bearer" and self.oidc is not None and value.count(".") == 2:
            return self._jwt(value)
        raise AuthFailure(401, "InvalidCredentials", "unsupported authorization scheme or token")

    def check_password(self, username: str, password: str, client: str, cache: bool = False) -> User:
        """The user whose password this is; 429 while locked, 401 (and a counted failure) if wrong.

        A wrong name and a wrong password take the same path and time: an argon2 verification
        against a dummy hash, a counted failure, the same answer.
        """
        wait = self.throttle.retry_after(username, client)
        if wait > 0:
            raise AuthFailure(
                429, "TooManyRequests", "too many failed sign-ins; try again later", retry_after=wait
            )
        name = username.strip().lower()
        user = self.store.get_user(name) if len(name) <= 64 else None
        key = self._cache_key(user, password) if cache and user else None
        if key is not None and self._basic_ok.get(key, 0) > time.monotonic():
            return user
        if user is None or not self.passwords.verify(user.password_hash, password):
            if user is None:
                self.passwords.verify(None, password)
            self.throttle.failed(username, client)
            raise AuthFailure(401, "InvalidCredentials", "wrong user name or password")
        self.throttle.succeeded(name, client)
        if key is not None:
            if len(self._basic_ok) >= BASIC_CACHE_SIZE:
                self._basic_ok.clear()
            self._basic_ok[key] = time.monotonic() + BASIC_CACHE_S
        return user

    def _cache_key(self, user: User, password: str) -> bytes:
        message = "\0".join((user.username, user.password_hash, password)).encode("utf-8")
        return hmac.new(self._basic_key, message, hashlib.sha256).digest()

    def token_principal(self, value: str) -> Principal:
        """The principal of a personal API token given outside a header (Open311's ``api_key``)."""
        if len(value) > MAX_HEADER:
            raise AuthFailure(401, "InvalidCredentials", "credentials too long")
        return self._token(value)

    def _token(self, value: str) -> Principal:
        token_id = tokens.token_id_of(value)
        record = self.store.get_token(token_id) if token_id else None
        if record is None or not tokens.same_digest(value, record.digest):
            raise AuthFailure(401, "InvalidCredentials", "invalid token")
        now = time.time()
        status = record.status(now)
        user = self.store.get_user(record.username)
        if status != "active" or user is None:
            raise AuthFailure(401, "InvalidCredentials", f"token {status}")
        if record.last_used is None or now - record.last_used > TOUCH_TOKEN_EVERY_S:
            self.store.touch_token(record.id, now)
        return Principal(
            user.username,
            user.role,
            "token",
            token_id=record.id,
            departments=token_departments(record, user),
            scope=record.scope,
        )

    def _jwt(self, value: str) -> Principal:
        assert self.oidc is not None
        try:
            username, role = self.oidc.verify(value)
        except TokenRejected as err:
            raise AuthFailure(401, "InvalidCredentials", f"invalid token: {err}") from None
        except NoStaffRole:
            raise AuthFailure(403, "Forbidden", "this account has no staff role here") from None
        return Principal(username, role, "oidc", departments=self.oidc.departments(value))
