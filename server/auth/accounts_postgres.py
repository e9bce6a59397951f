"""The account store in PostgreSQL, beside the PostGIS store: hosts behind a load balancer share
users, tokens, sessions and lock-out counters.

Chosen by itself when the layer store is PostGIS and ``TSUKUBA_GIS_AUTH_ACCOUNTS`` is unset:
the same database and schema as the layers (so ``tsukuba-gis backup`` dumps them too), its own
tables and a versioned migration (``account_migrations``) applied under an advisory lock.
The statements are server/auth/accounts_sql.py's (the SQLite store's too), with
``search_path`` set to the schema.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from server.auth.accounts import AccountError
from server.auth.accounts_sql import SQLAccountStore
from tsukuba_gis.store.postgis_settings import DatabaseSettings, redact, split_schema

MIGRATIONS = [
    [
        """CREATE TABLE users (
            username text PRIMARY KEY, role text NOT NULL CHECK (role IN ('staff', 'admin')),
            password_hash text NOT NULL, created double precision NOT NULL,
            password_changed double precision NOT NULL)""",
        """CREATE TABLE tokens (
            id text PRIMARY KEY,
            username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
            name text NOT NULL, digest text NOT NULL, created double precision NOT NULL,
            expires double precision, revoked double precision, last_used double precision)""",
        """CREATE TABLE sessions (
            digest text PRIMARY KEY,
            username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
            csrf_token text NOT NULL, created double precision NOT NULL,
            last_seen double precision NOT NULL, expires double precision NOT NULL)""",
        """CREATE TABLE login_failures (
            key text PRIMARY KEY, failures integer NOT NULL, last_failure double precision NOT NULL,
            locked_until double precision NOT NULL DEFAULT 0)""",
        "CREATE INDEX tokens_user ON tokens (username)",
    ],
    # 2 (issue 13): departments of users and tokens (comma-separated ids), token scopes, as in
    # the SQLite store's version 2.
    [
        "ALTER TABLE users ADD COLUMN departments text NOT NULL DEFAULT ''",
        "ALTER TABLE tokens ADD COLUMN scope text NOT NULL DEFAULT 'read'"
        " CHECK (scope IN ('read', 'edit', 'edit-unconditional'))",
        "ALTER TABLE tokens ADD COLUMN departments text",
    ],
    # 3: single sign-ons under way, as in the SQLite store's version 3.
    [
        """CREATE TABLE sso_logins (
            state_digest text PRIMARY KEY, verifier text NOT NULL, nonce text NOT NULL,
            expires double precision NOT NULL)""",
    ],
]
LOG = logging.getLogger(__name__)


class PostgresAccountStore(SQLAccountStore):
    """Accounts in the PostGIS store's database and schema.

    Attributes:
        schema: the schema (the store URL's ``schema`` parameter or ``TSUKUBA_GIS_DB_SCHEMA``).
    """

    scheme = "postgresql"
    mark, greatest, integrity_error = "%s", "GREATEST", psycopg.errors.IntegrityError

    def __init__(self, url: str):
        super().__init__(url)
        db = DatabaseSettings()
        self.dsn, self.schema = split_schema(url, db.schema_name)
        self.where = redact(url)
        self.migrated, self.connect_timeout = False, float(db.connect_timeout_s)
        self.pool = ConnectionPool(
            self.dsn,
            min_size=0,
            max_size=4,
            timeout=db.pool_timeout_s,
            open=True,
            kwargs={
                "autocommit": True,
                "connect_timeout": db.connect_timeout_s,
                "options": f"-c search_path={self.schema}",
            },
        )

    @contextmanager
    def _db(self) -> Iterator[psycopg.Connection]:
        if not self.migrated:  # the database was down when the server started
            self._apply_migrations()
        with self._connection() as con:
            yield con

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        try:
            with self.pool.connection(timeout=timeout) as con:
                yield con
        except psycopg.errors.IntegrityError:
            raise  # a constraint: the caller says what it means
        except (psycopg.OperationalError, PoolTimeout) as err:
            raise AccountError(f"the account store in {self.where} cannot be used: {err}") from None

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        with self._db() as con, con.transaction():
            yield con

    def migrate(self) -> None:
        """Apply the pending account migrations; a database that is down now is tried again at
        the first use (the server starts anyway, as with the layer store: sign-in answers 503)."""
        try:
            self._apply_migrations(timeout=self.connect_timeout)
        except AccountError as err:
            LOG.warning("%s; accounts will be migrated at first use", err)

    def _apply_migrations(self, timeout: float | None = None) -> None:
        with self._connection(timeout) as con, con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"accounts {self.schema}",))
            con.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            con.execute(
                "CREATE TABLE IF NOT EXISTS account_migrations (version integer PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in con.execute("SELECT version FROM account_migrations")}
            for number, statements in enumerate(MIGRATIONS, start=1):
                if number in done:
                    continue
                for statement in statements:
                    con.execute(statement)
                con.execute("INSERT INTO account_migrations (version) VALUES (%s)", (number,))
        self.migrated = True

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()
