"""The delivery tables of the GeoPackage store (issue 16): the SQL of tsukuba_gis/store/notify.py
run on a writer connection, one ``BEGIN IMMEDIATE`` transaction each."""

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import notify
from tsukuba_gis.store.notify import NotifyTables, Run, T

if TYPE_CHECKING:
    from tsukuba_gis.store.gpkg import GeoPackageStore

MIGRATION = [statement.replace("{s}.", "") for statement in notify.MIGRATION]


class GeoPackageNotify(NotifyTables):
    """The delivery half of the GeoPackage store (mixed into GeoPackageStore)."""

    def _notify_tx(self: "GeoPackageStore", work: Callable[[Run], T]) -> T:
        """One write transaction; SQLite errors become StoreError naming the file."""
        if not getattr(self, "_notify_migrated", False):
            self.migrate()  # once per store object: the tables may be new in an old file
            self._notify_migrated = True
        con = self.connect(readonly=False)

        def run(statement: str, args: Sequence[Any]) -> list[tuple]:
            return [tuple(r) for r in con.execute(statement.replace("{s}.", ""), tuple(args)).fetchall()]

        try:
            con.execute("BEGIN IMMEDIATE")
            done = work(run)
            con.execute("COMMIT")
            return done
        except sqlite3.DatabaseError as err:
            con.rollback()
            raise StoreError(f"cannot read or write the delivery tables in {self.path}: {err}") from None
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()
