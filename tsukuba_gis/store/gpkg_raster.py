"""Raster versions in the GeoPackage store: registry rows in ``tg_raster_versions``.

The COG files live under the raster directory (rasterfiles.py); this module keeps their
registry in the same SQLite file as the vector layers, so one ``BEGIN IMMEDIATE`` serialises
every writer and the generation counter moves with each raster switch.
"""

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsukuba_gis.errors import LayerNotFound, StoreError
from tsukuba_gis.store.base import RasterRecord
from tsukuba_gis.store.rasterfiles import RASTER_COLUMNS, FileRasterWriter, orphans, record_from_row, to_row

if TYPE_CHECKING:
    from tsukuba_gis.store.gpkg import GeoPackageStore

MIGRATION = [
    """CREATE TABLE tg_raster_versions (
        layer_id TEXT NOT NULL, version INTEGER NOT NULL, current INTEGER NOT NULL DEFAULT 0,
        file TEXT NOT NULL, checksum TEXT NOT NULL, size_bytes INTEGER NOT NULL, crs TEXT NOT NULL,
        width INTEGER NOT NULL, height INTEGER NOT NULL, band_count INTEGER NOT NULL,
        dtype TEXT NOT NULL, nodata REAL, resolution TEXT NOT NULL, bounds TEXT NOT NULL,
        bbox TEXT NOT NULL, bands TEXT NOT NULL, source_checksum TEXT NOT NULL,
        definition_checksum TEXT NOT NULL, loaded_at TEXT NOT NULL, duration_s REAL NOT NULL,
        decisions TEXT NOT NULL, PRIMARY KEY (layer_id, version))""",
    """CREATE UNIQUE INDEX tg_raster_versions_current ON tg_raster_versions (layer_id)
        WHERE current = 1""",
]
_COLUMNS = ", ".join(RASTER_COLUMNS)


def _bump(con: sqlite3.Connection) -> None:
    con.execute("UPDATE tg_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")


class GeoPackageRasters:
    """The raster half of the Store interface for GeoPackageStore (a mixin)."""

    def _raster_rows(self: "GeoPackageStore", where: str, args: tuple = ()) -> list[RasterRecord]:
        if not self.path.exists():
            return []
        try:
            rows = (
                self._reader()
                .execute(f"SELECT {_COLUMNS} FROM tg_raster_versions WHERE {where}", args)
                .fetchall()
            )
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []  # a store from before the raster migration: no raster loaded
            raise StoreError(f"cannot read the raster registry in {self.path}: {err}") from None
        return [record_from_row(dict(r)) for r in rows]

    def rasters(self: "GeoPackageStore") -> list[RasterRecord]:
        """The current version of every loaded raster layer, by id."""
        return self._raster_rows("current = 1 ORDER BY layer_id")

    def raster_history(self: "GeoPackageStore", layer_id: str) -> list[RasterRecord]:
        """Kept raster versions, newest first."""
        return self._raster_rows("layer_id = ? ORDER BY version DESC", (layer_id,))

    def current_raster(self: "GeoPackageStore", layer_id: str) -> RasterRecord | None:
        """The current version of one raster layer."""
        found = self._raster_rows("current = 1 AND layer_id = ?", (layer_id,))
        return found[0] if found else None

    def raster_version(self: "GeoPackageStore", layer_id: str, version: int) -> RasterRecord | None:
        """One kept raster version."""
        found = self._raster_rows("layer_id = ? AND version = ?", (layer_id, version))
        return found[0] if found else None

    def activate_raster(self: "GeoPackageStore", layer_id: str, version: int) -> RasterRecord:
        """Point the raster registry at a kept version (rollback) in one transaction."""
        self.migrate()
        con = self.connect(readonly=False)
        try:
            con.execute("BEGIN IMMEDIATE")
            hit = con.execute(
                "SELECT 1 FROM tg_raster_versions WHERE layer_id = ? AND version = ?", (layer_id, version)
            ).fetchone()
            if hit is None:
                con.execute("ROLLBACK")
                kept = [r.version for r in self.raster_history(layer_id)]
                raise LayerNotFound(f"raster layer {layer_id!r} has no version {version} (kept: {kept})")
            con.execute("UPDATE tg_raster_versions SET current = 0 WHERE layer_id = ?", (layer_id,))
            con.execute(
                "UPDATE tg_raster_versions SET current = 1 WHERE layer_id = ? AND version = ?",
                (layer_id, version),
            )
            _bump(con)
            con.execute("COMMIT")
        finally:
            con.close()
        return self.current_raster(layer_id)

    def raster_writer(
        self: "GeoPackageStore", layer_id: str, raster_dir: Path, version: int | None = None
    ) -> "GeoPackageRasterWriter":
        """Start a new raster version; see GeoPackageRasterWriter."""
        self.migrate()
        return GeoPackageRasterWriter(self, layer_id, raster_dir, version)


class GeoPackageRasterWriter(FileRasterWriter):
    """Registers a COG in one SQLite transaction (the write lock is taken only at commit)."""

    def __init__(self, store: "GeoPackageStore", layer_id: str, raster_dir: Path, version: int | None):
        super().__init__(layer_id, raster_dir, version)
        self.store = store

    def _register(
        self, place: Callable[[int, str], str], fields: dict[str, Any], make_current: bool
    ) -> tuple[RasterRecord, list[str]]:
        con = self.store.connect(readonly=False)
        try:
            con.execute("BEGIN IMMEDIATE")
            version = self._next_version(con)
            fields = {**fields, "layer_id": self.layer_id, "version": version, "current": make_current}
            fields["file"] = place(version, fields["checksum"])
            if make_current:
                con.execute("UPDATE tg_raster_versions SET current = 0 WHERE layer_id = ?", (self.layer_id,))
            row = to_row({**fields, "current": int(make_current)})
            con.execute(
                f"INSERT INTO tg_raster_versions ({_COLUMNS}) VALUES ({', '.join('?' for _ in row)})",
                tuple(row.values()),
            )
            unreferenced = self._prune(con)
            _bump(con)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()
        return record_from_row(row), unreferenced

    def _next_version(self, con: sqlite3.Connection) -> int:
        last = (
            con.execute(
                "SELECT MAX(version) FROM tg_raster_versions WHERE layer_id = ?", (self.layer_id,)
            ).fetchone()[0]
            or 0
        )
        if self.explicit_version is not None and self.explicit_version <= last:
            raise StoreError(
                f"cannot write raster {self.layer_id} v{self.explicit_version}:"
                f" {self.store.path} already has v{last}"
            )
        return self.explicit_version or last + 1

    def _prune(self, con: sqlite3.Connection) -> list[str]:
        rows = con.execute(
            "SELECT version, file FROM tg_raster_versions WHERE layer_id = ? AND current = 0"
            " ORDER BY version DESC",
            (self.layer_id,),
        ).fetchall()
        dropped = [file for _, file in rows[self.store.keep_versions - 1 :]]
        for version, _ in rows[self.store.keep_versions - 1 :]:
            con.execute(
                "DELETE FROM tg_raster_versions WHERE layer_id = ? AND version = ?", (self.layer_id, version)
            )
        kept = {
            r[0]
            for r in con.execute("SELECT file FROM tg_raster_versions WHERE layer_id = ?", (self.layer_id,))
        }
        stray = [f"{self.layer_id}/{p.name}" for p in orphans(self.layer_dir, kept, self.layer_id)]
        return [f for f in dropped if f not in kept] + stray
