"""Change records of an ETL version switch (issue 16), in-process: what the one-pass diff costs.

A seeded layer of N building footprints (8 attributes, an id field) is written as v1, then twice
more with ``changed`` of its features modified (one attribute): once by the plain store writer
(no comparison, no records) and once as the ETL writes it (etl/diff.py ``VersionDiff`` fed with
each chunk, the records committed with the switch). The difference is what the change records
cost; before them the ETL compared the two versions after the commit (``diff_versions``, two
full passes), which is now the same one pass.

Usage (as a module: bench/etl.py would shadow the etl package for a script run from bench/)::

    .venv/bin/python -m bench.change_records                      # GeoPackage in a temp dir
    .venv/bin/python -m bench.change_records --features 200000 --changed 0.1
    .venv/bin/python -m bench.change_records --store 'postgresql://user@host/db?schema=bench'
"""

import argparse
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from etl.diff import VersionDiff
from etl.pipeline import DiffingWriter
from tsukuba_gis.store import Column, Store, open_store

COLUMNS = [
    Column("bid", "string"),
    Column("use", "string"),
    Column("floors", "integer"),
    Column("height", "number"),
    Column("year", "integer"),
    Column("name", "string"),
    Column("town", "string"),
    Column("flag", "boolean"),
]
META = {"source_checksum": "s" * 64, "definition_checksum": "d" * 64}
CHUNK = 50_000


def buildings(n: int, seed: int = 20261202) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x, y = 140.0 + rng.random(n) * 0.2, 36.0 + rng.random(n) * 0.2
    data = {
        "bid": [f"B{i:07d}" for i in range(n)],
        "use": rng.choice(["住宅", "商業", "工業"], n).tolist(),
        "floors": rng.integers(1, 10, n),
        "height": rng.random(n) * 30,
        "year": rng.integers(1950, 2024, n),
        "name": [f"建物{i}" for i in range(n)],
        "town": rng.choice(["竹園一丁目", "吾妻二丁目", "千現一丁目"], n).tolist(),
        "flag": rng.random(n) > 0.5,
    }
    # Multi-polygons, as the ETL writes areas (PostGIS' column type).
    areas = [shapely.MultiPolygon([box]) for box in shapely.box(x, y, x + 1e-4, y + 1e-4)]
    return gpd.GeoDataFrame(data, geometry=areas, crs="EPSG:4326")


def write(store: Store, frame: gpd.GeoDataFrame, diffing: bool) -> tuple[float, int]:
    """Seconds to write and commit one version, and the records written."""
    previous = store.current("bench_buildings")
    started = time.perf_counter()
    with store.writer("bench_buildings", COLUMNS, "polygon", id_column="bid") as stored:
        writer = stored
        if diffing:
            names = [c.name for c in COLUMNS]
            writer = DiffingWriter(stored, VersionDiff(store, previous, names, "bid", "name"))
        for i in range(0, len(frame), CHUNK):
            writer.append(frame.iloc[i : i + CHUNK])
        meta, records = dict(META), []
        if isinstance(writer, DiffingWriter):
            _, records = writer.diff.finish(stored.version, "etl:bench", "2026-12-02T00:00:00.000+00:00")
            meta["change_records"] = records
        stored.commit(meta)
    return time.perf_counter() - started, len(records)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=200_000)
    parser.add_argument("--changed", type=float, default=0.1, help="share of features modified")
    parser.add_argument("--store", default=None, help="a store URL (default: a temporary GeoPackage)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tsukuba-gis-bench-") as tmp:
        store = open_store(args.store or str(Path(tmp) / "bench.gpkg"), keep_versions=2)
        store.migrate()
        frame = buildings(args.features)
        write(store, frame, diffing=False)
        rng = np.random.default_rng(1)
        picked = rng.choice(len(frame), int(len(frame) * args.changed), replace=False)
        for diffing in (False, True):
            frame.loc[picked, "floors"] = frame.loc[picked, "floors"] + 1
            seconds, count = write(store, frame, diffing)
            what = "with the diff and change records" if diffing else "plain writer, no records"
            print(f"{what:35s} {seconds:7.2f} s  {count:7d} records")
        print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
