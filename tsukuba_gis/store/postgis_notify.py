"""The delivery tables of the PostGIS store (issue 16): the SQL of tsukuba_gis/store/notify.py
run on a dedicated connection to the primary, one transaction each.

A lost connection (PostgreSQL restarting) is StoreUnavailable: the worker waits and tries again,
and the transaction it was in left nothing behind.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg

from tsukuba_gis.errors import StoreUnavailable
from tsukuba_gis.store import notify
from tsukuba_gis.store.notify import NotifyTables, Run
from tsukuba_gis.store.postgis_pool import connect

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

    @contextmanager
    def _notify_tx(self: "PostGISStore") -> Iterator[Run]:
        """One transaction on a new connection to the primary (not the sticky one of writes:
        a subscription must not move the server's layer reads to the primary)."""
        conn = connect(self._primary, self.where)

        def run(statement: str, args: Sequence[Any]) -> list[tuple]:
            cursor = conn.execute(self._s(statement.replace("?", "%s")), tuple(args))
            return cursor.fetchall() if cursor.description else []

        try:
            with conn.transaction():
                yield run
        except psycopg.OperationalError as err:
            raise StoreUnavailable(f"the PostGIS store at {self.where} went away: {err}") from None
        finally:
            conn.close()
