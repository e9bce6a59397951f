"""The delivery tables of the PostGIS store (issue 16): the SQL of tsukuba_gis/store/notify.py
run in one transaction on a pooled connection to the primary (the serving pool of the primary:
a worker's round is a dozen short transactions, each a new connection would cost more than it).

A lost connection (PostgreSQL restarting) is retried once by the pool, then StoreUnavailable:
the worker waits and tries again, and the transaction it was in left nothing behind.
"""

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from tsukuba_gis.store import notify
from tsukuba_gis.store.notify import NotifyTables, Run, T

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore

_TYPES = {"INTEGER PRIMARY KEY AUTOINCREMENT": "bigserial PRIMARY KEY", "REAL": "double precision"}


def _postgres(statement: str) -> str:
    for sqlite_type, pg_type in _TYPES.items():
        statement = statement.replace(sqlite_type, pg_type)
    return statement.replace("INTEGER", "bigint")


MIGRATION = [_postgres(statement) for statement in notify.MIGRATION]


class PostGISNotify(NotifyTables):
    """The delivery half of the PostGIS store (mixed into PostGISStore)."""

    def _notify_tx(self: "PostGISStore", work: Callable[[Run], T]) -> T:
        """``work`` in one transaction (the primary's pool, not the sticky writer connection: a
        subscription must not move the server's layer reads to the primary)."""

        def transaction(conn: psycopg.Connection) -> T:
            def run(statement: str, args: Sequence[Any]) -> list[tuple]:
                cursor = conn.execute(self._s(statement.replace("?", "%s")), tuple(args))
                return cursor.fetchall() if cursor.description else []

            with conn.transaction():
                return work(run)

        return self.primary_pool().run(transaction)
