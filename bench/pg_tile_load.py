"""What loading a pre-built tile set into the PostGIS tile table costs, logged vs UNLOGGED.

The serving bench's buildings (``bench/serve.py`` builds the project in ``--workdir``) and the
tile set their ETL pre-built (the GeoPackage store's MBTiles), loaded with
``PostGISTileCache.put_prebuilt`` into a throwaway cluster's ``tg_tile_cache``, with the table
set LOGGED and UNLOGGED in turns (a checkpoint before each load). Migration 8 made the table
logged so that a crash keeps the pre-built sets; this is the price at ETL. Then what that
migration's rewrite (UNLOGGED -> LOGGED) of the table holding the set takes. The bench cluster
runs with fsync off (``tests/pgcluster.py``): the WAL is written, not flushed.

Last, what carrying the tile sets costs ``tsukuba-gis store copy`` of the whole project into a
fresh database (``--no-tiles`` and not, in turns; ``--copies`` of each): the time a PostGIS
store copied in would otherwise make its tiles with ``ST_AsMVT`` until the next ETL.

    .venv/bin/python bench/pg_tile_load.py
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.servers import postgis_copy  # noqa: E402
from tsukuba_gis.store.postgis import PostGISStore  # noqa: E402
from tsukuba_gis.tiles import mbtiles  # noqa: E402

MODES = ("LOGGED", "UNLOGGED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--copies", type=int, default=2, help="store copies with and without tiles, each")
    args = parser.parse_args()
    project = data.prepare_project(args.workdir)
    data.load_gpkg(project)
    path = min((project / "data" / "tiles" / "buildings").glob("*.mbtiles"))
    tiles = list(mbtiles.read_mbtiles(path))
    print(f"{path.name}: {len(tiles):,} tiles, {sum(len(t[3]) for t in tiles) / 1e6:.1f} MB")
    with postgis_copy(project, "tiles", tiles=False) as (cluster, dsn):
        store = PostGISStore(dsn)
        version = store.current("buildings").version
        table = f'"{store.schema}".tg_tile_cache'

        def alter(mode: str) -> None:
            cluster.execute(f"ALTER TABLE {table} SET {mode}", database="tiles")

        def load() -> None:
            store.tile_cache().put_prebuilt("buildings", version, "public", iter(tiles))

        seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
        for round_ in range(args.rounds):
            for mode in MODES if round_ % 2 == 0 else MODES[::-1]:  # alternate which goes first
                alter(mode)
                cluster.execute("CHECKPOINT")
                seconds[mode].append(_timed(load))
        # Migration 8 on a table holding the set: SET LOGGED rewrites it (only after UNLOGGED).
        rewrites = []
        for _ in range(args.rounds):
            alter("UNLOGGED")
            rewrites.append(_timed(lambda: alter("LOGGED")))
        store.close()
        copies: dict[bool, list[float]] = {False: [], True: []}
        for round_ in range(args.copies):
            for tiles_too in (False, True) if round_ % 2 == 0 else (True, False):
                fresh = cluster.create_database(f"copy_{round_}_{int(tiles_too)}")
                copies[tiles_too].append(data.copy_to_postgis(project, fresh, tiles_too))
    for mode, values in seconds.items():
        print(f"{mode:>8}: {_median(values)}")
    print(f"SET LOGGED with the set in the table: {_median(rewrites)}")
    for tiles_too, values in copies.items():
        print(f"store copy {'with its tile sets' if tiles_too else '--no-tiles':>18}: {_median(values)}")


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _median(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})"


if __name__ == "__main__":
    main()
