"""How cost grows with size: 20,000 / 200,000 / 2,000,000 buildings on both stores.

For each size (bench/data.py: the city's 200,000 buildings at most; past that, the rest of
Ibaraki prefecture around it, so the queried centre keeps its density), in fresh processes:

- ETL wall time and peak RSS (``os.wait4``'s ru_maxrss: the CLI and tippecanoe, its child) of
  ``tsukuba-gis etl`` into a GeoPackage store, and into a PostGIS database of the bench cluster
  (tiles included on both);
- ``tsukuba-gis serve --workers 2`` on each store, wrk (2 threads x 4 connections): p50 of the
  ~360 m items page, one feature by id and the z14 tile block around つくば駅 (medians of runs).

Prints the table, writes bench/GROWTH.md and the plot bench/growth.png (matplotlib).

Usage::

    .venv/bin/python bench/growth.py                              # 20k, 200k, 2M (~40 min)
    .venv/bin/python bench/growth.py --sizes 20000 200000 --runs 1 --seconds 3   # a quick look
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, load, scenarios, servers  # noqa: E402

HERE = Path(__file__).resolve().parent
CLI = str(HERE.parent / ".venv" / "bin" / "tsukuba-gis")
GZIP = {"Accept-Encoding": "gzip"}
METRICS = ("items360 p50 ms", "feature p50 ms", "tile z14 p50 ms", "ETL s", "ETL peak RSS MB")


def _env(project: Path, store: str) -> dict[str, str]:
    return {
        **os.environ,
        "TSUKUBA_GIS_DATA_DIR": str(project / "data"),
        "TSUKUBA_GIS_LAYERS_DIR": str(project / "layers"),
        "TSUKUBA_GIS_SOURCES_DIR": str(project / "sources"),
        "TSUKUBA_GIS_STORE": store,
    }


def timed_etl(project: Path, store: str) -> tuple[float, float]:
    """(wall s, peak RSS MB of the ETL process tree) of one full ETL into a fresh store."""
    if not store:
        shutil.rmtree(project / "data", ignore_errors=True)
    started = time.perf_counter()
    process = subprocess.Popen([CLI, "-q", "etl"], env=_env(project, store), cwd=project)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"the ETL failed ({process.returncode}) on {project}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def served(wrk: str, project: Path, store: str, n: int, args: argparse.Namespace, work: Path) -> dict:
    """p50 (ms) of the three requests on one store: medians over runs."""
    server = servers.start_ours("growth", project, store or None, work)
    found: dict[str, list[float]] = {"items360": [], "feature": [], "tile14": []}
    paths = {
        "items360": scenarios.items_paths("ours", 360, 100, 50),
        "feature": scenarios.feature_paths("ours", total=n),
        "tile14": scenarios.tile_paths("ours", 14, 3),
    }
    try:
        load.wait_quiet(args.max_load, args.max_wait)
        for _ in range(args.runs):
            for key, todo in paths.items():
                sample = load.run_wrk(
                    wrk,
                    server.url,
                    todo,
                    args.seconds,
                    server.pids(),
                    headers=GZIP if key == "tile14" else None,
                )
                if sample.bad:
                    raise SystemExit(f"{sample.bad} bad answers for {key} at {n:,}")
                found[key].append(sample.p50_ms)
    finally:
        server.stop()
    return {k: statistics.median(v) for k, v in found.items()}


def measure(n: int, cluster, wrk: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Every metric for one size, on both stores."""
    project = data.prepare_project(args.workdir, n)
    rows = {}
    for label in ("gpkg", "postgis"):
        store = ""
        if label == "postgis":
            name = f"growth_{n}"
            cluster.execute(f"DROP DATABASE IF EXISTS {name}")
            store = cluster.create_database(name)
        load.wait_quiet(args.max_load, args.max_wait)
        load1 = load.load1()
        seconds, rss = timed_etl(project, store)
        p50 = served(wrk, project, store, n, args, args.workdir)
        rows[label] = {
            "items360 p50 ms": p50["items360"],
            "feature p50 ms": p50["feature"],
            "tile z14 p50 ms": p50["tile14"],
            "ETL s": seconds,
            "ETL peak RSS MB": rss,
            "load1": load1,
        }
        print(f"{n:>9,} {label:>7}: " + ", ".join(f"{k} {v:.2f}" for k, v in rows[label].items()), flush=True)
    return rows


def table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    """Markdown: a row per size and store, and the 200k -> 2M growth."""
    head = ["buildings", "store", *METRICS, "load1 at ETL start"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n, stores in results.items():
        for label, row in stores.items():
            cells = [f"{n:,}", label, *(f"{row[m]:,.2f}" for m in METRICS), f"{row['load1']:.2f}"]
            lines.append("| " + " | ".join(cells) + " |")
    sizes = sorted(results)
    for a, b in zip(sizes, sizes[1:], strict=False):
        for label in ("gpkg", "postgis"):
            ratios = [results[b][label][m] / max(results[a][label][m], 1e-9) for m in METRICS]
            cells = [f"{b:,} / {a:,}", label, *(f"{r:.2f}x" for r in ratios), "-"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[int, dict[str, dict[str, float]]], path: Path) -> None:
    """One panel per metric, log-scaled size, a line per store."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.4))
    for ax, metric in zip(axes, METRICS, strict=True):
        for label, marker in (("gpkg", "o"), ("postgis", "s")):
            ax.plot(sizes, [results[n][label][metric] for n in sizes], marker=marker, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("buildings")
        ax.set_title(metric, fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    figure.suptitle("tsukuba-gis: cost against size (bench/growth.py)", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = load.arguments(__doc__.split("\n\n")[0], 5, Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 2_000_000])
    parser.add_argument("--out", type=Path, default=HERE / "GROWTH.md")
    parser.add_argument("--plot", type=Path, default=HERE / "growth.png")
    args = parser.parse_args()
    wrk = servers.have_wrk()
    cluster = servers.start_cluster()
    try:
        results = {n: measure(n, cluster, wrk, args) for n in args.sizes}
    finally:
        cluster.destroy()
    text = (
        f"# Growth bench results\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, command:"
        f" `.venv/bin/python bench/growth.py {' '.join(sys.argv[1:])}`".rstrip()
        + f"\n\np50 over wrk runs of {args.seconds:.0f} s (median of {args.runs}), 2 workers per server."
        " ETL: one fresh `tsukuba-gis etl` of both layers, tiles included; peak RSS of its process"
        " tree (the CLI and tippecanoe).\n\n" + table(results) + "\n\n![growth](growth.png)\n"
    )
    args.out.write_text(text, encoding="utf-8")
    plot(results, args.plot)
    print(text)


if __name__ == "__main__":
    main()
