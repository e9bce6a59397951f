"""ETL benchmark: a big cp932 parcel shapefile through the full ETL, against a plain copy.

Generates (seeded) N polygons in EPSG:6677 with 8 Japanese attributes as a cp932 shapefile
without .cpg, as departments hand them over; then, each in a fresh process, times

- ``etl``: the full ETL (``etl.runner.run_etl``: checks, encoding scan, TKY2JGD-free
  reprojection, validation/repair, schema mapping with a code list file, duplicate ids,
  GeoPackage store write, QA map, report) into a fresh store, and
- ``floor``: a plain ogr2ogr-equivalent copy through pyogrio (read + reproject to EPSG:4326
  + write a GeoPackage; no validation),

and prints the median of ``--runs`` runs with features/s and the peak RSS of the process
(``VmHWM`` from /proc; "growth" is the peak minus the RSS after imports).

Usage::

    .venv/bin/python bench/etl.py                       # 500,000 polygons, 3 runs each
    .venv/bin/python bench/etl.py --features 100000 500000 --runs 3
    .venv/bin/python bench/etl.py --features 50000 --profile   # cProfile of one ETL run
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# This file is bench/etl.py: as a script, its folder comes first on sys.path and `import etl`
# would find this file instead of the ETL package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

SEED = 20261126
ROOT = Path(__file__).resolve().parent.parent
CODELIST = ROOT / "sources/planning/plateau/codelists/Common_districtsAndZonesType.xml"
DEFINITION = """\
title: {ja: 筆界（ベンチマーク用・架空）, en: "Parcels (benchmark, synthetic)"}
description: {ja: ベンチマーク用に生成したサンプル（架空）データ, en: Generated for the benchmark}
license: {attribution: {ja: 架空データ, en: Synthetic data}}
source: {path: parcels.shp, encoding: cp932}
geometry: polygon
access: internal  # the open-data publisher (not the ETL) skips internal layers
tiles: {minzoom: 14}  # parcels are drawn from z14 (where the density rule put them before issue 19)
id_field: parcel_id
title_field: parcel_id
fields:
  - {name: parcel_id, source: 筆番号, required: true, label: {ja: 筆番号, en: Parcel}}
  - {name: land_use, source: 地目, label: {ja: 地目, en: Land use}}
  - {name: owner, source: 所有区分, label: {ja: 所有区分, en: Owner}}
  - {name: area_m2, source: 面積, type: number, label: {ja: 面積, en: Area}}
  - {name: YoutoCode, source: 用途地域, type: integer, label: {ja: 用途地域コード, en: Zoning code}}
  - {name: YoutoName, source: 用途地域, codelist: Common_districtsAndZonesType.xml,
     label: {ja: 用途地域, en: Zoning}}
  - {name: BCR, source: 建蔽率, type: number, label: {ja: 建蔽率, en: Coverage}}
  - {name: FAR, source: 容積率, type: number, label: {ja: 容積率, en: Floor area ratio}}
  - {name: updated, source: 更新日, type: date, label: {ja: 更新日, en: Updated}}
"""


def _polygons(rng, n: int):
    """Five-vertex parcels 8-20 m across around Tsukuba in zone IX; 0.1 % self-intersect."""
    import numpy as np
    import shapely

    cx = rng.uniform(15_000, 31_000, n)  # easting (GIS x) of Tsukuba in EPSG:6677
    cy = rng.uniform(-5_000, 25_000, n)
    angles = np.sort(rng.uniform(0, 2 * np.pi, (n, 5)), axis=1)
    radius = rng.uniform(8, 20, (n, 1))
    ring = np.stack([cx[:, None] + radius * np.cos(angles), cy[:, None] + radius * np.sin(angles)], axis=2)
    bowtie = rng.random(n) < 0.001
    ring[bowtie] = ring[bowtie][:, [0, 2, 1, 3, 4]]  # crossing edges: make_valid repairs these
    return shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))


def _attributes(rng, start: int, n: int, geoms) -> dict:
    import numpy as np
    import shapely

    dates = np.array([f"{y}/{m}/1" for y in (2019, 2021, 2023, 2024) for m in (4, 10)])
    return {
        "筆番号": [f"{i:07d}-1" for i in range(start, start + n)],
        "地目": rng.choice(["田", "畑", "宅地", "山林", "雑種地", "公衆用道路"], n),
        "所有区分": rng.choice(["国", "県", "市", "私有"], n),
        "面積": np.round(shapely.area(geoms), 2),
        "用途地域": rng.integers(0, 14, n),
        "建蔽率": rng.choice([40, 50, 60, 80], n),
        "容積率": rng.choice([80, 100, 150, 200, 300, 400], n),
        "更新日": rng.choice(dates, n),
    }


def generate(path: Path, n: int, seed: int = SEED, chunk: int = 100_000) -> Path:
    """Write the parcel shapefile (cp932, no .cpg), ``chunk`` features at a time."""
    import geopandas as gpd
    import numpy as np
    import pyogrio

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        geoms = _polygons(rng, size)
        frame = gpd.GeoDataFrame(_attributes(rng, start, size, geoms), geometry=geoms, crs="EPSG:6677")
        pyogrio.write_dataframe(frame, path, encoding="cp932", append=start > 0)
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def prepare(workdir: Path, n: int) -> Path:
    """A project folder with the definition and the (cached) generated shapefile."""
    project = workdir / f"n{n}"
    shp = project / "sources" / "parcels.shp"
    if not shp.exists():  # in a child: this process spawns the measured ones and stays small
        subprocess.run([sys.executable, __file__, "--generate", str(n), str(shp)], check=True)
    shutil.copy(CODELIST, project / "sources" / CODELIST.name)
    (project / "layers" / "bench").mkdir(parents=True, exist_ok=True)
    (project / "layers" / "bench" / "_department.yaml").write_text(
        "name: {ja: ベンチマーク, en: Benchmark}\n", encoding="utf-8"
    )
    (project / "layers" / "bench" / "parcels.yaml").write_text(DEFINITION, encoding="utf-8")
    return project


def _etl(project: Path) -> int:
    from etl.runner import run_etl
    from tsukuba_gis.settings import Settings

    settings = Settings(
        data_dir=project / "data", layers_dir=project / "layers", sources_dir=project / "sources", store=None
    )
    report = run_etl(settings, ["parcels"], quiet=True)
    if not report.ok:
        raise SystemExit(f"ETL failed: {report.problems} {[r.error for r in report.layers]}")
    (layer,) = report.layers
    return layer.loaded


def _floor(project: Path) -> int:
    import pyogrio

    frame = pyogrio.read_dataframe(project / "sources" / "parcels.shp", encoding="cp932", use_arrow=True)
    frame = frame.to_crs("EPSG:4326")
    pyogrio.write_dataframe(frame, project / "data" / "floor.gpkg", driver="GPKG", use_arrow=True)
    return len(frame)


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss
    across exec, so a child would inherit the peak of the process that generated the file."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU seconds of this process and its finished children (tippecanoe builds the tiles)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def child(case: str, project: Path) -> dict:
    """Run one case in this (fresh) process and measure it."""
    import geopandas  # noqa: F401

    import etl.runner  # noqa: F401 - imports are not part of what is timed

    shutil.rmtree(project / "data", ignore_errors=True)
    (project / "data").mkdir()
    baseline = _peak_rss_mb()
    started, cpu = time.perf_counter(), _cpu()
    count = (_etl if case == "etl" else _floor)(project)
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    peak = _peak_rss_mb()
    return {
        "case": case,
        "features": count,
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_rss_mb": peak,
        "growth_mb": peak - baseline,
    }


def _spawn(case: str, project: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", case, str(project)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> None:
    print(
        f"{'features':>9} {'case':>5} {'median s':>9} {'features/s':>11} {'CPU s':>7}"
        f" {'peak RSS MB':>12} {'growth MB':>10} {'runs':>5}"
    )
    for r in rows:
        print(
            f"{r['features']:>9,} {r['case']:>5} {r['seconds']:>9.2f} {r['rate']:>11,.0f}"
            f" {r['cpu_s']:>7.2f} {r['peak_rss_mb']:>12.0f} {r['growth_mb']:>10.0f}"
            f" {r['runs']:>5}"
        )


def measure(sizes: list[int], runs: int, workdir: Path) -> list[dict]:
    """Median time and peak memory of each case and size, each run in its own process."""
    rows = []
    for n in sizes:
        project = prepare(workdir, n)
        # Interleaved (floor, etl, floor, etl, ...): both see the same machine load.
        results = {"floor": [], "etl": []}
        for _ in range(runs):
            for case in results:
                results[case].append(_spawn(case, project))
        for case, found in results.items():
            median = statistics.median(r["seconds"] for r in found)
            rows.append(
                {
                    "features": found[0]["features"],
                    "case": case,
                    "seconds": median,
                    "rate": found[0]["features"] / median,
                    "runs": runs,
                    "cpu_s": statistics.median(r["cpu_s"] for r in found),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in found),
                    "growth_mb": max(r["growth_mb"] for r in found),
                }
            )
        floor, full = rows[-2], rows[-1]
        print(
            f"n={n:,}: etl/floor = {full['seconds'] / floor['seconds']:.2f}x wall,"
            f" {full['cpu_s'] / floor['cpu_s']:.2f}x CPU",
            file=sys.stderr,
        )
    return rows


def profile(n: int, workdir: Path) -> None:
    """cProfile of one ETL run, the top functions by cumulative and own time."""
    import cProfile
    import pstats

    project = prepare(workdir, n)
    shutil.rmtree(project / "data", ignore_errors=True)
    profiler = cProfile.Profile()
    profiler.runcall(_etl, project)
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--features", type=int, nargs="+", default=[500_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--profile", action="store_true", help="profile one ETL run instead")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "PROJECT"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("N", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(Path(args.generate[1]), int(args.generate[0]))
    elif args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
    elif args.profile:
        profile(args.features[0], args.workdir)
    else:
        _table(measure(args.features, args.runs, args.workdir))


if __name__ == "__main__":
    main()
