"""Change records of the GeoPackage store (issue 16): ``tg_change_records``, one row per changed
feature, written on the writer's connection inside its transaction (tsukuba_gis/store/outbox.py).

SQLite has one writer at a time, so AUTOINCREMENT ids grow in commit order.
"""

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import outbox
from tsukuba_gis.store.base import ChangeRecord

if TYPE_CHECKING:
    from tsukuba_gis.store.gpkg import GeoPackageStore

MIGRATION = [  # 4: change records (issue 16)
    """CREATE TABLE tg_change_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT, layer_id TEXT NOT NULL, version INTEGER NOT NULL,
        feature_id TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'modified')),
        fields TEXT NOT NULL, properties TEXT NOT NULL, geometry_changed INTEGER NOT NULL,
        min_x REAL, min_y REAL, max_x REAL, max_y REAL, x REAL, y REAL,
        at TEXT NOT NULL, cause TEXT NOT NULL)""",
    "CREATE INDEX tg_change_records_layer ON tg_change_records (layer_id, id)",
    "CREATE INDEX tg_change_records_at ON tg_change_records (at)",
]


def insert_records(con: sqlite3.Connection, records: Sequence[ChangeRecord]) -> None:
    """Add records in the connection's open transaction."""
    marks = ", ".join("?" * outbox.INSERT_COUNT)
    con.executemany(
        f"INSERT INTO tg_change_records ({outbox.INSERT_COLUMNS}) VALUES ({marks})",
        [outbox.row_of(r) for r in records],
    )


class GeoPackageOutbox:
    """The change-record half of the GeoPackage store (mixed into GeoPackageStore)."""

    def _records_layer_term(self: "GeoPackageStore", layers: int) -> str:
        """``+layer_id`` (SQLite's way to keep a term off an index) for several layers: the
        layer index would gather every record of them and sort, where the id order reads the
        newest and stops at the page's end (200,000 records: a 1 km box 34 -> 1 ms, bench/feeds.py)."""
        return "layer_id" if layers == 1 else "+layer_id"

    def _change_rows(
        self: "GeoPackageStore", where: str, args: list[Any], order: str, limit: int
    ) -> list[ChangeRecord]:
        """Run the records query of Store.change_records."""
        if not self.path.exists():
            return []
        statement = f"SELECT {outbox.COLUMNS} FROM tg_change_records WHERE {where} ORDER BY id {order}"
        statement += " LIMIT ?"
        try:
            rows = self._reader().execute(statement, (*args, limit)).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []
            raise StoreError(f"cannot read the change records in {self.path}: {err}") from None
        return [outbox.record_from_row(r) for r in rows]

    def prune_change_records(self: "GeoPackageStore", keep_days: int) -> int:
        """Delete records older than ``keep_days`` in one short transaction."""
        self.migrate()
        con = self.connect(readonly=False)
        try:
            cur = con.execute("DELETE FROM tg_change_records WHERE at < ?", (outbox.cutoff(keep_days),))
            return cur.rowcount
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot prune the change records in {self.path}: {err}") from None
        finally:
            con.close()
