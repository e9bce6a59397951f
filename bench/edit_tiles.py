"""What a live edit's tile rebuild costs on a large layer (``mbtiles.build_tiles``).

The z14, z15 and z16 tiles around つくば駅 (``scenarios.CENTRE``) of the serving bench's
200,000 buildings, re-made five times in-process from the features around them, as an edit
that touched them does; prints the median and each run.

    .venv/bin/python bench/edit_tiles.py                  # the bench project's GeoPackage
"""

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, scenarios  # noqa: E402
from tsukuba_gis.catalog import load_catalog  # noqa: E402
from tsukuba_gis.store import open_store  # noqa: E402
from tsukuba_gis.tiles import mbtiles  # noqa: E402
from tsukuba_gis.tiles.rules import tile_specs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    project = data.prepare_project(args.workdir)
    data.load_gpkg(project)
    store = open_store(str(project / "data" / "store.gpkg"))
    catalog = load_catalog(project / "layers", project / "sources")
    record = store.current("buildings")
    spec = tile_specs(catalog.layers["buildings"], record)[0]
    lon, lat = scenarios.CENTRE
    tiles = []
    for z in range(max(spec.minzoom, 14), spec.maxzoom + 1):
        n = 2**z
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        tiles.append((z, int((lon + 180) / 360 * n), y))
    times, made = [], {}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            made = mbtiles.build_tiles(store, record, spec, tiles, Path(tmp))
            times.append(time.perf_counter() - started)
    sizes = ", ".join(f"{z}/{x}/{y}: {len(made[z, x, y]):,} B" for z, x, y in tiles)
    runs = " ".join(f"{t:.3f}" for t in times)
    print(f"tiles {sizes}; median {statistics.median(times):.3f} s ({runs})")


if __name__ == "__main__":
    main()
