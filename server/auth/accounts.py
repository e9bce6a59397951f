"""Accounts, personal tokens, sessions and failed-login counters: the models and the store ABC.

Every server worker (and, with PostGIS, every machine) must see the same sessions and the same
failure counters, so they live in a database, never in process memory. The SQLite store serves
the embedded GeoPackage setup; a PostgreSQL store can be registered next to it later.
"""

import importlib
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from tsukuba_gis.errors import GisError

Role = Literal["staff", "admin"]
ROLES: tuple[Role, ...] = ("staff", "admin")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
DEPARTMENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # a folder of layers/
# What a personal token may do: read (the default), edit (writes need If-Match), or edit
# without If-Match for clients that never send one (QGIS's OAPIF provider): last write wins.
TokenScope = Literal["read", "edit", "edit-unconditional"]
TOKEN_SCOPES: tuple[TokenScope, ...] = ("read", "edit", "edit-unconditional")
# The password hash of an account made by a single sign-on: not an argon2 hash, so no password
# opens it (argon2 refuses it as malformed), and a local account is never taken over by SSO.
SSO_PASSWORD = "!sso"

# scheme -> "module:Class", as the layer store registry does.
ACCOUNT_STORES: dict[str, str] = {
    "sqlite": "server.auth.accounts_sqlite:SQLiteAccountStore",
    "postgresql": "server.auth.accounts_postgres:PostgresAccountStore",
    "postgres": "server.auth.accounts_postgres:PostgresAccountStore",
}


class AccountError(GisError):
    """An account, token or session operation cannot be done."""


@dataclass(frozen=True)
class User:
    """A local staff account; ``departments`` are those whose layers the user may edit."""

    username: str
    role: Role
    password_hash: str
    created: float
    password_changed: float
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenRecord:
    """A personal API token (only its digest is kept)."""

    id: str
    username: str
    name: str
    digest: str
    created: float
    expires: float | None = None
    revoked: float | None = None
    last_used: float | None = None
    scope: TokenScope = "read"
    departments: tuple[str, ...] | None = None  # None: the user's; else a subset of them

    def status(self, now: float | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        now = time.time() if now is None else now
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and now >= self.expires:
            return "expired"
        return "active"


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser session, keyed by the digest of its cookie value."""

    digest: str
    username: str
    csrf_token: str
    created: float
    last_seen: float
    expires: float


@dataclass(frozen=True)
class SSOLogin:
    """A started single sign-on, kept until its callback: keyed by the digest of its ``state``.

    Attributes:
        verifier: the PKCE code verifier the token request must send.
        nonce: what the ID token must carry (a token of another sign-in is refused).
    """

    state_digest: str
    verifier: str
    nonce: str
    expires: float


def normalize_departments(departments: Sequence[str]) -> tuple[str, ...]:
    """Department ids, sorted and unique, or an AccountError naming a malformed one."""
    found = sorted({d.strip().lower() for d in departments if d.strip()})
    bad = [d for d in found if not DEPARTMENT.match(d)]
    if bad:
        raise AccountError(f"not a department id (a folder of layers/): {', '.join(bad)}")
    return tuple(found)


def normalize_username(username: str) -> str:
    """The canonical (lower-case) user name, or an AccountError saying what is allowed."""
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise AccountError("a user name is 1-64 characters a-z 0-9 . _ @ -, starting with a letter or digit")
    return name


class AccountStore(ABC):
    """Where accounts, tokens, sessions and failure counters are kept.

    Attributes:
        url: the database location.
    """

    scheme: ClassVar[str]

    def __init__(self, url: str):
        self.url = url

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the tables."""

    # -- users
    @abstractmethod
    def add_user(
        self, username: str, role: Role, password_hash: str, departments: Sequence[str] = ()
    ) -> User:
        """Create an account; AccountError if the name is taken."""

    @abstractmethod
    def set_departments(self, username: str, departments: Sequence[str]) -> bool:
        """Replace the departments of an account; False if no such user."""

    @abstractmethod
    def get_user(self, username: str) -> User | None:
        """One account, or None."""

    @abstractmethod
    def list_users(self) -> list[User]:
        """Every account, by name."""

    @abstractmethod
    def remove_user(self, username: str) -> bool:
        """Delete an account with its tokens and sessions; False if there was none."""

    @abstractmethod
    def set_password(self, username: str, password_hash: str) -> bool:
        """Replace the password hash and end the user's sessions; False if no such user."""

    # -- tokens
    @abstractmethod
    def add_token(self, token: TokenRecord) -> None:
        """Keep a new token record."""

    @abstractmethod
    def get_token(self, token_id: str) -> TokenRecord | None:
        """One token record by id."""

    @abstractmethod
    def list_tokens(self, username: str | None = None) -> list[TokenRecord]:
        """Token records (of one user), newest first."""

    @abstractmethod
    def revoke_token(self, token_id: str, when: float) -> bool:
        """Mark a token revoked; False if there is no such active token."""

    @abstractmethod
    def touch_token(self, token_id: str, when: float) -> None:
        """Record when a token was last used."""

    # -- sessions
    @abstractmethod
    def add_session(self, session: SessionRecord) -> None:
        """Keep a new session (and drop expired ones)."""

    @abstractmethod
    def get_session(self, digest: str) -> SessionRecord | None:
        """One session by the digest of its id."""

    @abstractmethod
    def touch_session(self, digest: str, when: float) -> None:
        """Record activity (for the idle timeout)."""

    @abstractmethod
    def delete_session(self, digest: str) -> None:
        """End one session."""

    # -- failed logins
    @abstractmethod
    def record_failure(self, key: str, when: float, window: float) -> int:
        """Count one failure for a key; returns the failures within the window (atomically)."""

    @abstractmethod
    def set_lock(self, key: str, until: float) -> None:
        """Refuse attempts for a key until a time."""

    @abstractmethod
    def locked_until(self, keys: list[str], now: float) -> float:
        """The latest lock end among keys still locked at ``now`` (0 when none is)."""

    @abstractmethod
    def clear_failures(self, key: str) -> None:
        """Forget the failures of a key (after a successful login)."""

    @abstractmethod
    def list_failures(self, prefix: str, since: float) -> list[tuple[str, int, float, float]]:
        """(key, failures, last failure, locked until) of the keys starting with ``prefix``
        still counted at ``since`` (at most 100, for the holder's and admins' view)."""

    # -- single sign-on
    @abstractmethod
    def sync_sso_user(self, username: str, role: Role, departments: Sequence[str]) -> User | None:
        """Create or update the account of a user the identity provider vouched for (role and
        departments from its claims, no password); None when the name is a local account."""

    @abstractmethod
    def add_sso_login(self, login: SSOLogin) -> None:
        """Keep a started sign-in (and drop expired ones)."""

    @abstractmethod
    def take_sso_login(self, state_digest: str, now: float) -> SSOLogin | None:
        """The started sign-in of a state, removed at once (a state works once); None when
        unknown or expired."""


def open_account_store(url: str) -> AccountStore:
    """The account store at a URL (a path means SQLite), with its tables migrated."""
    head, sep, _ = url.partition("://")
    scheme = head if sep else "sqlite"
    try:
        module_name, _, class_name = ACCOUNT_STORES[scheme].partition(":")
    except KeyError:
        known = ", ".join(sorted(ACCOUNT_STORES))
        raise AccountError(f"no account store for {scheme!r} yet (known: {known})") from None
    store: AccountStore = getattr(importlib.import_module(module_name), class_name)(url)
    store.migrate()
    return store
