"""Change records of the PostGIS store (issue 16): ``tg_change_records``, one row per changed
feature, written on the writer's connection inside its transaction (tsukuba_gis/store/outbox.py).

A sequence hands out ids at insert time, not at commit: two transactions could commit their
ids out of order and a delivery cursor would step over the later-committed lower id. The
inserts therefore take one advisory lock per schema, held to the commit, so ids grow in commit
order (writers of change records take turns only for the end of their transaction).
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from tsukuba_gis.store import outbox
from tsukuba_gis.store.base import ChangeRecord

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore

MIGRATION = [  # 5: change records (issue 16)
    """CREATE TABLE {s}.tg_change_records (
        id bigserial PRIMARY KEY, layer_id text NOT NULL, version integer NOT NULL,
        feature_id text NOT NULL, kind text NOT NULL CHECK (kind IN ('added', 'removed', 'modified')),
        fields jsonb NOT NULL, properties jsonb NOT NULL, geometry_changed boolean NOT NULL,
        min_x double precision, min_y double precision, max_x double precision,
        max_y double precision, x double precision, y double precision,
        at timestamptz NOT NULL, cause text NOT NULL)""",
    "CREATE INDEX tg_change_records_layer ON {s}.tg_change_records (layer_id, id)",
    "CREATE INDEX tg_change_records_at ON {s}.tg_change_records (at)",
]


def insert_records(conn: psycopg.Connection, schema: str, records: Sequence[ChangeRecord]) -> None:
    """Add records in the connection's open transaction (ids in commit order: module docstring)."""
    if not records:
        return
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"tsukuba-gis change records {schema}",)
    )
    marks = ", ".join(["%s"] * outbox.INSERT_COUNT)
    statement = sql.SQL(f"INSERT INTO {{s}}.tg_change_records ({outbox.INSERT_COLUMNS}) VALUES ({marks})")
    with conn.cursor() as cursor:
        cursor.executemany(statement.format(s=sql.Identifier(schema)), [outbox.row_of(r) for r in records])


class PostGISOutbox:
    """The change-record half of the PostGIS store (mixed into PostGISStore)."""

    def _change_rows(
        self: "PostGISStore", where: str, args: list[Any], order: str, limit: int
    ) -> list[ChangeRecord]:
        """Run the records query of Store.change_records on the primary: a delivery must not
        miss what a lagging replica has not seen yet."""
        statement = self._s(
            f"SELECT {outbox.COLUMNS} FROM {{s}}.tg_change_records WHERE {where.replace('?', '%s')}"
            f" ORDER BY id {order} LIMIT %s"
        )

        def read(conn: psycopg.Connection) -> list[ChangeRecord]:
            try:
                rows = conn.execute(statement, (*args, limit)).fetchall()
            except psycopg.errors.UndefinedTable:
                return []
            return [outbox.record_from_row(r) for r in rows]

        return self.primary_pool().run(read)

    def prune_change_records(self: "PostGISStore", keep_days: int) -> int:
        """Delete records older than ``keep_days`` in one short transaction."""
        self.migrate()
        statement = self._s("DELETE FROM {s}.tg_change_records WHERE at < %s")
        with self.connect_primary() as conn:
            count = conn.execute(statement, (outbox.cutoff(keep_days),)).rowcount
            conn.commit()
        return count
