"""Writing one layer version into PostGIS: a new table loaded with COPY, swapped in at commit.

The whole version is one transaction on a dedicated connection: CREATE TABLE, binary COPY of
each chunk, indexes, ANALYZE, the registry update and the pruning of old versions. PostgreSQL
DDL is transactional, so until COMMIT no other session sees the new table or the registry
change; a killed ETL's transaction is rolled back by the server. Readers keep using the
version the registry pointed at when they asked.
"""

import json
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store.base import Column, LayerRecord, LayerWriter, Reject, grown_bbox
from tsukuba_gis.store.postgis_outbox import insert_records
from tsukuba_gis.store.postgis_schema import GEOMETRY_TYPES, PG_TYPES, table_name

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore

# COPY's binary format needs each column's exact type; geometry goes in as EWKB through the
# bytea dumper (the bytes are passed as they are, and geometry_recv reads EWKB).
_COPY_TYPES = {"string": "text", "integer": "int8", "number": "float8", "boolean": "bool", "date": "date"}
RECORD_COLUMNS = (
    "layer_id, version, table_name, current, geometry_type, feature_count,"
    " rejected_count, bbox, columns, id_column, source_checksum,"
    " definition_checksum, loaded_at, duration_s, crs"
)


def layer_lock(conn: psycopg.Connection, schema: str, layer_id: str) -> None:
    """Serialise writers of one layer (ETL, rollback) until the transaction ends."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"tsukuba-gis layer {schema}.{layer_id}",)
    )


def _values(series: pd.Series, kind: str) -> list[Any]:
    """Python values of one column for COPY (None for missing; GeoPackage's 0/1 booleans too)."""
    missing = series.isna().to_numpy()
    if kind == "integer":
        values = pd.to_numeric(series, errors="coerce").astype("Int64").astype(object).tolist()
    elif kind == "number":
        values = pd.to_numeric(series, errors="coerce").astype(float).tolist()
    elif kind == "boolean":
        values = [bool(v) if not m else None for v, m in zip(series.tolist(), missing, strict=True)]
    elif kind == "date":
        values = [
            v if isinstance(v, date) or m else date.fromisoformat(str(v)[:10])
            for v, m in zip(series.tolist(), missing, strict=True)
        ]
    else:
        values = [str(v) for v in series.tolist()]
    return [None if m else v for v, m in zip(values, missing, strict=True)]


class PostGISWriter(LayerWriter):
    """Writes one layer version inside a single PostgreSQL transaction."""

    def __init__(
        self,
        store: "PostGISStore",
        layer_id: str,
        columns: list[Column],
        geometry_type: str,
        id_column: str | None,
        version: int | None = None,
    ):
        self.store, self.layer_id, self.columns = store, layer_id, columns
        self.geometry_type, self.id_column = geometry_type, id_column
        self.count = self.rejected = 0
        self.bbox: list[float] | None = None
        self.started = time.monotonic()
        self.done = False
        self.conn = store.connect_primary()
        try:
            self._begin(version)
        except BaseException:
            self.conn.close()
            raise

    def _sql(self, template: str, **names: sql.Composable) -> sql.Composed:
        return sql.SQL(template).format(
            s=sql.Identifier(self.store.schema), t=sql.Identifier(self.store.schema, self.table), **names
        )

    def _begin(self, version: int | None) -> None:
        conn, schema = self.conn, self.store.schema
        # The server notices a killed ETL within seconds even while it builds an index.
        conn.execute("SET client_connection_check_interval = '2s'")
        layer_lock(conn, schema, self.layer_id)
        last = (
            conn.execute(
                sql.SQL("SELECT max(version) FROM {}.tg_layer_versions WHERE layer_id = %s").format(
                    sql.Identifier(schema)
                ),
                (self.layer_id,),
            ).fetchone()[0]
            or 0
        )
        if version is not None and version <= last:
            raise StoreError(
                f"cannot write {self.layer_id} v{version}: the store at"
                f" {self.store.where} already has v{last}"
            )
        self.version = version or last + 1
        self.table = table_name(self.layer_id, self.version)
        # Text sorts and compares byte-wise, as the API promises (and the GeoPackage does),
        # whatever the database's locale; its indexes are cheaper to build that way too.
        defs = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(c.name),
                sql.SQL(PG_TYPES[c.type]),
                sql.SQL(' COLLATE "C"' if c.type == "string" else ""),
            )
            for c in self.columns
        ]
        geometry = sql.SQL(f"geometry({GEOMETRY_TYPES[self.geometry_type]}, 4326)")
        conn.execute(self._sql("DROP TABLE IF EXISTS {t}"))
        conn.execute(
            self._sql(
                "CREATE TABLE {t} (fid bigint NOT NULL, geom {g} NOT NULL{d})",
                g=geometry,
                d=sql.SQL("").join(sql.SQL(", ") + d for d in defs),
            )
        )

    def append(self, frame: gpd.GeoDataFrame) -> None:
        """COPY a chunk of loaded features (fids continue from the previous chunk)."""
        if frame.empty:
            return
        geoms = frame.geometry.to_numpy()
        ewkb = shapely.to_wkb(
            shapely.set_srid(geoms, 4326), include_srid=True, output_dimension=2, byte_order=1
        )
        values = [_values(frame[c.name], c.type) for c in self.columns]
        fids = range(self.count + 1, self.count + len(frame) + 1)
        names = sql.SQL("").join(sql.SQL(", ") + sql.Identifier(c.name) for c in self.columns)
        statement = self._sql("COPY {t} (fid, geom{n}) FROM STDIN (FORMAT BINARY)", n=names)
        try:
            with self.conn.cursor().copy(statement) as copy:
                copy.set_types(["int8", "bytea", *(_COPY_TYPES[c.type] for c in self.columns)])
                for row in zip(fids, ewkb, *values, strict=True):
                    copy.write_row(row)
        except psycopg.Error as err:
            raise StoreError(f"cannot load {self.layer_id} into {self.store.where}: {err}") from None
        self.count += len(frame)
        self.bbox = grown_bbox(self.bbox, shapely.bounds(geoms))

    def reject(self, rejects: Sequence[Reject]) -> None:
        """Keep rejected source features in the quarantine table, with this version."""
        statement = self._sql(
            'COPY {s}.tg_rejects (layer_id, version, source, "row", reason,'
            " attributes, geometry_wkt) FROM STDIN"
        )
        with self.conn.cursor().copy(statement) as copy:
            for r in rejects:
                copy.write_row(
                    (
                        self.layer_id,
                        self.version,
                        r.source,
                        r.row,
                        r.reason,
                        json.dumps(r.attributes, ensure_ascii=False, default=str),
                        r.geometry_wkt,
                    )
                )
        self.rejected += len(rejects)

    def commit(self, meta: dict[str, Any], make_current: bool = True) -> LayerRecord:
        """Index, register and (unless staged) make current, then COMMIT: the swap is atomic."""
        conn = self.conn
        conn.execute(self._sql("ALTER TABLE {t} ADD PRIMARY KEY (fid)"))
        conn.execute(self._sql("CREATE INDEX ON {t} USING gist (geom)"))
        if self.id_column:
            conn.execute(self._sql("CREATE INDEX ON {t} ({c})", c=sql.Identifier(self.id_column)))
        conn.execute(self._sql("ANALYZE {t}"))  # the first queries already get good plans
        if make_current:
            conn.execute(
                self._sql("UPDATE {s}.tg_layer_versions SET current = false WHERE layer_id = %s AND current"),
                (self.layer_id,),
            )
        conn.execute(
            self._sql(
                f"INSERT INTO {{s}}.tg_layer_versions ({RECORD_COLUMNS}) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ),
            self._record_row(meta, make_current),
        )
        if make_current:  # what the switch changes, seen at the same commit
            insert_records(conn, self.store.schema, meta.get("change_records", ()))
        self.store.prune(conn, self.layer_id)
        self.store.bump_generation(conn)
        record = self.store.read_version(conn, self.layer_id, self.version)
        conn.commit()
        self._close()
        return record

    def _record_row(self, meta: dict[str, Any], current: bool) -> tuple:
        # A store copy passes the original load time and duration; the ETL passes neither.
        loaded_at = meta.get("loaded_at") or datetime.now(UTC).isoformat(timespec="seconds")
        duration = meta.get("duration_s", round(time.monotonic() - self.started, 3))
        return (
            self.layer_id,
            self.version,
            self.table,
            current,
            self.geometry_type,
            self.count,
            self.rejected,
            self.bbox,
            json.dumps([c.__dict__ for c in self.columns]),
            self.id_column,
            meta["source_checksum"],
            meta["definition_checksum"],
            datetime.fromisoformat(loaded_at),
            duration,
            json.dumps(meta.get("crs", {}), ensure_ascii=False),
        )

    def _close(self) -> None:
        self.done = True
        self.conn.close()

    def __exit__(self, exc_type, exc, tb) -> None:
        # Leaving without commit (an error, or a caller that gave up) discards the version.
        if not self.done:
            try:
                self.conn.rollback()
            except psycopg.Error:
                pass  # the connection is gone; the server has rolled back already
            finally:
                self._close()
