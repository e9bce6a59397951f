"""What loading a pre-built tile set into the PostGIS tile table costs, logged vs UNLOGGED.

The serving bench's buildings (``bench/serve.py`` builds the project in ``--workdir``) and the
tile set their ETL pre-built (the GeoPackage store's MBTiles), loaded with
``PostGISTileCache.put_prebuilt`` into a throwaway cluster's ``tg_tile_cache``, with the table
set LOGGED and UNLOGGED in turns (a checkpoint before each load). Migration 8 made the table
logged so that a crash keeps the pre-built sets; this is the price at ETL (and, last, what that
migration's rewrite of a table holding one such set took). The bench cluster
runs with fsync off (``tests/pgcluster.py``): the WAL is written, not flushed.

    .venv/bin/python bench/pg_tile_load.py
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data  # noqa: E402
from bench.servers import start_cluster  # noqa: E402
from tsukuba_gis.store.postgis import PostGISStore  # noqa: E402
from tsukuba_gis.tiles import mbtiles  # noqa: E402

MODES = ("LOGGED", "UNLOGGED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    project = data.prepare_project(args.workdir)
    data.load_gpkg(project)
    path = min((project / "data" / "tiles" / "buildings").glob("*.mbtiles"))
    tiles = list(mbtiles.read_mbtiles(path))
    print(f"{path.name}: {len(tiles):,} tiles, {sum(len(t[3]) for t in tiles) / 1e6:.1f} MB")
    cluster = start_cluster()
    try:
        dsn = cluster.create_database("tiles")
        data.copy_to_postgis(project, dsn)
        store = PostGISStore(dsn)
        version = store.current("buildings").version
        seconds: dict[str, list[float]] = {mode: [] for mode in MODES}
        altered: list[float] = []  # SET LOGGED of the table holding the set: migration 8's rewrite
        before = "LOGGED"  # migration 8 has run
        for round_ in range(args.rounds):
            for mode in MODES if round_ % 2 == 0 else MODES[::-1]:  # alternate which goes first
                started = time.perf_counter()
                cluster.execute(f'ALTER TABLE "{store.schema}".tg_tile_cache SET {mode}', database="tiles")
                if (before, mode) == ("UNLOGGED", "LOGGED"):  # a rewrite, not a no-op
                    altered.append(time.perf_counter() - started)
                before = mode
                cluster.execute("CHECKPOINT")
                started = time.perf_counter()
                store.tile_cache().put_prebuilt("buildings", version, "public", iter(tiles))
                seconds[mode].append(time.perf_counter() - started)
        for mode, values in seconds.items():
            rounds = ", ".join(f"{v:.2f}" for v in values)
            print(f"{mode:>8}: median {statistics.median(values):.2f} s ({rounds})")
        rounds = ", ".join(f"{v:.2f}" for v in altered)
        print(f"SET LOGGED with the set in the table: median {statistics.median(altered):.2f} s ({rounds})")
        store.close()
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
