"""The account store in PostgreSQL, beside the PostGIS store: hosts behind a load balancer share
users, tokens, sessions and lock-out counters.

Chosen by itself when the layer store is PostGIS and ``TSUKUBA_GIS_AUTH_ACCOUNTS`` is unset:
the same database and schema as the layers (so ``tsukuba-gis backup`` dumps them too), its own
tables and a versioned migration (``account_migrations``) applied under an advisory lock.
The statements are the SQLite store's, with ``search_path`` set to the schema.
"""

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from server.auth.accounts import (
    AccountError,
    AccountStore,
    Role,
    SessionRecord,
    TokenRecord,
    User,
    normalize_departments,
)
from server.auth.accounts_sqlite import TOKEN_COLUMNS, USER_COLUMNS, _joined, _token, _user
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
]
SESSION_COLUMNS = "digest, username, csrf_token, created, last_seen, expires"
LOG = logging.getLogger(__name__)


class PostgresAccountStore(AccountStore):
    """Accounts in the PostGIS store's database and schema.

    Attributes:
        schema: the schema (the store URL's ``schema`` parameter or ``TSUKUBA_GIS_DB_SCHEMA``).
    """

    scheme = "postgresql"

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
                    f"INSERT INTO users ({USER_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                    (user.username, user.role, user.password_hash, now, now, _joined(user.departments)),
                )
        except psycopg.errors.IntegrityError:
            raise AccountError(f"user {username!r} already exists") from None
        return user

    def get_user(self, username: str) -> User | None:
        """One account, or None."""
        with self._db() as con:
            row = con.execute(f"SELECT {USER_COLUMNS} FROM users WHERE username = %s", (username,)).fetchone()
        return _user(row) if row else None

    def set_departments(self, username: str, departments: Sequence[str]) -> bool:
        """Replace the departments of an account (its tokens keep their own subsets)."""
        joined = _joined(normalize_departments(departments))
        with self._transaction() as con:
            changed = con.execute("UPDATE users SET departments = %s WHERE username = %s", (joined, username))
        return changed.rowcount > 0

    def list_users(self) -> list[User]:
        """Every account, by name."""
        with self._db() as con:
            return [_user(r) for r in con.execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY 1")]

    def remove_user(self, username: str) -> bool:
        """Delete an account with its tokens and sessions (foreign keys cascade)."""
        with self._transaction() as con:
            return con.execute("DELETE FROM users WHERE username = %s", (username,)).rowcount > 0

    def set_password(self, username: str, password_hash: str) -> bool:
        """Replace the password hash and end the user's sessions."""
        with self._transaction() as con:
            changed = con.execute(
                "UPDATE users SET password_hash = %s, password_changed = %s WHERE username = %s",
                (password_hash, time.time(), username),
            )
            con.execute("DELETE FROM sessions WHERE username = %s", (username,))
        return changed.rowcount > 0

    # -- tokens ------------------------------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        """Keep a new token record."""
        try:
            with self._transaction() as con:
                con.execute(
                    f"INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        except psycopg.errors.IntegrityError:
            raise AccountError(f"no user {token.username!r} (or a token id collision)") from None

    def get_token(self, token_id: str) -> TokenRecord | None:
        """One token record by id."""
        with self._db() as con:
            row = con.execute(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = %s", (token_id,)).fetchone()
        return _token(row) if row else None

    def list_tokens(self, username: str | None = None) -> list[TokenRecord]:
        """Token records (of one user), newest first."""
        where, args = ("WHERE username = %s", (username,)) if username else ("", ())
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
                    "UPDATE tokens SET revoked = %s WHERE id = %s AND revoked IS NULL", (when, token_id)
                ).rowcount
                > 0
            )

    def touch_token(self, token_id: str, when: float) -> None:
        """Record when a token was last used."""
        with self._db() as con:
            con.execute("UPDATE tokens SET last_used = %s WHERE id = %s", (when, token_id))

    # -- sessions ----------------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None:
        """Keep a new session and drop expired ones."""
        with self._transaction() as con:
            con.execute("DELETE FROM sessions WHERE expires <= %s", (session.created,))
            con.execute(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
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
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = %s", (digest,)
            ).fetchone()
        return SessionRecord(*row) if row else None

    def touch_session(self, digest: str, when: float) -> None:
        """Record activity (for the idle timeout)."""
        with self._db() as con:
            con.execute("UPDATE sessions SET last_seen = %s WHERE digest = %s", (when, digest))

    def delete_session(self, digest: str) -> None:
        """End one session."""
        with self._db() as con:
            con.execute("DELETE FROM sessions WHERE digest = %s", (digest,))

    # -- failed logins -----------------------------------------------------------------------

    def record_failure(self, key: str, when: float, window: float) -> int:
        """Count one failure; the count restarts after ``window`` quiet seconds past any lock."""
        with self._transaction() as con:
            con.execute(
                "DELETE FROM login_failures WHERE GREATEST(last_failure, locked_until) < %s", (when - window,)
            )
            row = con.execute(
                "INSERT INTO login_failures (key, failures, last_failure) VALUES (%s, 1, %s)"
                " ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1,"
                " last_failure = excluded.last_failure RETURNING failures",
                (key, when),
            ).fetchone()
        return int(row[0])

    def set_lock(self, key: str, until: float) -> None:
        """Refuse attempts for a key until a time."""
        with self._db() as con:
            con.execute(
                "UPDATE login_failures SET locked_until = GREATEST(locked_until, %s) WHERE key = %s",
                (until, key),
            )

    def locked_until(self, keys: list[str], now: float) -> float:
        """The latest lock end among keys still locked at ``now`` (0 when none is)."""
        with self._db() as con:
            row = con.execute(
                "SELECT MAX(locked_until) FROM login_failures WHERE key = ANY(%s) AND locked_until > %s",
                (list(keys), now),
            ).fetchone()
        return float(row[0] or 0)

    def clear_failures(self, key: str) -> None:
        """Forget the failures of a key."""
        with self._db() as con:
            con.execute("DELETE FROM login_failures WHERE key = %s", (key,))

    def list_failures(self, prefix: str, since: float) -> list[tuple[str, int, float, float]]:
        """The counted failures of keys starting with ``prefix`` (a plain prefix, no pattern)."""
        with self._db() as con:
            rows = con.execute(
                "SELECT key, failures, last_failure, locked_until FROM login_failures"
                " WHERE substr(key, 1, %s) = %s AND GREATEST(last_failure, locked_until) >= %s"
                " ORDER BY last_failure DESC LIMIT 100",
                (len(prefix), prefix, since),
            ).fetchall()
        return [(str(k), int(f), float(last), float(until)) for k, f, last, until in rows]
