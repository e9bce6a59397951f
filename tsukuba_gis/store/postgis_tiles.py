"""Encoded tiles shared by every server process on one PostGIS database (for issue 6).

One table on the primary: the tile sets the ETL pre-built with tippecanoe or ``store copy``
carried in (each with a marker row), the tiles edits had rebuilt, and the tiles made on
demand. Keys carry the layer version, so a new version never serves old tiles; pruning a
version deletes its tiles. The table is
logged (migration 8): it was UNLOGGED while it was only a cache, but a crash emptying the
pre-built sets left every tile, z10 included, to ``ST_AsMVT`` until the next ETL; a tile set
costs its size in WAL once, at ETL (20 MB for the bench's 200,000 buildings;
``bench/pg_tile_load.py`` times it).

``render_mvt`` makes a tile with ``ST_AsMVT`` following the same per-zoom rules as the
pre-built tiles' encoder, tippecanoe (clip with a buffer, simplify, snap to the grid, size budget).
"""

import gzip
import logging
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg import sql

from tsukuba_gis.store.base import LayerRecord, TileRows, TileSpec
from tsukuba_gis.tiles import grid, mbtiles
from tsukuba_gis.tiles.rules import BUFFER, EXTENT, MAX_SIZE, MIN_EXTENT, tolerance_units

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore

LOG = logging.getLogger(__name__)
# layer, extent, limit, features, MVT bytes (before gzip), ms
PASS_LOG = "ST_AsMVT pass of %s: extent %d, limit %s: %d features, %d bytes, %.1f ms"


class PostGISTileCache:
    """The ``tg_tile_cache`` table of one store schema."""

    def __init__(self, store: "PostGISStore"):
        self.store = store
        self._table = sql.Identifier(store.schema, "tg_tile_cache")

    def get(self, layer_id: str, version: int, variant: str, z: int, x: int, y: int) -> bytes | None:
        """The cached tile, or None."""
        return self.lookup(layer_id, version, variant, z, x, y, complete=None)[0]

    def lookup(
        self, layer_id: str, version: int, variant: str, z: int, x: int, y: int, complete: str | None
    ) -> tuple[bytes | None, bool]:
        """The cached tile or None, and whether the tile set ``complete`` (a variant) is pre-built
        (its marker row is there), in one round trip."""
        statement = sql.SQL(
            "SELECT (SELECT tile FROM {t} WHERE layer_id = %(l)s AND version = %(v)s AND variant = %(var)s"
            " AND z = %(z)s AND x = %(x)s AND y = %(y)s),"
            " EXISTS (SELECT 1 FROM {t} WHERE layer_id = %(l)s AND version = %(v)s AND variant = %(set)s"
            " AND z = -1 AND x = 0 AND y = 0)"
        ).format(t=self._table)
        args = {"l": layer_id, "v": version, "var": variant, "z": z, "x": x, "y": y, "set": complete or ""}
        row = self.store.primary_pool().run(lambda conn: conn.execute(statement, args).fetchone())
        return (None if row[0] is None else bytes(row[0])), bool(row[1]) and complete is not None

    def put(self, layer_id: str, version: int, variant: str, z: int, x: int, y: int, tile: bytes) -> None:
        """Keep a tile (the first writer wins when two workers made the same one)."""
        statement = sql.SQL(
            "INSERT INTO {} (layer_id, version, variant, z, x, y, tile)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        ).format(self._table)
        self.store.primary_pool().run(
            lambda conn: conn.execute(statement, (layer_id, version, variant, z, x, y, tile))
        )

    def forget_older(self, layer_id: str, version: int, base: str, z: int, x: int, y: int, keep: str) -> None:
        """Drop the copies of one tile made before later edits (``<base>@<seq>`` but ``keep``)."""
        statement = sql.SQL(
            "DELETE FROM {} WHERE layer_id = %s AND version = %s AND z = %s AND x = %s AND y = %s"
            " AND starts_with(variant, %s) AND variant <> %s"
        ).format(self._table)
        self.store.primary_pool().run(
            lambda conn: conn.execute(statement, (layer_id, version, z, x, y, f"{base}@", keep))
        )

    def prebuilt(self, layer_id: str, version: int, variant: str) -> bool:
        """Whether the ETL loaded the whole tile set (its marker row, z = -1, is there)."""
        return self.lookup(layer_id, version, variant, -1, 0, 0, complete=variant)[1]

    def put_prebuilt(
        self, layer_id: str, version: int, variant: str, tiles: Iterable[tuple[int, int, int, bytes]]
    ) -> int:
        """Load a whole tile set in one transaction (COPY), with its marker; how many tiles.

        Tiles a server already made on demand for this set are replaced: same rules, same key.
        """
        key = (layer_id, version, variant)
        count = 0
        with self.store.connect_primary() as conn:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE layer_id = %s AND version = %s AND variant = %s").format(
                    self._table
                ),
                key,
            )
            copy_sql = sql.SQL("COPY {} (layer_id, version, variant, z, x, y, tile) FROM STDIN").format(
                self._table
            )
            with conn.cursor().copy(copy_sql) as copy:
                for z, x, y, tile in tiles:
                    copy.write_row((*key, z, x, y, tile))
                    count += 1
                copy.write_row((*key, -1, 0, 0, b""))
            conn.commit()
        return count

    def read_prebuilt(self, layer_id: str, version: int, variant: str) -> TileRows:
        """The non-empty tiles of a tile set, streamed (a server-side cursor, in one transaction)."""
        statement = sql.SQL(
            "SELECT z, x, y, tile FROM {} WHERE layer_id = %s AND version = %s AND variant = %s"
            " AND z >= 0 AND octet_length(tile) > 0"
        ).format(self._table)
        with self.store.connect_primary() as conn:
            with conn.cursor(name="tile_set") as cursor:
                cursor.itersize = 500
                cursor.execute(statement, (layer_id, version, variant))
                for z, x, y, tile in cursor:
                    yield z, x, y, bytes(tile)

    def replace(
        self, layer_id: str, version: int, variant: str, tiles: dict[tuple[int, int, int], bytes]
    ) -> None:
        """Put these tiles in place of what the table had for them, in one transaction."""
        statement = sql.SQL(
            "INSERT INTO {} (layer_id, version, variant, z, x, y, tile) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (layer_id, version, variant, z, x, y) DO UPDATE SET tile = EXCLUDED.tile"
        ).format(self._table)
        with self.store.connect_primary() as conn:
            with conn.cursor() as cursor:
                cursor.executemany(
                    statement, [(layer_id, version, variant, z, x, y, t) for (z, x, y), t in tiles.items()]
                )
            conn.commit()

    def clear(self, layer_id: str | None = None) -> int:
        """Forget the tiles of one layer (all layers when None); how many were removed."""
        statement = sql.SQL("DELETE FROM {}").format(self._table)
        args: tuple = ()
        if layer_id is not None:
            statement = sql.SQL("{} WHERE layer_id = %s").format(statement)
            args = (layer_id,)
        return self.store.primary_pool().run(lambda conn: conn.execute(statement, args).rowcount)


@dataclass(frozen=True)
class MvtRequest:
    """One tile to encode with the per-zoom rules of the tile set (``tsukuba_gis.tiles.rules``).

    Attributes:
        bounds: the tile's EPSG:3857 box (left, bottom, right, top).
        fields: (name, type) of the attributes; "fid" is the row id.
        tolerance: simplification tolerance in tile units (0: none, e.g. points).
        extent, buffer: the tile grid and the margin past the tile edge, in tile units.
        max_size: the budget in gzip-compressed bytes.
    """

    name: str
    geometry: str
    bounds: tuple[float, float, float, float]
    fields: tuple[tuple[str, str], ...]
    tolerance: float
    extent: int = EXTENT
    buffer: int = BUFFER
    max_size: int = MAX_SIZE
    min_extent: int = MIN_EXTENT


def _columns(request: MvtRequest) -> sql.Composable:
    parts = []
    for name, kind in request.fields:
        column = sql.SQL("t.fid") if name == "fid" else sql.SQL("t.{}").format(sql.Identifier(name))
        if kind == "date":  # as the GeoPackage path writes it: ISO text
            column = sql.SQL("{}::text").format(column)
        parts.append(sql.SQL("{} AS {}").format(column, sql.Identifier(name)))
    return sql.SQL("").join(sql.SQL("{}, ").format(p) for p in parts)


def _size_order(geometry: str) -> sql.Composable:
    # Over budget, the smallest features go first; points have no size: fid order.
    size = {"polygon": "ST_Area(t.geom) DESC, ", "line": "ST_Length(t.geom) DESC, "}
    return sql.SQL("ORDER BY {}t.fid LIMIT %(limit)s").format(sql.SQL(size.get(geometry, "")))


def _statement(schema: str, record: LayerRecord, request: MvtRequest, limited: bool) -> sql.Composable:
    geom = sql.SQL("ST_Transform(t.geom, 3857)")
    if request.geometry != "point":
        # Clip, then simplify, then snap to the grid: the order tippecanoe follows.
        # ST_Simplify keeping collapsed shapes, not ST_SimplifyPreserveTopology: at a quarter
        # pixel both give the same tile (ST_AsMVTGeom makes it valid), and it halves the time
        # of a dense z14 tile (60 -> 34 ms; TiPg's query without simplification: 30 ms).
        geom = sql.SQL("ST_Simplify(ST_ClipByBox2D({}, tile.clip), %(tolerance)s, true)").format(geom)
    return sql.SQL(
        "WITH tile AS (SELECT ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3857) AS box,"
        " ST_MakeEnvelope(%(cx0)s, %(cy0)s, %(cx1)s, %(cy1)s, 3857) AS clip),"
        " rows AS (SELECT {columns}ST_AsMVTGeom({geom}, tile.box, %(extent)s, %(buffer)s, true)"
        " AS geom FROM {table} t, tile WHERE t.geom && ST_Transform(tile.clip, 4326) {limit})"
        " SELECT ST_AsMVT(rows.*, %(name)s, %(extent)s, 'geom'), count(*) FROM rows"
        " WHERE rows.geom IS NOT NULL"
    ).format(
        columns=_columns(request),
        geom=geom,
        table=sql.Identifier(schema, record.table),
        limit=_size_order(request.geometry) if limited else sql.SQL(""),
    )


def _args(request: MvtRequest, extent: int, limit: int | None) -> dict:
    x0, y0, x1, y1 = request.bounds
    unit = (x1 - x0) / request.extent  # the configured grid: tippecanoe's tolerance unit too
    margin = unit * request.buffer
    return {
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "cx0": x0 - margin,
        "cy0": y0 - margin,
        "cx1": x1 + margin,
        "cy1": y1 + margin,
        "tolerance": request.tolerance * unit,
        "extent": extent,
        "buffer": request.buffer * extent // request.extent,
        "name": request.name,
        "limit": limit,
    }


def _fetch(conn, schema: str, record: LayerRecord, statement: sql.Composable, args: dict) -> tuple:
    return conn.execute(statement, args).fetchone()


def render_mvt(store: "PostGISStore", record: LayerRecord, request: MvtRequest) -> bytes:
    """A gzip-compressed MVT within the budget (b"" when the tile holds no feature).

    Over ``max_size``: the grid is halved (4096, 2048, ... ``min_extent``), then the smallest
    features are dropped until the tile fits, as tippecanoe does for the pre-built tiles. A grid
    on which every feature collapses is not taken: the tile would be empty, a hole in the map.
    """

    def run(extent: int, limit: int | None) -> tuple[bytes, int]:
        statement = _statement(store.schema, record, request, limit is not None)
        started = time.perf_counter()
        # The store's read pool (a replica when set), like feature queries; same package.
        row = store._read(
            lambda conn: store._on_table(record, _fetch, conn, statement, _args(request, extent, limit))
        )
        data, count = bytes(row[0] or b""), int(row[1] or 0)
        # Each pass is a whole ST_AsMVT statement: where a dense tile's time goes.
        LOG.debug(
            PASS_LOG, record.layer_id, extent, limit, count, len(data), (time.perf_counter() - started) * 1000
        )
        return data, count

    extent = request.extent
    data, count = run(extent, None)
    if not data:
        return b""
    packed = gzip.compress(data, 6)
    while len(packed) > request.max_size and extent > request.min_extent:
        coarser, coarser_count = run(extent // 2, None)
        if not coarser_count:  # every feature collapsed on that grid: a hole, not a smaller tile
            break
        extent, data, count = extent // 2, coarser, coarser_count
        packed = gzip.compress(data, 6)
    while len(packed) > request.max_size and count > 1:
        count = max(1, int(count * request.max_size / len(packed) * 0.9))
        LOG.info(
            "tile of %s over %d bytes: keeping the %d largest features",
            record.layer_id,
            request.max_size,
            count,
        )
        data, _ = run(extent, count)
        packed = gzip.compress(data, 6)
    return packed


def tile(store: "PostGISStore", record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
    """A tile from the shared cache table (empty when a whole pre-built set has none), else
    made by ST_AsMVT and kept there.

    A tile a live edit touched (``tile_seq``) is kept under ``<variant>@<seq>``: the edit's
    commit made the new key, so no worker can serve the tile from before it, and the pre-built
    one stays for the tiles no edit touched.
    """
    seq = store.tile_seq(record, z, x, y)
    variant = f"{spec.cache_variant}@{seq}" if seq else spec.cache_variant
    cache, key = PostGISTileCache(store), (spec.layer_id, spec.version, variant, z, x, y)
    cached, complete = cache.lookup(*key, complete=None if seq else spec.cache_variant)
    if cached is not None:
        return cached
    if complete:
        # tippecanoe writes no empty tile: one missing from a whole pre-built set is empty, as
        # the GeoPackage store answers it, not one for ST_AsMVT to make (and keep) again
        return b""
    request = MvtRequest(
        name=spec.layer_id,
        geometry=spec.geometry,
        bounds=grid.xy_bounds(z, x, y),
        fields=spec.fields,
        tolerance=tolerance_units(spec, z),
    )
    made = render_mvt(store, record, request)
    cache.put(*key, made)
    if seq:
        cache.forget_older(spec.layer_id, spec.version, spec.cache_variant, z, x, y, variant)
    return made


def publish(store: "PostGISStore", record: LayerRecord, specs: Sequence[TileSpec]) -> list[str]:
    """tippecanoe's tiles of each tile set not pre-built yet, copied into the cache table; variants built."""
    cache, built = PostGISTileCache(store), []
    for spec in specs:
        if cache.prebuilt(spec.layer_id, spec.version, spec.cache_variant):
            continue
        with tempfile.TemporaryDirectory(prefix="tsukuba-gis-tiles-") as tmp:
            path = mbtiles.build_mbtiles(store, record, spec, Path(tmp) / "tiles.mbtiles")
            cache.put_prebuilt(spec.layer_id, spec.version, spec.cache_variant, mbtiles.read_mbtiles(path))
        built.append(spec.variant)
    return built


def rebuild(
    store: "PostGISStore", record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int]]
) -> int:
    """Re-encode some tiles (what an edit touched) and replace them in the table; how many."""
    with tempfile.TemporaryDirectory(prefix="tsukuba-gis-tiles-") as tmp:
        made = mbtiles.build_tiles(store, record, spec, tiles, Path(tmp))
    PostGISTileCache(store).replace(spec.layer_id, spec.version, spec.cache_variant, made)
    return len(made)
