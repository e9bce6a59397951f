"""Residents' reports in the GeoPackage store (issue 17): the statements of store/reports.py on
SQLite, one short write transaction each."""

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import reports
from tsukuba_gis.store.reports import ReportStore

if TYPE_CHECKING:
    from tsukuba_gis.store.gpkg import GeoPackageStore

MIGRATION = [m.replace("{s}.", "").replace("DOUBLE PRECISION", "REAL") for m in reports.MIGRATION]


class GeoPackageReports(ReportStore):
    """The reports half of the GeoPackage store (mixed into GeoPackageStore)."""

    def _report_rows(self: "GeoPackageStore", statement: str, args: Sequence[Any]) -> list[Sequence[Any]]:
        """Rows of one read statement (none while the store has no reports table yet)."""
        if not self.path.exists():
            return []
        try:
            return self._reader().execute(statement.replace("{s}.", ""), tuple(args)).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []
            raise StoreError(f"cannot read the reports in {self.path}: {err}") from None

    def _report_tx(self: "GeoPackageStore", statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run write statements in one transaction (migrating the store first, once)."""
        if not getattr(self, "_reports_migrated", False):
            self.migrate()
            self._reports_migrated = True
        con = self.connect(readonly=False)
        try:
            con.execute("BEGIN IMMEDIATE")
            counts = [con.execute(s.replace("{s}.", ""), tuple(a)).rowcount for s, a in statements]
            con.execute("COMMIT")
            return counts
        except sqlite3.IntegrityError as err:
            con.execute("ROLLBACK")
            raise StoreError(f"a report could not be saved in {self.path}: {err}") from None
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()
