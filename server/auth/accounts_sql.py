"""The statements of the SQL account stores (SQLite, PostgreSQL), written once.

Both databases take the same SQL but for two words: the parameter mark (``?`` or ``%s``) and
the maximum of two values (``MAX`` or ``GREATEST``). A store names both, the error its driver
raises on a constraint, and how it connects; the statements and the rows are this module's.
"""

import time
from abc import abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from server.auth.accounts import (
    SSO_PASSWORD,
    AccountError,
    AccountStore,
    Role,
    SessionRecord,
    SSOLogin,
    TokenRecord,
    User,
    normalize_departments,
)

USER_COLUMNS = "username, role, password_hash, created, password_changed, departments"
TOKEN_COLUMNS = "id, username, name, digest, created, expires, revoked, last_used, scope, departments"
SESSION_COLUMNS = "digest, username, csrf_token, created, last_seen, expires"
# An SSO user's account follows the provider's claims at each sign-in; a local account of the
# same name stays untouched (the WHERE of the upsert: nothing is returned then).
SYNC_SSO_USER = (
    f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (username) DO UPDATE SET role = excluded.role, departments = excluded.departments"
    f" WHERE users.password_hash = ? RETURNING {USER_COLUMNS}"
)


def _joined(departments: Sequence[str] | None) -> str | None:
    return None if departments is None else ",".join(departments)


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(d for d in text.split(",") if d)


def _user(row: tuple) -> User:
    return User(*row[:5], departments=_split(row[5]) or ())


def _token(row: tuple) -> TokenRecord:
    return TokenRecord(*row[:8], scope=row[8], departments=_split(row[9]))


class SQLAccountStore(AccountStore):
    """The account operations over a DB-API connection; statements are written with ``?``.

    Attributes:
        mark: the driver's parameter mark, put for every ``?``.
        greatest: the SQL function of the larger of two values.
        integrity_error: what the driver raises when a constraint refuses a row.
    """

    mark: ClassVar[str]
    greatest: ClassVar[str]
    integrity_error: ClassVar[type[Exception]]

    @abstractmethod
    def _db(self) -> AbstractContextManager[Any]:
        """A connection in autocommit (AccountError when the database cannot be used)."""

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A connection inside one transaction, committed when the block ends without error."""

    def _run(self, con: Any, statement: str, args: Sequence = ()) -> Any:
        """Execute a statement written with ``?`` marks; the driver's cursor."""
        return con.execute(statement.replace("?", self.mark), args)

    # -- users -------------------------------------------------------------------------------

    def add_user(
        self, username: str, role: Role, password_hash: str, departments: Sequence[str] = ()
    ) -> User:
        """Create an account; AccountError if the name is taken."""
        now = time.time()
        user = User(username, role, password_hash, now, now, normalize_departments(departments))
        try:
            with self._transaction() as con:
                self._run(
                    con,
                    f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (user.username, user.role, user.password_hash, now, now, _joined(user.departments)),
                )
        except self.integrity_error:
            raise AccountError(f"user {username!r} already exists") from None
        return user

    def set_departments(self, username: str, departments: Sequence[str]) -> bool:
        """Replace the departments of an account (its tokens keep their own subsets)."""
        joined = _joined(normalize_departments(departments))
        with self._transaction() as con:
            changed = self._run(
                con, "UPDATE users SET departments = ? WHERE username = ?", (joined, username)
            )
        return changed.rowcount > 0

    def get_user(self, username: str) -> User | None:
        """One account, or None."""
        with self._db() as con:
            row = self._run(
                con, f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,)
            ).fetchone()
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        """Every account, by name."""
        with self._db() as con:
            return [_user(r) for r in self._run(con, f"SELECT {USER_COLUMNS} FROM users ORDER BY 1")]

    def remove_user(self, username: str) -> bool:
        """Delete an account with its tokens and sessions (foreign keys cascade)."""
        with self._transaction() as con:
            return self._run(con, "DELETE FROM users WHERE username = ?", (username,)).rowcount > 0

    def set_password(self, username: str, password_hash: str) -> bool:
        """Replace the password hash and end the user's sessions."""
        with self._transaction() as con:
            changed = self._run(
                con,
                "UPDATE users SET password_hash = ?, password_changed = ? WHERE username = ?",
                (password_hash, time.time(), username),
            )
            self._run(con, "DELETE FROM sessions WHERE username = ?", (username,))
        return changed.rowcount > 0

    # -- tokens ------------------------------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        """Keep a new token record."""
        try:
            with self._transaction() as con:
                self._run(
                    con,
                    f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        token.id,
                        token.username,
                        token.name,
                        token.digest,
                        token.created,
                        token.expires,
                        token.revoked,
                        token.last_used,
                        token.scope,
                        _joined(token.departments),
                    ),
                )
        except self.integrity_error:
            raise AccountError(f"no user {token.username!r} (or a token id collision)") from None

    def get_token(self, token_id: str) -> TokenRecord | None:
        """One token record by id."""
        with self._db() as con:
            row = self._run(con, f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return _token(row) if row else None

    def list_tokens(self, username: str | None = None) -> list[TokenRecord]:
        """Token records (of one user), newest first."""
        where, args = ("WHERE username = ?", (username,)) if username else ("", ())
        with self._db() as con:
            rows = self._run(
                con, f"SELECT {TOKEN_COLUMNS} FROM tokens {where} ORDER BY created DESC", args
            ).fetchall()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, when: float) -> bool:
        """Mark a token revoked; False if there is no such unrevoked token."""
        with self._transaction() as con:
            statement = "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL"
            return self._run(con, statement, (when, token_id)).rowcount > 0

    def touch_token(self, token_id: str, when: float) -> None:
        """Record when a token was last used."""
        with self._db() as con:
            self._run(con, "UPDATE tokens SET last_used = ? WHERE id = ?", (when, token_id))

    # -- sessions ----------------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None:
        """Keep a new session and drop expired ones."""
        with self._transaction() as con:
            self._run(con, "DELETE FROM sessions WHERE expires <= ?", (session.created,))
            self._run(
                con,
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session.digest,
                    session.username,
                    session.csrf_token,
                    session.created,
                    session.last_seen,
                    session.expires,
                ),
            )

    def get_session(self, digest: str) -> SessionRecord | None:
        """One session by the digest of its id."""
        with self._db() as con:
            row = self._run(
                con, f"SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = ?", (digest,)
            ).fetchone()
        return SessionRecord(*row) if row else None

    def touch_session(self, digest: str, when: float) -> None:
        """Record activity (for the idle timeout)."""
        with self._db() as con:
            self._run(con, "UPDATE sessions SET last_seen = ? WHERE digest = ?", (when, digest))

    def delete_session(self, digest: str) -> None:
        """End one session."""
        with self._db() as con:
            self._run(con, "DELETE FROM sessions WHERE digest = ?", (digest,))

    # -- single sign-on ---------------------------------------------------------------------

    def sync_sso_user(self, username: str, role: Role, departments: Sequence[str]) -> User | None:
        """Create or update an SSO user's account; None when the name is a local account."""
        now = time.time()
        joined = _joined(normalize_departments(departments))
        args = (username, role, SSO_PASSWORD, now, now, joined, SSO_PASSWORD)
        with self._transaction() as con:
            row = self._run(con, SYNC_SSO_USER, args).fetchone()
        return _user(row) if row else None

    def add_sso_login(self, login: SSOLogin) -> None:
        """Keep a started sign-in and drop expired ones."""
        with self._transaction() as con:
            self._run(con, "DELETE FROM sso_logins WHERE expires <= ?", (time.time(),))
            self._run(
                con,
                "INSERT INTO sso_logins (state_digest, verifier, nonce, expires) VALUES (?, ?, ?, ?)",
                (login.state_digest, login.verifier, login.nonce, login.expires),
            )

    def take_sso_login(self, state_digest: str, now: float) -> SSOLogin | None:
        """The started sign-in of a state, deleted in the same statement (works once)."""
        with self._transaction() as con:
            row = self._run(
                con,
                "DELETE FROM sso_logins WHERE state_digest = ?"
                " RETURNING state_digest, verifier, nonce, expires",
                (state_digest,),
            ).fetchone()
        login = SSOLogin(*row) if row else None
        return login if login and login.expires > now else None

    # -- failed logins -----------------------------------------------------------------------

    def record_failure(self, key: str, when: float, window: float) -> int:
        """Count one failure; the count restarts after ``window`` quiet seconds past any lock."""
        with self._transaction() as con:
            self._run(
                con,
                f"DELETE FROM login_failures WHERE {self.greatest}(last_failure, locked_until) < ?",
                (when - window,),
            )
            # login_failures.failures: the row already there (PostgreSQL wants it named).
            row = self._run(
                con,
                "INSERT INTO login_failures (key, failures, last_failure) VALUES (?, 1, ?)"
                " ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1,"
                " last_failure = excluded.last_failure RETURNING failures",
                (key, when),
            ).fetchone()
        return int(row[0])

    def set_lock(self, key: str, until: float) -> None:
        """Refuse attempts for a key until a time."""
        with self._db() as con:
            self._run(
                con,
                f"UPDATE login_failures SET locked_until = {self.greatest}(locked_until, ?) WHERE key = ?",
                (until, key),
            )

    def locked_until(self, keys: list[str], now: float) -> float:
        """The latest lock end among keys still locked at ``now`` (0 when none is)."""
        if not keys:  # "IN ()" is no SQL to PostgreSQL
            return 0.0
        marks = ", ".join("?" * len(keys))
        with self._db() as con:
            row = self._run(
                con,
                f"SELECT MAX(locked_until) FROM login_failures WHERE key IN ({marks}) AND locked_until > ?",
                (*keys, now),
            ).fetchone()
        return float(row[0] or 0)

    def clear_failures(self, key: str) -> None:
        """Forget the failures of a key."""
        with self._db() as con:
            self._run(con, "DELETE FROM login_failures WHERE key = ?", (key,))

    def list_failures(self, prefix: str, since: float) -> list[tuple[str, int, float, float]]:
        """The counted failures of keys starting with ``prefix`` (a plain prefix, no pattern)."""
        with self._db() as con:
            rows = self._run(
                con,
                "SELECT key, failures, last_failure, locked_until FROM login_failures"
                f" WHERE substr(key, 1, ?) = ? AND {self.greatest}(last_failure, locked_until) >= ?"
                " ORDER BY last_failure DESC LIMIT 100",
                (len(prefix), prefix, since),
            ).fetchall()
        return [(str(k), int(f), float(last), float(until)) for k, f, last, until in rows]
