"""The scale-out store: PostgreSQL + PostGIS, same layout and answers as the GeoPackage store.

A table per layer version (``l_<layer>_v<version>``, GiST index), a registry table pointing at
the current one, a quarantine table; an ETL writes a new table and moves the pointer in one
transaction (see postgis_write.py). The versioned tables are never changed after their commit,
so a reader needs no snapshot across statements: the page and its count always agree.

Reads go through a pool (postgis_pool.py), to the read replica when ``TSUKUBA_GIS_STORE_READ``
is set. An instance that has written a version or rolled one back reads from the primary from
then on, so an ETL's diff and publishers never miss its own commit on a lagging replica.
"""

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC
from typing import Any, TypeVar

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from pydantic import ValidationError

from tsukuba_gis.errors import LayerNotFound, StoreError
from tsukuba_gis.store import postgis_tiles
from tsukuba_gis.store.base import (
    ChangeRecord,
    Column,
    FeaturePage,
    LayerRecord,
    LayerWriter,
    Query,
    Reject,
    Store,
    TileRows,
    TileSpec,
)
from tsukuba_gis.store.postgis_edits import PostGISEdits
from tsukuba_gis.store.postgis_notify import PostGISNotify
from tsukuba_gis.store.postgis_outbox import PostGISOutbox, insert_records
from tsukuba_gis.store.postgis_pool import ReadPool, connect, conninfo, read_pool
from tsukuba_gis.store.postgis_query import ENVELOPE, run_query
from tsukuba_gis.store.postgis_raster import PostGISRasters
from tsukuba_gis.store.postgis_reports import PostGISReports
from tsukuba_gis.store.postgis_schema import migrate
from tsukuba_gis.store.postgis_settings import DatabaseSettings, describe, split_schema
from tsukuba_gis.store.postgis_tiles import PostGISTileCache
from tsukuba_gis.store.postgis_write import RECORD_COLUMNS, PostGISWriter, layer_lock

READ_COLUMNS = RECORD_COLUMNS + ", edit_seq, edited_at"

LOG = logging.getLogger(__name__)
T = TypeVar("T")


def _settings() -> DatabaseSettings:
    try:
        return DatabaseSettings()
    except ValidationError as err:  # the values are left out: a DSN may hold a password
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise StoreError(f"invalid TSUKUBA_GIS_DB_* setting: {problems}") from None


def record_of(row: tuple) -> LayerRecord:
    """A LayerRecord from a registry row (READ_COLUMNS)."""
    (
        layer_id,
        version,
        table,
        current,
        geometry_type,
        count,
        rejected,
        bbox,
        columns,
        id_column,
        source_checksum,
        definition_checksum,
        loaded_at,
        duration_s,
        crs,
        edit_seq,
        edited_at,
    ) = row
    return LayerRecord(
        layer_id=layer_id,
        version=version,
        table=table,
        current=current,
        geometry_type=geometry_type,
        feature_count=count,
        rejected_count=rejected,
        bbox=tuple(bbox) if bbox else None,
        columns=tuple(Column(**c) for c in columns),
        id_column=id_column,
        source_checksum=source_checksum,
        definition_checksum=definition_checksum,
        loaded_at=loaded_at.astimezone(UTC).isoformat(timespec="seconds"),
        duration_s=duration_s,
        crs=crs,
        edit_seq=edit_seq,
        edited_at=edited_at.astimezone(UTC).isoformat(timespec="milliseconds") if edited_at else None,
    )


class PostGISStore(PostGISEdits, PostGISOutbox, PostGISNotify, PostGISReports, PostGISRasters, Store):
    """Layers in one schema of a PostgreSQL database with PostGIS.

    Attributes:
        schema: the schema of this environment (URL ``?schema=`` or TSUKUBA_GIS_DB_SCHEMA).
        where: ``host:port/db schema`` for messages (no user, no password).
        settings: pool sizes, timeouts, the read DSN.
    """

    scheme = "postgresql"

    def __init__(self, url: str, keep_versions: int = 5, settings: DatabaseSettings | None = None):
        super().__init__(url, keep_versions)
        # The server's provider gets only the URL (from pygeoapi's config): tuning comes from
        # the environment, read here, where a settings object cannot be passed down.
        self.settings = settings or _settings()
        self._dsn, self.schema = split_schema(url, self.settings.schema_name)
        self.where = f"{describe(self._dsn)} schema {self.schema}"
        self._primary = conninfo(self._dsn, self.settings, "tsukuba-gis writer", serving=False)
        read_dsn = self.settings.read_url or self._dsn
        self._read_info = conninfo(read_dsn, self.settings, "tsukuba-gis", serving=True)
        self._read_where = f"{describe(read_dsn)} schema {self.schema}"
        self._sticky_primary = False

    # -- connections -------------------------------------------------------------------------

    def connect_primary(self) -> psycopg.Connection:
        """A dedicated connection to the primary (writes); reads stay on it from now on."""
        self._sticky_primary = True
        return connect(self._primary, self.where)

    def primary_pool(self) -> ReadPool:
        """The pool of serving connections to the primary (tile cache, reads after a write)."""
        info = conninfo(self._dsn, self.settings, "tsukuba-gis", serving=True)
        return read_pool(info, self.where, self.settings)

    def _pool(self) -> ReadPool:
        if self._sticky_primary:
            return self.primary_pool()
        return read_pool(self._read_info, self._read_where, self.settings)

    def _read(self, fn: Callable[[psycopg.Connection], T]) -> T:
        return self._pool().run(fn)

    def _s(self, template: str) -> sql.Composed:
        return sql.SQL(template).format(s=sql.Identifier(self.schema))

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Create or upgrade the schema (and PostGIS, when the role may); the numbers applied."""
        # Not a reason to read from the primary from now on: serve migrates too (usually nothing).
        with connect(self._primary, self.where, autocommit=True) as conn:
            return migrate(conn, self.schema, self.where)

    def generation(self) -> int:
        """The registry change counter (0 before the first migration)."""

        def read(conn: psycopg.Connection) -> int:
            try:
                row = conn.execute(
                    self._s("SELECT value FROM {s}.tg_meta WHERE key = 'generation'")
                ).fetchone()
            except psycopg.errors.UndefinedTable:
                return 0
            return int(row[0]) if row else 0

        return self._read(read)

    def bump_generation(self, conn: psycopg.Connection) -> None:
        """Count one more registry change (inside the writer's transaction: seen at its commit)."""
        conn.execute(
            self._s("UPDATE {s}.tg_meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")
        )

    # -- registry ----------------------------------------------------------------------------

    def _records(self, where: str, args: tuple = ()) -> list[LayerRecord]:
        statement = self._s(f"SELECT {READ_COLUMNS} FROM {{s}}.tg_layer_versions WHERE {where}")

        def read(conn: psycopg.Connection) -> list[LayerRecord]:
            try:
                return [record_of(r) for r in conn.execute(statement, args).fetchall()]
            except psycopg.errors.UndefinedTable:
                return []  # not migrated yet: nothing loaded, as a missing GeoPackage

        return self._read(read)

    def layers(self) -> list[LayerRecord]:
        """The current version of every loaded layer, by id."""
        return self._records('current ORDER BY layer_id COLLATE "C"')

    def current(self, layer_id: str) -> LayerRecord | None:
        """The current version of one layer."""
        found = self._records("current AND layer_id = %s", (layer_id,))
        return found[0] if found else None

    def history(self, layer_id: str) -> list[LayerRecord]:
        """Kept versions, newest first."""
        return self._records("layer_id = %s ORDER BY version DESC", (layer_id,))

    def version(self, layer_id: str, version: int) -> LayerRecord | None:
        """One kept version."""
        found = self._records("layer_id = %s AND version = %s", (layer_id, version))
        return found[0] if found else None

    def read_version(self, conn: psycopg.Connection, layer_id: str, version: int) -> LayerRecord:
        """One version's record as the writer's own transaction sees it."""
        row = conn.execute(
            self._s(
                f"SELECT {READ_COLUMNS} FROM {{s}}.tg_layer_versions WHERE layer_id = %s AND version = %s"
            ),
            (layer_id, version),
        ).fetchone()
        return record_of(row)

    def activate(self, layer_id: str, version: int, records: Sequence[ChangeRecord] = ()) -> LayerRecord:
        """Point the registry at a kept version (rollback) in one transaction, with its change
        records."""
        with self.connect_primary() as conn:
            layer_lock(conn, self.schema, layer_id)
            hit = conn.execute(
                self._s("SELECT 1 FROM {s}.tg_layer_versions WHERE layer_id = %s AND version = %s"),
                (layer_id, version),
            ).fetchone()
            if hit is None:
                conn.rollback()
                kept = [r.version for r in self.history(layer_id)]
                raise LayerNotFound(f"layer {layer_id!r} has no version {version} (kept: {kept})")
            # Two steps: the unique index allows one current row per layer at any moment.
            conn.execute(
                self._s("UPDATE {s}.tg_layer_versions SET current = false WHERE layer_id = %s AND current"),
                (layer_id,),
            )
            conn.execute(
                self._s(
                    "UPDATE {s}.tg_layer_versions SET current = true WHERE layer_id = %s AND version = %s"
                ),
                (layer_id, version),
            )
            insert_records(conn, self.schema, records)
            self.bump_generation(conn)
            record = self.read_version(conn, layer_id, version)
            conn.commit()
        return record

    def prune(self, conn: psycopg.Connection, layer_id: str) -> None:
        """Drop versions beyond ``keep_versions`` (the current one always stays)."""
        rows = conn.execute(
            self._s(
                "SELECT version, table_name FROM {s}.tg_layer_versions"
                " WHERE layer_id = %s AND NOT current ORDER BY version DESC"
            ),
            (layer_id,),
        ).fetchall()
        for version, table in rows[self.keep_versions - 1 :]:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.schema, table)))
            # The changes of a pruned version stay: they are the history (etl history).
            for registry in ("tg_layer_versions", "tg_rejects", "tg_tile_cache", "tg_tile_touches"):
                conn.execute(
                    self._s(f"DELETE FROM {{s}}.{registry} WHERE layer_id = %s AND version = %s"),
                    (layer_id, version),
                )

    def rejects(self, layer_id: str, version: int) -> list[Reject]:
        """The quarantine of one version, in the order it was written."""
        statement = self._s(
            'SELECT source, "row", reason, attributes, geometry_wkt FROM'
            " {s}.tg_rejects WHERE layer_id = %s AND version = %s ORDER BY seq"
        )

        def read(conn: psycopg.Connection) -> list[Reject]:
            rows = conn.execute(statement, (layer_id, version)).fetchall()
            return [Reject(r[0], r[1], r[2], r[3], r[4]) for r in rows]

        return self._read(read)

    # -- write -------------------------------------------------------------------------------

    def writer(
        self,
        layer_id: str,
        columns: Sequence[Column],
        geometry_type: str,
        id_column: str | None = None,
        version: int | None = None,
    ) -> LayerWriter:
        """Start a new version (``version``: a store copy keeps the source's numbers)."""
        self.migrate()
        return PostGISWriter(self, layer_id, list(columns), geometry_type, id_column, version)

    # -- read --------------------------------------------------------------------------------

    def query(self, record: LayerRecord, query: Query) -> FeaturePage:
        """One page of a layer version (GiST index for the bbox)."""
        return self._read(lambda conn: self._on_table(record, run_query, conn, query))

    def _on_table(self, record: LayerRecord, fn: Callable, conn: psycopg.Connection, *args: Any) -> Any:
        try:
            return fn(conn, self.schema, record, *args)
        except psycopg.errors.UndefinedTable:
            # Pruned between reading the record and reading its table (keep_versions = 1).
            raise LayerNotFound(
                f"{record.layer_id} v{record.version} is no longer kept in"
                f" {self.where}; read the current version again"
            ) from None

    def get(self, record: LayerRecord, feature_id: str, select: Sequence[str] | None = None) -> FeaturePage:
        """One feature by its id column (or fid)."""
        key = record.id_column or "fid"
        query = Query(
            equals=((key, feature_id),), limit=1, select=tuple(select) if select else None, with_count=False
        )
        return self.query(record, query)

    def iter_frames(
        self,
        record: LayerRecord,
        chunk_size: int = 50_000,
        columns: Sequence[str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> Iterator[gpd.GeoDataFrame]:
        """All features in fid order, chunk by chunk (a server-side cursor on one connection;
        with ``bbox``: those the GiST index finds)."""
        names = [c.name for c in record.columns if columns is None or c.name in columns]
        where = sql.SQL(" WHERE geom && {}").format(ENVELOPE) if bbox else sql.SQL("")
        statement = sql.SQL("SELECT fid, ST_AsBinary(geom){} FROM {}{} ORDER BY fid").format(
            sql.SQL("").join(sql.SQL(", ") + sql.Identifier(n) for n in names),
            sql.Identifier(self.schema, record.table),
            where,
        )
        conn = connect(self._primary if self._sticky_primary else self._read_info, self.where)
        try:
            with conn.transaction(), conn.cursor(name="tg_iter_frames") as cursor:
                cursor.itersize = chunk_size
                cursor.execute(statement, bbox)
                while rows := cursor.fetchmany(chunk_size):
                    yield _frame(rows, names)
        except psycopg.errors.UndefinedTable:
            raise LayerNotFound(
                f"{record.layer_id} v{record.version} is no longer kept in {self.where}"
            ) from None
        finally:
            conn.close()

    # -- tiles (issue 6) and shutdown ------------------------------------------------------------

    def tile_cache(self) -> PostGISTileCache:
        """Tiles shared by every server process on this database (one table, on the primary)."""
        return PostGISTileCache(self)

    def tile(self, record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
        """A tile from the shared cache table (pre-built at ETL), else made by ST_AsMVT."""
        return postgis_tiles.tile(self, record, spec, z, x, y)

    def publish_tiles(self, record: LayerRecord, specs: Sequence[TileSpec]) -> list[str]:
        """tippecanoe's tiles copied into the shared cache table, so every host serves them."""
        return postgis_tiles.publish(self, record, specs)

    def tile_set(self, spec: TileSpec) -> TileRows | None:
        """The pre-built tiles of a tile set (its marker row is there); None otherwise."""
        cache = PostGISTileCache(self)
        if not cache.prebuilt(spec.layer_id, spec.version, spec.cache_variant):
            return None
        return cache.read_prebuilt(spec.layer_id, spec.version, spec.cache_variant)

    def load_tile_set(
        self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int, bytes]]
    ) -> int:
        """A tile set made elsewhere, loaded into the shared table with its marker (one COPY)."""
        return PostGISTileCache(self).put_prebuilt(spec.layer_id, spec.version, spec.cache_variant, tiles)

    def rebuild_tiles(
        self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int]]
    ) -> int:
        """Re-encode some tiles with tippecanoe and replace them in the shared cache table."""
        return postgis_tiles.rebuild(self, record, spec, tiles)

    def close(self) -> None:
        """Release this instance's pooled connections."""
        self._pool().close()


def _frame(rows: list[tuple], names: list[str]) -> gpd.GeoDataFrame:
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    data = {n: [r[i + 2] for r in rows] for i, n in enumerate(names)}
    return gpd.GeoDataFrame(
        data, geometry=geoms, crs="EPSG:4326", index=pd.Index([r[0] for r in rows], name="fid")
    )
