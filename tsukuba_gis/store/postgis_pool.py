"""Connections of the PostGIS store: a pool for serving reads, plain connections for writes.

A server must answer ``/health`` quickly while PostgreSQL is down and recover by itself when it
comes back. psycopg_pool alone waits ``pool_timeout_s`` for a connection that cannot be made and
retries with a growing back-off, so this module adds a small breaker: once the database is seen
down, calls fail at once, one call per second probes with a direct connection, and the first
successful probe replaces the pool (fresh connections at once, no back-off to sit out).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.string import TextLoader
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from tsukuba_gis.errors import QueryTimeout, StoreBusy, StoreError, StoreUnavailable
from tsukuba_gis.store.postgis_settings import DatabaseSettings, describe

LOG = logging.getLogger(__name__)
T = TypeVar("T")
PROBE_INTERVAL_S = 1.0


def conninfo(url: str, settings: DatabaseSettings, name: str, serving: bool) -> str:
    """A libpq connection string: timeouts, an application name, and for serving a time limit."""
    extra: dict[str, object] = {
        "connect_timeout": settings.connect_timeout_s,
        "fallback_application_name": name,
    }
    if serving and settings.statement_timeout_ms:
        options = conninfo_to_dict(url).get("options") or ""
        extra["options"] = f"{options} -c statement_timeout={settings.statement_timeout_ms}".strip()
    try:
        return make_conninfo(url, **extra)
    except psycopg.ProgrammingError as err:
        raise StoreError(f"the store URL for {describe(url)} is not a valid PostgreSQL DSN: {err}") from None


def _configure(conn: psycopg.Connection) -> None:
    # Dates come back as ISO text, as the GeoPackage store returns them: API answers and files
    # are the same whichever store holds the layer.
    conn.adapters.register_loader("date", TextLoader)


def connect(info: str, where: str, autocommit: bool = False) -> psycopg.Connection:
    """A dedicated connection (writers, migrations): StoreUnavailable when it cannot be made."""
    try:
        conn = psycopg.connect(info, autocommit=autocommit)
    except psycopg.OperationalError as err:
        raise StoreUnavailable(
            f"cannot connect to the PostGIS store at {where}: {_first(err)};"
            " check that PostgreSQL runs and the DSN is right"
        ) from None
    _configure(conn)
    return conn


def _first(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


class ReadPool:
    """The pool serving reads of one DSN, with the down-database breaker.

    Attributes:
        where: ``host:port/db`` for messages.
    """

    def __init__(self, info: str, where: str, settings: DatabaseSettings):
        self.info, self.where, self.settings = info, where, settings
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self._rebuild = threading.Lock()
        self._down = False
        self._next_probe = 0.0

    def run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Call ``fn`` with a pooled connection; retried once on a connection lost meanwhile."""
        for attempt in (1, 2):
            pool = self._ready()
            try:
                return self._attempt(pool, fn)
            except _Broken as err:
                if attempt == 2 or not self._probe():
                    raise self._unavailable(str(err)) from None
                try:  # drop every idle connection a restart killed, not only this one
                    pool.check()
                except PoolClosed:
                    pass  # replaced meanwhile: _ready() hands out the new one
        raise AssertionError("unreachable")

    def _attempt(self, pool: ConnectionPool, fn: Callable[[psycopg.Connection], T]) -> T:
        try:
            conn = pool.getconn(timeout=self.settings.pool_timeout_s)
        except PoolClosed:
            raise _Broken("the pool was replaced") from None
        except PoolTimeout:
            if not self._probe():
                raise self._unavailable("no connection could be made") from None
            raise StoreBusy(
                f"all {self.settings.pool_max_size} connections to {self.where} stayed"
                f" busy for {self.settings.pool_timeout_s} s; raise"
                " TSUKUBA_GIS_DB_POOL_MAX_SIZE or add server processes"
            ) from None
        try:
            return fn(conn)
        except psycopg.errors.QueryCanceled:
            raise QueryTimeout(
                f"a query on {self.where} ran longer than"
                f" {self.settings.statement_timeout_ms} ms"
                " (TSUKUBA_GIS_DB_STATEMENT_TIMEOUT_MS)"
            ) from None
        except (psycopg.OperationalError, psycopg.InterfaceError, psycopg.errors.SerializationFailure) as err:
            # SerializationFailure: a replica cancelled the query to replay a pruned table's drop.
            if conn.broken or conn.closed or isinstance(err, psycopg.errors.SerializationFailure):
                raise _Broken(_first(err)) from None
            raise StoreError(f"the PostGIS store at {self.where} failed: {_first(err)}") from None
        except psycopg.Error as err:
            raise StoreError(f"a query on {self.where} failed: {_first(err)}") from None
        finally:
            pool.putconn(conn)

    def _ready(self) -> ConnectionPool:
        """The pool, or StoreUnavailable at once while the database is known to be down."""
        pool = self._healthy()
        if pool is not None:
            return pool
        with self._rebuild:  # one thread probes and rebuilds; the others wait, then re-check
            pool = self._healthy()
            if pool is not None:
                return pool
            if not self._probe():
                raise self._unavailable("no connection could be made")
            with self._lock:
                old, self._pool = self._pool, self._new_pool()
                pool = self._pool
        if old is not None:
            old.close(timeout=0)  # connections in use are closed when their users return them
        return pool

    def _healthy(self) -> ConnectionPool | None:
        with self._lock:
            if self._pool is not None and not self._down:
                return self._pool
            if self._down and time.monotonic() < self._next_probe:
                raise self._unavailable("it did not answer a moment ago")
        return None

    def _new_pool(self) -> ConnectionPool:
        s = self.settings
        pool = ConnectionPool(
            self.info,
            min_size=s.pool_min_size,
            max_size=max(s.pool_max_size, s.pool_min_size),
            kwargs={"autocommit": True, "prepare_threshold": s.prepare_threshold},
            configure=_configure,
            name=self.where,
            timeout=s.pool_timeout_s,
            reconnect_timeout=60.0,
            open=False,
        )
        pool.open(wait=False)
        return pool

    def _probe(self) -> bool:
        """Whether a direct connection can be made now (bounded by connect_timeout)."""
        try:
            psycopg.connect(self.info, autocommit=True).close()
        except psycopg.OperationalError as err:
            LOG.warning("PostGIS store at %s unavailable: %s", self.where, _first(err))
            with self._lock:
                self._down, self._next_probe = True, time.monotonic() + PROBE_INTERVAL_S
            return False
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            LOG.warning("PostGIS store at %s is back", self.where)
        return True

    def _unavailable(self, why: str) -> StoreUnavailable:
        return StoreUnavailable(
            f"the PostGIS store at {self.where} is unavailable ({why}); check that PostgreSQL runs"
        )

    def close(self) -> None:
        """Close the pool (its connections close as their users return them)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(timeout=1)


class _Broken(StoreError):
    """A pooled connection turned out dead (server restarted, network cut); retried at once."""


_POOLS: dict[str, ReadPool] = {}
_POOLS_LOCK = threading.Lock()


def read_pool(info: str, where: str, settings: DatabaseSettings) -> ReadPool:
    """The process-wide pool for a connection string (store instances of one DSN share it)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(info)
        if pool is None:
            pool = _POOLS[info] = ReadPool(info, where, settings)
        return pool
