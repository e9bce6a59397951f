"""The account store in a SQLite file next to the GeoPackage store (WAL: many workers, one file)."""

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from server.auth.accounts import (
    AccountError,
    AccountStore,
    Role,
    SessionRecord,
    TokenRecord,
    User,
    normalize_departments,
)

SCHEMA_VERSION = 2
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
        password_hash TEXT NOT NULL, created REAL NOT NULL, password_changed REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tokens (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        name TEXT NOT NULL, digest TEXT NOT NULL, created REAL NOT NULL,
        expires REAL, revoked REAL, last_used REAL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        digest TEXT PRIMARY KEY,
        username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL, created REAL NOT NULL, last_seen REAL NOT NULL,
        expires REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS login_failures (
        key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_failure REAL NOT NULL,
        locked_until REAL NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS tokens_user ON tokens (username)",
]
# Version 2 (issue 13): departments of users and tokens (comma-separated ids), token scopes.
# Tokens made before could only read (nothing could be written then): they stay read-only.
MIGRATIONS = {
    2: [
        "ALTER TABLE users ADD COLUMN departments TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read'"
        " CHECK (scope IN ('read', 'edit', 'edit-unconditional'))",
        "ALTER TABLE tokens ADD COLUMN departments TEXT",
    ],
}
USER_COLUMNS = "username, role, password_hash, created, password_changed, departments"
TOKEN_COLUMNS = "id, username, name, digest, created, expires, revoked, last_used, scope, departments"


def _joined(departments: Sequence[str] | None) -> str | None:
    return None if departments is None else ",".join(departments)


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(d for d in text.split(",") if d)


def _user(row: tuple) -> User:
    return User(*row[:5], departments=_split(row[5]) or ())


def _token(row: tuple) -> TokenRecord:
    return TokenRecord(*row[:8], scope=row[8], departments=_split(row[9]))


SESSION_COLUMNS = "digest, username, csrf_token, created, last_seen, expires"


class SQLiteAccountStore(AccountStore):
    """Accounts in one SQLite file, readable only by its owner (it holds password hashes).

    Attributes:
        path: the ``.sqlite`` file.
    """

    scheme = "sqlite"

    def __init__(self, url: str):
        super().__init__(url)
        self.path = Path(url.removeprefix("sqlite://"))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: cheap for SQLite, and safe across threads and workers.
        try:
            con = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        except sqlite3.OperationalError as err:
            raise AccountError(f"the account store {self.path} cannot be opened: {err}") from None
        try:
            con.execute("PRAGMA foreign_keys = ON")
            # WAL + NORMAL: durable against crashes of the process; a power cut may lose the
            # last sessions or counters, which is harmless (sign in again).
            con.execute("PRAGMA synchronous = NORMAL")
            yield con
        except sqlite3.IntegrityError:
            raise  # a constraint: the caller says what it means
        except sqlite3.DatabaseError as err:  # locked too long, disk full, damaged file
            raise AccountError(f"the account store {self.path} cannot be used: {err}") from None
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def migrate(self) -> None:
        """Create the file (mode 0600) and the tables."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        with self._db() as con:
            con.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
            if con.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return
            con.execute("BEGIN IMMEDIATE")
            version = con.execute("PRAGMA user_version").fetchone()[0]  # again, under the lock
            if version < 1:
                for statement in SCHEMA:
                    con.execute(statement)
            for number in range(max(version, 1) + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number]:
                    con.execute(statement)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            con.execute("COMMIT")

    # -- users -------------------------------------------------------------------------------

    def add_user(
        self, username: str, role: Role, password_hash: str, departments: Sequence[str] = ()
    ) -> User:
        """Create an account; AccountError if the name is taken."""
        now = time.time()
        user = User(username, role, password_hash, now, now, normalize_departments(departments))
        try:
            with self._transaction() as con:
                con.execute(
                    f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (user.username, user.role, user.password_hash, now, now, _joined(user.departments)),
                )
        except sqlite3.IntegrityError:
            raise AccountError(f"user {username!r} already exists") from None
        return user

    def set_departments(self, username: str, departments: Sequence[str]) -> bool:
        """Replace the departments of an account (its tokens keep their own subsets)."""
        joined = _joined(normalize_departments(departments))
        with self._transaction() as con:
            changed = con.execute("UPDATE users SET departments = ? WHERE username = ?", (joined, username))
        return changed.rowcount > 0

    def get_user(self, username: str) -> User | None:
        """One account, or None."""
        with self._db() as con:
            row = con.execute(f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,)).fetchone()
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        """Every account, by name."""
        with self._db() as con:
            return [_user(r) for r in con.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY 1")]

    def remove_user(self, username: str) -> bool:
        """Delete an account with its tokens and sessions (foreign keys cascade)."""
        with self._transaction() as con:
            return con.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount > 0

    def set_password(self, username: str, password_hash: str) -> bool:
        """Replace the password hash and end the user's sessions."""
        with self._transaction() as con:
            changed = con.execute(
                "UPDATE users SET password_hash = ?, password_changed = ? WHERE username = ?",
                (password_hash, time.time(), username),
            )
            con.execute("DELETE FROM sessions WHERE username = ?", (username,))
        return changed.rowcount > 0

    # -- tokens ------------------------------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        """Keep a new token record."""
        try:
            with self._transaction() as con:
                con.execute(
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
        except sqlite3.IntegrityError:
            raise AccountError(f"no user {token.username!r} (or a token id collision)") from None

    def get_token(self, token_id: str) -> TokenRecord | None:
        """One token record by id."""
        with self._db() as con:
            row = con.execute(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        return _token(row) if row else None

    def list_tokens(self, username: str | None = None) -> list[TokenRecord]:
        """Token records (of one user), newest first."""
        where, args = ("WHERE username = ?", (username,)) if username else ("", ())
        with self._db() as con:
            rows = con.execute(
                f"SELECT {TOKEN_COLUMNS} FROM tokens {where} ORDER BY created DESC", args
            ).fetchall()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str, when: float) -> bool:
        """Mark a token revoked; False if there is no such unrevoked token."""
        with self._transaction() as con:
            return (
                con.execute(
                    "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (when, token_id)
                ).rowcount
                > 0
            )

    def touch_token(self, token_id: str, when: float) -> None:
        """Record when a token was last used."""
        with self._db() as con:
            con.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (when, token_id))

    # -- sessions ----------------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None:
        """Keep a new session and drop expired ones."""
        with self._transaction() as con:
            con.execute("DELETE FROM sessions WHERE expires <= ?", (session.created,))
            con.execute(
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
            row = con.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = ?", (digest,)
            ).fetchone()
        return SessionRecord(*row) if row else None

    def touch_session(self, digest: str, when: float) -> None:
        """Record activity (for the idle timeout)."""
        with self._db() as con:
            con.execute("UPDATE sessions SET last_seen = ? WHERE digest = ?", (when, digest))

    def delete_session(self, digest: str) -> None:
        """End one session."""
        with self._db() as con:
            con.execute("DELETE FROM sessions WHERE digest = ?", (digest,))

    # -- failed logins -----------------------------------------------------------------------

    def record_failure(self, key: str, when: float, window: float) -> int:
        """Count one failure; the count restarts after ``window`` quiet seconds past any lock."""
        with self._transaction() as con:
            con.execute(
                "DELETE FROM login_failures WHERE MAX(last_failure, locked_until) < ?", (when - window,)
            )
            row = con.execute(
                "INSERT INTO login_failures (key, failures, last_failure) VALUES (?, 1, ?)"
                " ON CONFLICT (key) DO UPDATE SET failures = failures + 1,"
                " last_failure = excluded.last_failure RETURNING failures",
                (key, when),
            ).fetchone()
        return int(row[0])

    def set_lock(self, key: str, until: float) -> None:
        """Refuse attempts for a key until a time."""
        with self._db() as con:
            con.execute(
                "UPDATE login_failures SET locked_until = MAX(locked_until, ?) WHERE key = ?", (until, key)
            )

    def locked_until(self, keys: list[str], now: float) -> float:
        """The latest lock end among keys still locked at ``now`` (0 when none is)."""
        marks = ", ".join("?" * len(keys))
        with self._db() as con:
            row = con.execute(
                f"SELECT MAX(locked_until) FROM login_failures WHERE key IN ({marks}) AND locked_until > ?",
                (*keys, now),
            ).fetchone()
        return float(row[0] or 0)

    def clear_failures(self, key: str) -> None:
        """Forget the failures of a key."""
        with self._db() as con:
            con.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    def list_failures(self, prefix: str, since: float) -> list[tuple[str, int, float, float]]:
        """The counted failures of keys starting with ``prefix`` (a plain prefix, no pattern)."""
        with self._db() as con:
            rows = con.execute(
                "SELECT key, failures, last_failure, locked_until FROM login_failures"
                " WHERE substr(key, 1, ?) = ? AND MAX(last_failure, locked_until) >= ?"
                " ORDER BY last_failure DESC LIMIT 100",
                (len(prefix), prefix, since),
            ).fetchall()
        return [(str(k), int(f), float(last), float(until)) for k, f, last, until in rows]
