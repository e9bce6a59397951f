"""Raster versions in the PostGIS store: registry rows in ``{schema}.tg_raster_versions``.

The rows live in PostgreSQL; the COG files under the raster directory that every host mounts
(see docs/deploy.md). A commit takes the layer's advisory lock (the one vector writers of the
same id take), renames the file and inserts the row in one transaction.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from tsukuba_gis.errors import LayerNotFound, StoreError
from tsukuba_gis.store.base import RasterRecord
from tsukuba_gis.store.postgis_write import layer_lock
from tsukuba_gis.store.rasterfiles import RASTER_COLUMNS, FileRasterWriter, orphans, record_from_row, to_row

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore

_COLUMNS = ", ".join(RASTER_COLUMNS)


class PostGISRasters:
    """The raster half of the Store interface for PostGISStore (a mixin)."""

    def _raster_rows(self: "PostGISStore", where: str, args: tuple = ()) -> list[RasterRecord]:
        statement = self._s(f"SELECT {_COLUMNS} FROM {{s}}.tg_raster_versions WHERE {where}")

        def read(conn: psycopg.Connection) -> list[RasterRecord]:
            try:
                with conn.cursor(row_factory=dict_row) as cursor:
                    return [record_from_row(r) for r in cursor.execute(statement, args).fetchall()]
            except psycopg.errors.UndefinedTable:
                return []  # not migrated yet: no raster loaded

        return self._read(read)

    def rasters(self: "PostGISStore") -> list[RasterRecord]:
        """The current version of every loaded raster layer, by id."""
        return self._raster_rows('current ORDER BY layer_id COLLATE "C"')

    def raster_history(self: "PostGISStore", layer_id: str) -> list[RasterRecord]:
        """Kept raster versions, newest first."""
        return self._raster_rows("layer_id = %s ORDER BY version DESC", (layer_id,))

    def current_raster(self: "PostGISStore", layer_id: str) -> RasterRecord | None:
        """The current version of one raster layer."""
        found = self._raster_rows("current AND layer_id = %s", (layer_id,))
        return found[0] if found else None

    def raster_version(self: "PostGISStore", layer_id: str, version: int) -> RasterRecord | None:
        """One kept raster version."""
        found = self._raster_rows("layer_id = %s AND version = %s", (layer_id, version))
        return found[0] if found else None

    def activate_raster(self: "PostGISStore", layer_id: str, version: int) -> RasterRecord:
        """Point the raster registry at a kept version (rollback) in one transaction."""
        self.migrate()
        with self.connect_primary() as conn:
            layer_lock(conn, self.schema, layer_id)
            hit = conn.execute(
                self._s("SELECT 1 FROM {s}.tg_raster_versions WHERE layer_id = %s AND version = %s"),
                (layer_id, version),
            ).fetchone()
            if hit is None:
                conn.rollback()
                kept = [r.version for r in self.raster_history(layer_id)]
                raise LayerNotFound(f"raster layer {layer_id!r} has no version {version} (kept: {kept})")
            # Two steps: the unique index allows one current row per layer at any moment.
            conn.execute(
                self._s("UPDATE {s}.tg_raster_versions SET current = false WHERE layer_id = %s AND current"),
                (layer_id,),
            )
            conn.execute(
                self._s(
                    "UPDATE {s}.tg_raster_versions SET current = true WHERE layer_id = %s AND version = %s"
                ),
                (layer_id, version),
            )
            self.bump_generation(conn)
            conn.commit()
        return self.current_raster(layer_id)

    def raster_writer(
        self: "PostGISStore", layer_id: str, raster_dir: Path, version: int | None = None
    ) -> "PostGISRasterWriter":
        """Start a new raster version; see PostGISRasterWriter."""
        self.migrate()
        return PostGISRasterWriter(self, layer_id, raster_dir, version)


class PostGISRasterWriter(FileRasterWriter):
    """Registers a COG in one PostgreSQL transaction (the layer lock is taken only at commit)."""

    def __init__(self, store: "PostGISStore", layer_id: str, raster_dir: Path, version: int | None):
        super().__init__(layer_id, raster_dir, version)
        self.store = store

    def _register(
        self, place: Callable[[int, str], str], fields: dict[str, Any], make_current: bool
    ) -> tuple[RasterRecord, list[str]]:
        s = self.store._s
        with self.store.connect_primary() as conn:
            layer_lock(conn, self.store.schema, self.layer_id)
            version = self._next_version(conn)
            fields = {**fields, "layer_id": self.layer_id, "version": version, "current": make_current}
            fields["file"] = place(version, fields["checksum"])
            if make_current:
                conn.execute(
                    s("UPDATE {s}.tg_raster_versions SET current = false WHERE layer_id = %s AND current"),
                    (self.layer_id,),
                )
            row = to_row(fields)
            marks = ", ".join("%s" for _ in row)
            conn.execute(
                s(f"INSERT INTO {{s}}.tg_raster_versions ({_COLUMNS}) VALUES ({marks})"),
                tuple(row.values()),
            )
            unreferenced = self._prune(conn)
            self.store.bump_generation(conn)
            conn.commit()  # leaving the block without it (an error) rolls back
        return record_from_row(row), unreferenced

    def _next_version(self, conn: psycopg.Connection) -> int:
        last = (
            conn.execute(
                self.store._s("SELECT max(version) FROM {s}.tg_raster_versions WHERE layer_id = %s"),
                (self.layer_id,),
            ).fetchone()[0]
            or 0
        )
        if self.explicit_version is not None and self.explicit_version <= last:
            raise StoreError(
                f"cannot write raster {self.layer_id} v{self.explicit_version}: the store at"
                f" {self.store.where} already has v{last}"
            )
        return self.explicit_version or last + 1

    def _prune(self, conn: psycopg.Connection) -> list[str]:
        s = self.store._s
        rows = conn.execute(
            s(
                "SELECT version, file FROM {s}.tg_raster_versions WHERE layer_id = %s AND NOT current"
                " ORDER BY version DESC"
            ),
            (self.layer_id,),
        ).fetchall()
        for version, _ in rows[self.store.keep_versions - 1 :]:
            conn.execute(
                s("DELETE FROM {s}.tg_raster_versions WHERE layer_id = %s AND version = %s"),
                (self.layer_id, version),
            )
        kept = {
            r[0]
            for r in conn.execute(
                s("SELECT file FROM {s}.tg_raster_versions WHERE layer_id = %s"), (self.layer_id,)
            ).fetchall()
        }
        dropped = [file for _, file in rows[self.store.keep_versions - 1 :] if file not in kept]
        return dropped + [f"{self.layer_id}/{p.name}" for p in orphans(self.layer_dir, kept, self.layer_id)]
