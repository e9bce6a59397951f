"""Raster ETL benchmark: a big float32 grid to COG through the full ETL, against GDAL's COG copy.

Generates (seeded) a 10,000 x 10,000 float32 GeoTIFF in EPSG:6677 (smooth terrain + noise,
nodata corner, DEFLATE tiles, as a department's DEM export), then, each in a fresh process:

- ``etl``: the full raster ETL (``etl.runner.run_etl`` for one ``kind: raster`` layer: source
  checksum, header checks, mosaic VRT, windowed range check + statistics + histogram, COG
  write, COG check, COG checksum, registry commit) into a fresh store, and
- ``floor``: ``gdal_translate -of COG`` with the same creation options, i.e.
  ``rasterio.shutil.copy(src, dst, driver="COG", ...)`` on the same file.

It prints the median of ``--runs`` runs and the ratio, and the peak RSS (VmHWM) of one ETL of a
20,000 x 20,000 RGB uint8 photograph (``--photo``).

Usage::

    .venv/bin/python bench/raster_etl.py                    # 10,000^2 float32, 3 runs each
    .venv/bin/python bench/raster_etl.py --size 4000 --runs 1
    .venv/bin/python bench/raster_etl.py --photo 20000      # peak RSS of the RGB ingest
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# As a script its folder comes first on sys.path; `import etl` must find the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SEED = 20261126
WORK = Path("/tmp/tsukuba-gis-bench/raster")
FLOAT_LAYER = """\
kind: raster
title: {ja: 標高（ベンチマーク用・架空）, en: "Elevation (benchmark, synthetic)"}
description: {ja: ベンチマーク用に生成したサンプル（架空）データ, en: Generated for the benchmark}
license: {attribution: {ja: 架空データ, en: Synthetic data}}
source: {path: grid.tif}
bands: [{name: elevation, label: {ja: 標高, en: Elevation}, unit: m}]
value_range: {min: -100, max: 1000}
"""
PHOTO_LAYER = """\
kind: raster
title: {ja: 航空写真（ベンチマーク用・架空）, en: "Photo (benchmark, synthetic)"}
description: {ja: ベンチマーク用に生成したサンプル（架空）データ, en: Generated for the benchmark}
license: {attribution: {ja: 架空データ, en: Synthetic data}}
access: internal
source: {path: photo.tif}
bands:
  - {name: red, label: {ja: 赤, en: Red}}
  - {name: green, label: {ja: 緑, en: Green}}
  - {name: blue, label: {ja: 青, en: Blue}}
resampling: average
"""


def generate(path: Path, size: int, bands: int, dtype: str) -> Path:
    """A seeded grid written strip by strip (never whole in memory)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(SEED)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": bands,
        "dtype": dtype,
        "crs": "EPSG:6677",
        "transform": from_origin(10000, 30000, 1 if bands == 3 else 2, 1 if bands == 3 else 2),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "nodata": None if bands == 3 else -9999.0,
        "BIGTIFF": "IF_SAFER",
    }
    cols = np.arange(size, dtype=np.float32)
    with rasterio.open(path, "w", **profile) as ds:
        for top in range(0, size, 512):
            rows = np.arange(top, min(top + 512, size), dtype=np.float32)[:, None]
            terrain = (
                25 + 15 * np.sin(rows / 900) * np.cos(cols / 700) + rng.normal(0, 0.3, (len(rows), size))
            )
            if bands == 1:
                block = terrain.astype(np.float32)[None]
                if top == 0:
                    block[0, :200, :200] = -9999.0
            else:
                base = (terrain - 5) * 5
                block = np.stack([base, base * 0.9 + 20, base * 0.7 + 10]).clip(0, 255).astype(np.uint8)
            ds.write(block, window=rasterio.windows.Window(0, top, size, len(rows)))
    return path


def _project(root: Path, source: Path, layer: str, definition: str) -> Path:
    if root.exists():
        shutil.rmtree(root)
    for sub in ("layers/bench", "sources", "data"):
        (root / sub).mkdir(parents=True)
    (root / "layers/bench/_department.yaml").write_text("name: {ja: ベンチ, en: Bench}\n", encoding="utf-8")
    (root / f"layers/bench/{layer}.yaml").write_text(definition, encoding="utf-8")
    (root / "sources" / source.name).symlink_to(source)
    return root


def _peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss carries the parent's peak across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(case: str, project: Path, source: Path) -> dict:
    """One timed run in this (fresh) process; imports are done before the clock starts."""
    import rasterio
    import rasterio.shutil

    from etl.raster import cog
    from etl.runner import run_etl
    from tsukuba_gis.settings import Settings

    started = time.monotonic()
    timings = {}
    if case == "floor":
        with rasterio.Env(GDAL_CACHEMAX=256):
            rasterio.shutil.copy(source, project / "floor.tif", driver="COG", **cog.options("bilinear"))
    else:
        settings = Settings(
            data_dir=project / "data", layers_dir=project / "layers", sources_dir=project / "sources"
        )
        report = run_etl(settings, quiet=True)
        assert report.ok, [r.error for r in report.rasters]
        timings = report.rasters[0].timings
    return {
        "case": case,
        "wall_s": round(time.monotonic() - started, 2),
        "peak_rss_mb": round(_peak_rss_mb()),
        "timings": timings,
    }


def _spawn(case: str, project: Path, source: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, str(project), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(size: int, runs: int) -> None:
    """Median wall time of the ETL and the floor, alternating, and their ratio."""
    WORK.mkdir(parents=True, exist_ok=True)
    source = WORK / f"grid-{size}.tif"
    if not source.exists():
        generate(source, size, 1, "float32")
    rows = {"etl": [], "floor": []}
    for _ in range(runs):
        for case in ("floor", "etl"):
            project = _project(
                WORK / f"run-{case}", source, "bench_grid", FLOAT_LAYER.replace("grid.tif", source.name)
            )
            rows[case].append(_spawn(case, project, source))
    floor = statistics.median(r["wall_s"] for r in rows["floor"])
    etl = statistics.median(r["wall_s"] for r in rows["etl"])
    print(f"{size} x {size} float32 ({source.stat().st_size / 1e6:.0f} MB source), {runs} runs")
    print("| case | median s | runs s | peak RSS MB |")
    print("|---|---|---|---|")
    for case in ("floor", "etl"):
        times = ", ".join(str(r["wall_s"]) for r in rows[case])
        peak = max(r["peak_rss_mb"] for r in rows[case])
        print(f"| {case} | {statistics.median(r['wall_s'] for r in rows[case])} | {times} | {peak} |")
    print(f"ratio etl / floor: {etl / floor:.2f}")
    print(f"ETL steps of the last run (s): {rows['etl'][-1]['timings']}")


def photo(size: int) -> None:
    """Peak RSS of one ETL of a size x size RGB photograph."""
    WORK.mkdir(parents=True, exist_ok=True)
    source = WORK / f"photo-{size}.tif"
    if not source.exists():
        generate(source, size, 3, "uint8")
    project = _project(
        WORK / "run-photo", source, "bench_photo", PHOTO_LAYER.replace("photo.tif", source.name)
    )
    result = _spawn("etl", project, source)
    print(
        f"{size} x {size} RGB uint8 ({source.stat().st_size / 1e6:.0f} MB source,"
        f" {size * size * 3 / 1e9:.1f} GB raw):"
        f" {result['wall_s']} s, peak RSS {result['peak_rss_mb']} MB"
    )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", type=int, help="measure the peak RSS of an RGB photo of this size")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), Path(args.child[2]))))
    elif args.photo:
        photo(args.photo)
    else:
        measure(args.size, args.runs)


if __name__ == "__main__":
    main()
