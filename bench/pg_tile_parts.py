"""Where a cold PostGIS tile's time goes: the ST_AsMVT statement taken apart, step by step.

The serving bench's buildings (``bench/serve.py`` builds the project in ``--workdir``), copied
into a throwaway PostGIS cluster with ``tsukuba-gis store copy``, as the serving bench does.
For the z14 (5 x 5) and z16 (10 x 10) blocks around つくば駅, the p50 over the block of:

- ``index``: the GiST candidates only (``count(*)``);
- ``+ transform``: ST_Transform of each to EPSG:3857;
- ``+ mvtgeom``: ST_AsMVTGeom on the transformed geometry (clip to the tile, grid, validity);
- ``+ clip, simplify``: our ST_ClipByBox2D and ST_Simplify before it (the tile rules);
- ``whole``: the product's own statement with ST_AsMVT (``postgis_tiles._statement``);
- ``whole, 3857 stored``: the same on a copy of the table already in EPSG:3857 (what storing
  a projected geometry at ETL would save);
- ``render``: ``postgis_tiles.render_mvt`` (the statement, gzip, the size budget), in Python.

Then ``render_mvt`` pass by pass for the z10, z12 and z14 blocks the serving bench asks cold
(each pass is a whole ST_AsMVT statement; over the size budget the grid is halved and the
statement run again): per zoom the p50 time, the passes, and the slowest tile's passes.

    .venv/bin/python bench/pg_tile_parts.py
"""

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, scenarios  # noqa: E402
from bench.servers import postgis_copy  # noqa: E402
from tsukuba_gis.catalog import load_catalog  # noqa: E402
from tsukuba_gis.store import postgis_tiles  # noqa: E402
from tsukuba_gis.store.postgis import PostGISStore  # noqa: E402
from tsukuba_gis.tiles import grid  # noqa: E402
from tsukuba_gis.tiles.rules import EXTENT, tile_spec, tolerance_units  # noqa: E402

BLOCKS = {14: 5, 16: 10}
PASS_BLOCKS = {10: 1, 12: 3, 14: 5}  # as bench/serve.py's cold tile rows
TILE = (
    "WITH tile AS (SELECT ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 3857) AS box,"
    " ST_MakeEnvelope(%(cx0)s, %(cy0)s, %(cx1)s, %(cy1)s, 3857) AS clip) "
)
CANDIDATES = "FROM {t} t, tile WHERE t.geom && ST_Transform(tile.clip, 4326)"
MVT = ", rows AS (SELECT t.building_id, t.name, {geom} AS geom {where})" + (
    " SELECT ST_AsMVT(rows.*, 'buildings', %(extent)s, 'geom'), count(*) FROM rows WHERE geom IS NOT NULL"
)
OURS = (
    "ST_AsMVTGeom(ST_Simplify(ST_ClipByBox2D({g}, tile.clip), %(tolerance)s, true),"
    " tile.box, %(extent)s, %(buffer)s, true)"
)


def statements(table: str, projected: str, ours: Any) -> dict[str, Any]:
    """The steps, in order; ``ours``: the product's whole statement (``postgis_tiles._statement``)."""
    transformed = "ST_Transform(t.geom, 3857)"
    return {
        "index": TILE + "SELECT count(*) " + CANDIDATES.format(t=table),
        "+ transform": TILE + f"SELECT sum(ST_NPoints({transformed})) " + CANDIDATES.format(t=table),
        "+ mvtgeom": TILE
        + f"SELECT count(ST_AsMVTGeom({transformed}, tile.box, %(extent)s, %(buffer)s, true)) "
        + CANDIDATES.format(t=table),
        "+ clip, simplify": TILE
        + f"SELECT count({OURS.format(g=transformed)}) "
        + CANDIDATES.format(t=table),
        "whole": ours,
        "whole, 3857 stored": TILE
        + MVT.format(
            geom=OURS.format(g="t.geom"), where=f"FROM {projected} t, tile WHERE t.geom && tile.clip"
        ),
    }


def _request(spec, tile: tuple[int, int, int]) -> postgis_tiles.MvtRequest:
    return postgis_tiles.MvtRequest(
        name="buildings",
        geometry=spec.geometry,
        bounds=grid.xy_bounds(*tile),
        fields=spec.fields,
        tolerance=tolerance_units(spec, tile[0]),
    )


def _args(spec, tile: tuple[int, int, int]) -> dict:
    """The product's parameters of the tile's statement (``postgis_tiles._args``)."""
    return postgis_tiles._args(_request(spec, tile), EXTENT, None)


def p50(run, tiles) -> float:
    for t in tiles[:3]:  # warm the buffers and the plans
        run(t)
    times = []
    for t in tiles:
        started = time.perf_counter()
        run(t)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


class _Passes(logging.Handler):
    """The ``postgis_tiles.PASS_LOG`` records of the tile being made: (extent, features, bytes, ms)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.passes: list[tuple[int, int, int, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == postgis_tiles.PASS_LOG:
            _, extent, _, features, size, ms = record.args
            self.passes.append((extent, features, size, ms))


def print_passes(store, record, spec) -> None:
    """``render_mvt`` of each tile of the cold blocks once, pass by pass."""
    handler, logger = _Passes(), postgis_tiles.LOG
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        print("\n`render_mvt` pass by pass, each tile once (extent: features, MVT bytes, ms)")
        print("| zoom (tiles) | p50 ms | passes p50 / max | slowest tile's passes |")
        print("|---|---|---|---|")
        for z, side in PASS_BLOCKS.items():
            made = []
            for t in scenarios.tiles(z, side, spec.bounds):
                handler.passes = []
                started = time.perf_counter()
                postgis_tiles.render_mvt(store, record, _request(spec, t))
                made.append(((time.perf_counter() - started) * 1000, handler.passes))
            slowest = max(made, key=lambda m: m[0])
            counts = [len(p) for _, p in made]
            steps = "; ".join(f"{e}: {n:,}, {b / 1e6:.2f} MB, {ms:.0f}" for e, n, b, ms in slowest[1])
            print(
                f"| z{z} ({len(made)}) | {statistics.median(m[0] for m in made):.0f} |"
                f" {statistics.median(counts):g} / {max(counts)} | {slowest[0]:.0f} ms = {steps} |"
            )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench"))
    args = parser.parse_args()
    project = data.prepare_project(args.workdir)
    data.load_gpkg(project)
    with postgis_copy(project, "tiles") as (_, dsn):
        store = PostGISStore(dsn)
        record = store.current("buildings")
        layer = load_catalog(project / "layers").layers["buildings"]
        spec = tile_spec(layer, record, "public")
        table = f'"{store.schema}"."{record.table}"'
        projected = f'"{store.schema}".bench_projected'
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE {projected} AS SELECT fid, building_id, name,"
                f" ST_Transform(geom, 3857)::geometry(Geometry, 3857) AS geom FROM {table}"
            )
            conn.execute(f"CREATE INDEX ON {projected} USING gist (geom)")
            conn.execute(f"ANALYZE {projected}")
            print(f"{record.feature_count:,} buildings; p50 ms over each block, one connection")
            print("| step | " + " | ".join(f"z{z} ({s}x{s})" for z, s in BLOCKS.items()) + " |")
            print("|---|" + "---|" * len(BLOCKS))
            blocks = {z: scenarios.tiles(z, s, spec.bounds) for z, s in BLOCKS.items()}
            ours = postgis_tiles._statement(store.schema, record, _request(spec, blocks[14][0]), False)
            for name, sql in statements(table, projected, ours).items():

                def run(t, q=sql):
                    conn.execute(q, _args(spec, t)).fetchall()

                cells = [p50(run, blocks[z]) for z in BLOCKS]
                print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")

        def render(t):
            postgis_tiles.render_mvt(store, record, _request(spec, t))

        print(
            "| render (Python: statement, gzip, budget) | "
            + " | ".join(f"{p50(render, blocks[z]):.1f}" for z in BLOCKS)
            + " |"
        )
        print_passes(store, record, spec)
        store.close()


if __name__ == "__main__":
    main()
