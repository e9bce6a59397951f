"""The account store in a SQLite file next to the GeoPackage store (WAL: many workers, one file)."""

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.auth.accounts import AccountError
from server.auth.accounts_sql import SQLAccountStore

SCHEMA_VERSION = 3
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
    # Version 3: single sign-ons under way (state digest -> PKCE verifier and nonce).
    3: [
        """CREATE TABLE sso_logins (
            state_digest TEXT PRIMARY KEY, verifier TEXT NOT NULL, nonce TEXT NOT NULL,
            expires REAL NOT NULL)""",
    ],
}


class SQLiteAccountStore(SQLAccountStore):
    """Accounts in one SQLite file, readable only by its owner (it holds password hashes).

    The statements are server/auth/accounts_sql.py's.

    Attributes:
        path: the ``.sqlite`` file.
    """

    scheme = "sqlite"
    mark, greatest, integrity_error = "?", "MAX", sqlite3.IntegrityError

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
