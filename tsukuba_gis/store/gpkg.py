"""The embedded store: one GeoPackage file, a table per layer version, an R-tree on each.

Each ETL run writes a new table ``l_<layer>_v<version>`` and, in the same SQLite transaction,
points the registry at it; readers (WAL mode) keep seeing the old version until that commit.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from tsukuba_gis.errors import LayerNotFound, StoreError
from tsukuba_gis.store import gpkg_format as fmt
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
    grown_bbox,
)
from tsukuba_gis.store.gpkg_edits import MIGRATION as EDITS_MIGRATION
from tsukuba_gis.store.gpkg_edits import GeoPackageEdits
from tsukuba_gis.store.gpkg_notify import MIGRATION as NOTIFY_MIGRATION
from tsukuba_gis.store.gpkg_notify import GeoPackageNotify
from tsukuba_gis.store.gpkg_outbox import MIGRATION as OUTBOX_MIGRATION
from tsukuba_gis.store.gpkg_outbox import GeoPackageOutbox, insert_records
from tsukuba_gis.store.gpkg_query import booleans, run_query
from tsukuba_gis.store.gpkg_raster import MIGRATION as RASTER_MIGRATION
from tsukuba_gis.store.gpkg_raster import GeoPackageRasters
from tsukuba_gis.store.gpkg_reports import MIGRATION as REPORTS_MIGRATION
from tsukuba_gis.store.gpkg_reports import GeoPackageReports
from tsukuba_gis.store.gpkg_rtree import OVERLAP, bulk_load, outward_float32
from tsukuba_gis.store.gpkg_tiles import MBTilesSets

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE tg_meta (key TEXT PRIMARY KEY, value TEXT)""",
        """CREATE TABLE tg_layer_versions (
            layer_id TEXT NOT NULL, version INTEGER NOT NULL, table_name TEXT NOT NULL,
            current INTEGER NOT NULL DEFAULT 0, geometry_type TEXT NOT NULL,
            feature_count INTEGER NOT NULL, rejected_count INTEGER NOT NULL,
            bbox TEXT, columns TEXT NOT NULL, id_column TEXT,
            source_checksum TEXT NOT NULL, definition_checksum TEXT NOT NULL,
            loaded_at TEXT NOT NULL, duration_s REAL NOT NULL, crs TEXT NOT NULL,
            PRIMARY KEY (layer_id, version))""",
        """CREATE TABLE tg_rejects (
            layer_id TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL,
            row INTEGER NOT NULL, reason TEXT NOT NULL, attributes TEXT NOT NULL,
            geometry_wkt TEXT)""",
        """CREATE INDEX tg_rejects_layer ON tg_rejects (layer_id, version)""",
        """INSERT INTO tg_meta VALUES ('generation', '0')""",
    ],
    RASTER_MIGRATION,  # 2: raster versions (issue 12)
    EDITS_MIGRATION,  # 3: live edits: edit_seq, the change table, touched tiles (issue 13)
    OUTBOX_MIGRATION,  # 4: change records for feeds and deliveries (issue 16)
    NOTIFY_MIGRATION,  # 5: subscriptions, webhooks, deliveries, the worker's cursor (issue 16)
    REPORTS_MIGRATION,  # 6: residents' reports and their personal part (issue 17)
]

_RECORD_COLUMNS = (
    "layer_id, version, table_name, current, geometry_type, feature_count, rejected_count, bbox,"
    " columns, id_column, source_checksum, definition_checksum, loaded_at, duration_s, crs"
)
_READ_COLUMNS = _RECORD_COLUMNS + ", edit_seq, edited_at"


def _record(row: sqlite3.Row) -> LayerRecord:
    bbox = json.loads(row["bbox"]) if row["bbox"] else None
    return LayerRecord(
        layer_id=row["layer_id"],
        version=row["version"],
        table=row["table_name"],
        current=bool(row["current"]),
        geometry_type=row["geometry_type"],
        feature_count=row["feature_count"],
        rejected_count=row["rejected_count"],
        bbox=tuple(bbox) if bbox else None,
        columns=tuple(Column(**c) for c in json.loads(row["columns"])),
        id_column=row["id_column"],
        source_checksum=row["source_checksum"],
        definition_checksum=row["definition_checksum"],
        loaded_at=row["loaded_at"],
        duration_s=row["duration_s"],
        crs=json.loads(row["crs"]),
        edit_seq=row["edit_seq"],
        edited_at=row["edited_at"],
    )


class GeoPackageStore(
    GeoPackageEdits, GeoPackageOutbox, GeoPackageNotify, GeoPackageReports, GeoPackageRasters, Store
):
    """A GeoPackage file on local disk.

    Attributes:
        path: the ``.gpkg`` file.
    """

    scheme = "gpkg"
    in_process = True
    RECORD_COLUMNS = _READ_COLUMNS
    record_of = staticmethod(_record)

    def __init__(self, url: str, keep_versions: int = 5):
        super().__init__(url, keep_versions)
        self.path = Path(url.removeprefix("gpkg://"))
        self._local = threading.local()
        self._tiles = MBTilesSets(self, self.path.parent / "tiles")

    # -- connections -------------------------------------------------------------------------

    def connect(self, readonly: bool = True) -> sqlite3.Connection:
        """A new connection; WAL mode lets readers and the one writer work at once."""
        if readonly and not self.path.exists():
            raise StoreError(f"the store {self.path} does not exist yet; run `tsukuba-gis etl`")
        if readonly:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA busy_timeout = 30000")
        con.row_factory = sqlite3.Row
        return con

    def _reader(self) -> sqlite3.Connection:
        # One read connection per thread: pygeoapi runs API calls in a thread pool.
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self.connect(readonly=True)
        return con

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Create the GeoPackage core and the registry tables, or upgrade them."""
        con = self.connect(readonly=False)
        try:
            con.execute("BEGIN IMMEDIATE")
            fmt.init_core(con)
            con.execute("CREATE TABLE IF NOT EXISTS tg_migrations (version INTEGER PRIMARY KEY)")
            done = {r[0] for r in con.execute("SELECT version FROM tg_migrations")}
            applied = []
            for number, statements in enumerate(MIGRATIONS, start=1):
                if number not in done:
                    for sql in statements:
                        con.execute(sql)
                    con.execute("INSERT INTO tg_migrations VALUES (?)", (number,))
                    applied.append(number)
            con.execute("COMMIT")
            return applied
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def generation(self) -> int:
        """The registry change counter (0 when the store does not exist yet)."""
        if not self.path.exists():
            return 0
        try:
            row = self._reader().execute("SELECT value FROM tg_meta WHERE key='generation'").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    # -- registry ----------------------------------------------------------------------------

    def _records(self, where: str, args: tuple = ()) -> list[LayerRecord]:
        if not self.path.exists():
            return []
        try:
            rows = (
                self._reader()
                .execute(f"SELECT {_READ_COLUMNS} FROM tg_layer_versions WHERE {where}", args)
                .fetchall()
            )
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []
            raise StoreError(f"cannot read the layer registry in {self.path}: {err}") from None
        return [_record(r) for r in rows]

    def layers(self) -> list[LayerRecord]:
        """The current version of every loaded layer, by id."""
        return self._records("current = 1 ORDER BY layer_id")

    def current(self, layer_id: str) -> LayerRecord | None:
        """The current version of one layer."""
        found = self._records("current = 1 AND layer_id = ?", (layer_id,))
        return found[0] if found else None

    def history(self, layer_id: str) -> list[LayerRecord]:
        """Kept versions, newest first."""
        return self._records("layer_id = ? ORDER BY version DESC", (layer_id,))

    def version(self, layer_id: str, version: int) -> LayerRecord | None:
        """One kept version."""
        found = self._records("layer_id = ? AND version = ?", (layer_id, version))
        return found[0] if found else None

    def activate(self, layer_id: str, version: int, records: Sequence[ChangeRecord] = ()) -> LayerRecord:
        """Point the registry at a kept version (rollback) in one transaction, with its change
        records."""
        con = self.connect(readonly=False)
        try:
            con.execute("BEGIN IMMEDIATE")
            hit = con.execute(
                "SELECT 1 FROM tg_layer_versions WHERE layer_id=? AND version=?", (layer_id, version)
            ).fetchone()
            if hit is None:
                con.execute("ROLLBACK")
                kept = [r.version for r in self.history(layer_id)]
                raise LayerNotFound(f"layer {layer_id!r} has no version {version} (kept: {kept})")
            con.execute(
                "UPDATE tg_layer_versions SET current = (version = ?) WHERE layer_id = ?", (version, layer_id)
            )
            insert_records(con, records)
            _bump_generation(con)
            con.execute("COMMIT")
        finally:
            con.close()
        return self.current(layer_id)

    def rejects(self, layer_id: str, version: int) -> list[Reject]:
        """The quarantine of one version."""
        rows = (
            self._reader()
            .execute(
                "SELECT source, row, reason, attributes, geometry_wkt FROM tg_rejects"
                " WHERE layer_id=? AND version=? ORDER BY rowid",
                (layer_id, version),
            )
            .fetchall()
        )
        return [Reject(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    # -- write -------------------------------------------------------------------------------

    def writer(
        self,
        layer_id: str,
        columns: Sequence[Column],
        geometry_type: str,
        id_column: str | None = None,
        version: int | None = None,
    ) -> LayerWriter:
        """Start a new version; see GeoPackageWriter."""
        self.migrate()
        return GeoPackageWriter(self, layer_id, list(columns), geometry_type, id_column, version)

    # -- read --------------------------------------------------------------------------------

    def query(self, record: LayerRecord, query: Query) -> FeaturePage:
        """One page of a layer version (R-tree for the bbox)."""
        return run_query(self._reader(), record, query)

    def get(self, record: LayerRecord, feature_id: str, select: Sequence[str] | None = None) -> FeaturePage:
        """One feature by its id column (or fid)."""
        key = record.id_column or "fid"
        value: Any = feature_id
        if key == "fid":
            text = str(feature_id)
            # ASCII digits within SQLite's 64-bit INTEGER ("²" is a digit to isdigit, and a
            # larger number cannot be bound): anything else names no feature.
            if not (text.isascii() and text.isdigit() and len(text) <= 19 and int(text) < 2**63):
                return FeaturePage([], [], [], 0)
            value = int(text)
        query = Query(
            equals=((key, value),), limit=1, select=tuple(select) if select else None, with_count=False
        )
        return run_query(self._reader(), record, query)

    def iter_frames(
        self,
        record: LayerRecord,
        chunk_size: int = 50_000,
        columns: Sequence[str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> Iterator[gpd.GeoDataFrame]:
        """All features in fid order, chunk by chunk (with ``bbox``: those the R-tree finds)."""
        wanted = record.columns if columns is None else [c for c in record.columns if c.name in columns]
        cols = "".join(f', "{c.name}"' for c in wanted)
        statement, args = f'SELECT fid, geom{cols} FROM "{record.table}"', []
        if bbox is not None:
            x0, y0, x1, y1 = bbox
            rtree = f'"rtree_{record.table}_geom"'
            statement += f" WHERE fid IN (SELECT id FROM {rtree} WHERE {OVERLAP})"
            args = [x0, x1, y0, y1]
        cursor = self._reader().execute(statement + " ORDER BY fid", args)
        while rows := cursor.fetchmany(chunk_size):
            geoms = shapely.from_wkb([fmt.wkb_of(r[1]) for r in rows])
            data = {c.name: booleans([r[i + 2] for r in rows], c.type) for i, c in enumerate(wanted)}
            frame = gpd.GeoDataFrame(
                data, geometry=geoms, crs="EPSG:4326", index=pd.Index([r[0] for r in rows], name="fid")
            )
            yield frame

    # -- tiles -------------------------------------------------------------------------------------

    def tile(self, record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
        """One tile from the tile set's MBTiles (built in the background when missing)."""
        return self._tiles.tile(record, spec, z, x, y)

    def publish_tiles(self, record: LayerRecord, specs: Sequence[TileSpec]) -> list[str]:
        """An MBTiles file per tile set, next to the store (``tiles/<layer>/``)."""
        return self._tiles.publish(record, specs)

    def tile_set(self, spec: TileSpec) -> TileRows | None:
        """Every tile of the tile set's MBTiles; None when it is not built."""
        return self._tiles.tile_set(spec)

    def load_tile_set(
        self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int, bytes]]
    ) -> int:
        """A tile set made elsewhere, written as its MBTiles file."""
        return self._tiles.load(record, spec, tiles)

    def rebuild_tiles(
        self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int]]
    ) -> int:
        """Re-encode some tiles into the tile set's MBTiles (a copy renamed over it)."""
        return self._tiles.rebuild(record, spec, tiles)

    def tiles_path(self, spec: TileSpec) -> Path:
        """Where the MBTiles of a tile set lives (for tools and tests)."""
        return self._tiles.path(spec)


def _bump_generation(con: sqlite3.Connection) -> None:
    con.execute("UPDATE tg_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")


class GeoPackageWriter(LayerWriter):
    """Writes one layer version inside a single SQLite transaction."""

    def __init__(
        self,
        store: GeoPackageStore,
        layer_id: str,
        columns: list[Column],
        geometry_type: str,
        id_column: str | None,
        version: int | None = None,
    ):
        self.store, self.layer_id, self.columns = store, layer_id, columns
        self.geometry_type, self.id_column = geometry_type, id_column
        self.count = 0
        self.rejected = 0
        self.bbox: list[float] | None = None
        # Per feature only its fid and float32 box (24 bytes) wait for the R-tree at commit.
        self.fids: list[np.ndarray] = []
        self.boxes: list[np.ndarray] = []
        self.started = time.monotonic()
        self.done = False
        self.con = store.connect(readonly=False)
        # A bounded page cache for the big inserts (16 MB, not per feature).
        self.con.execute("PRAGMA cache_size = -16384")
        self.con.execute("BEGIN IMMEDIATE")
        last = (
            self.con.execute(
                "SELECT MAX(version) FROM tg_layer_versions WHERE layer_id = ?", (layer_id,)
            ).fetchone()[0]
            or 0
        )
        if version is not None and version <= last:  # an explicit number (store copy)
            self.con.execute("ROLLBACK")
            self.con.close()
            raise StoreError(f"cannot write {layer_id} v{version}: {store.path} already has v{last}")
        self.version = version or last + 1
        self.table = f"l_{layer_id}_v{self.version}"
        fmt.drop_table(self.con, self.table)  # a leftover of a killed run that never committed
        defs = ", ".join(f'"{c.name}" {fmt.SQL_TYPES[c.type]}' for c in columns)
        self.con.execute(
            f'CREATE TABLE "{self.table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT,'
            f" geom {fmt.GEOMETRY_NAMES[geometry_type]}{', ' + defs if defs else ''})"
        )
        self.con.execute(
            f'CREATE VIRTUAL TABLE "rtree_{self.table}_geom" USING rtree(id, minx, maxx, miny, maxy)'
        )

    def append(self, frame: gpd.GeoDataFrame) -> None:
        """Insert a chunk of loaded features; their R-tree entries are built at commit."""
        if frame.empty:
            return
        blobs, bounds = fmt.encode(frame.geometry.to_numpy())
        names = [c.name for c in self.columns]
        placeholders = ", ".join("?" for _ in range(len(names) + 1))
        cols = ", ".join(["geom"] + [f'"{n}"' for n in names])
        cur = self.con.execute(f'SELECT COALESCE(MAX(fid), 0) FROM "{self.table}"')
        first = cur.fetchone()[0] + 1
        self.con.executemany(
            f'INSERT INTO "{self.table}" ({cols}) VALUES ({placeholders})',
            zip(blobs, *fmt.python_columns(frame, names), strict=True),
        )
        self.fids.append(np.arange(first, first + len(blobs), dtype=np.int64))
        self.boxes.append(outward_float32(bounds))
        self.count += len(blobs)
        self.bbox = grown_bbox(self.bbox, bounds)

    def reject(self, rejects: Sequence[Reject]) -> None:
        """Keep rejected source features in the quarantine table, with this version."""
        self.con.executemany(
            "INSERT INTO tg_rejects VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    self.layer_id,
                    self.version,
                    r.source,
                    r.row,
                    r.reason,
                    json.dumps(r.attributes, ensure_ascii=False, default=str),
                    r.geometry_wkt,
                )
                for r in rejects
            ],
        )
        self.rejected += len(rejects)

    def commit(self, meta: dict[str, Any], make_current: bool = True) -> LayerRecord:
        """Index, register and (unless staged) make current, then commit: the swap is atomic."""
        con = self.con
        if self.fids:
            bulk_load(con, f"rtree_{self.table}_geom", np.concatenate(self.fids), np.concatenate(self.boxes))
            self.fids, self.boxes = [], []
        if self.id_column:
            con.execute(f'CREATE INDEX "{self.table}_id" ON "{self.table}" ("{self.id_column}")')
        fmt.register_table(
            con,
            self.table,
            f"{self.layer_id} v{self.version}",
            meta.get("title", ""),
            self.geometry_type,
            self.bbox,
        )
        if make_current:
            con.execute("UPDATE tg_layer_versions SET current = 0 WHERE layer_id = ?", (self.layer_id,))
        con.execute(
            f"INSERT INTO tg_layer_versions ({_RECORD_COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.layer_id,
                self.version,
                self.table,
                int(make_current),
                self.geometry_type,
                self.count,
                self.rejected,
                json.dumps(self.bbox) if self.bbox else None,
                json.dumps([c.__dict__ for c in self.columns]),
                self.id_column,
                meta["source_checksum"],
                meta["definition_checksum"],
                meta.get("loaded_at") or datetime.now(UTC).isoformat(timespec="seconds"),
                meta.get("duration_s", round(time.monotonic() - self.started, 3)),
                json.dumps(meta.get("crs", {}), ensure_ascii=False),
            ),
        )
        if make_current:  # what the switch changes, seen at the same commit
            insert_records(con, meta.get("change_records", ()))
        self._prune()
        _bump_generation(con)
        con.execute("COMMIT")
        con.close()
        self.done = True
        return self.store.version(self.layer_id, self.version)

    def _prune(self) -> None:
        rows = self.con.execute(
            "SELECT version, table_name FROM tg_layer_versions WHERE layer_id = ? AND current = 0"
            " ORDER BY version DESC",
            (self.layer_id,),
        ).fetchall()
        for version, table in rows[self.store.keep_versions - 1 :]:
            fmt.drop_table(self.con, table)
            self.con.execute(
                "DELETE FROM tg_layer_versions WHERE layer_id=? AND version=?", (self.layer_id, version)
            )
            for registry in ("tg_rejects", "tg_tile_touches"):  # changes stay: they are the history
                self.con.execute(
                    f"DELETE FROM {registry} WHERE layer_id=? AND version=?", (self.layer_id, version)
                )

    def __exit__(self, exc_type, exc, tb) -> None:
        # Leaving without commit (an error, or a caller that gave up) discards the version.
        if not self.done:
            try:
                self.con.execute("ROLLBACK")
            finally:
                self.con.close()
            self.done = True
