"""Residents' reports in the PostGIS store (issue 17): the statements of store/reports.py on
PostgreSQL (``?`` becomes ``%s``), writes on the primary in one transaction each."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import reports
from tsukuba_gis.store.reports import ReportStore

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore

MIGRATION = reports.MIGRATION


class PostGISReports(ReportStore):
    """The reports half of the PostGIS store (mixed into PostGISStore)."""

    def _report_rows(self: "PostGISStore", statement: str, args: Sequence[Any]) -> list[Sequence[Any]]:
        """Rows of one read statement, on the primary (a staff step reads what it just wrote)."""
        query = self._s(statement.replace("?", "%s"))

        def read(conn: psycopg.Connection) -> list[Sequence[Any]]:
            try:
                return conn.execute(query, tuple(args)).fetchall()
            except psycopg.errors.UndefinedTable:
                return []

        return self.primary_pool().run(read)

    def _report_tx(self: "PostGISStore", statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run write statements in one transaction (migrating the schema first, once)."""
        if not getattr(self, "_reports_migrated", False):
            self.migrate()
            self._reports_migrated = True
        with self.connect_primary() as conn:
            try:
                counts = [
                    conn.execute(self._s(s.replace("?", "%s")), tuple(a)).rowcount for s, a in statements
                ]
            except psycopg.errors.IntegrityError as err:
                conn.rollback()
                raise StoreError(f"a report could not be saved: {err.diag.message_primary}") from None
            conn.commit()
        return counts
