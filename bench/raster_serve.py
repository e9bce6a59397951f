"""Raster serving benchmark: our map tiles and coverage subsets against TiTiler, same COG.

Generates (seeded, ``bench/raster_etl.py``'s generator) a 10,000 x 10,000 float32 grid in
EPSG:6677 (2 m cells, 20 km), loads it with the real ETL into a fresh GeoPackage store as a
``kind: raster`` layer drawn in six colour classes, then starts, each with the same number of
worker processes (uvicorn, httptools + uvloop):

- ``ours``: ``tsukuba-gis serve --workers 2`` over that store;
- ``titiler``: TiTiler (``titiler.application``, its own venv ``bench/.venv-titiler``) on the
  very COG file the store registered, with the same six classes as an interval colour map.

Requests (4 keep-alive connections, loopback):

- tiles: 256 px PNG, a seeded sample of tiles over the raster at each of z12..z16; ``cold``
  is the first pass after the servers start (nothing rendered yet), ``warm`` the same tiles
  again (ours answers from its tile memory; TiTiler renders again with GDAL's caches warm);
- coverage: GeoTIFF subsets of seeded ~500 m boxes at native resolution (ours: ``/coverage?
  bbox=``; TiTiler: ``/cog/bbox/...tif`` with ``dst_crs`` the grid's CRS);
- ours keeps rendered tiles in memory and in ``<data dir>/cache/raster-tiles`` (shared by the
  workers); the bench removes that directory first, so the cold pass renders every tile;
- point: ``/point`` with the sample layers and rasters (``tsukuba-gis etl`` of the repo's
  samples in a second store), one connection, p50.

Medians of per-request latency and requests/s per pass; the load average before each part.

Usage::

    .venv/bin/python bench/raster_serve.py               # the table in bench/README.md
    .venv/bin/python bench/raster_serve.py --tiles 30    # fewer tiles per zoom
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from servers import WORKERS, Server, _start, ensure_peer, free_port, start_ours  # noqa: E402

# isort: split
# raster_etl takes bench/ off sys.path again (bench/etl.py would shadow the etl package).
from raster_etl import SEED, generate  # noqa: E402

WORK = Path("/tmp/tsukuba-gis-bench/raster-serve")
SIZE = 10_000
CONNECTIONS = 4
CLASSES = [(0, 20, "#f7f5a9"), (20, 25, "#ffd8c0"), (25, 30, "#ffb7b7"), (30, 35, "#ff9191")]
CLASSES += [(35, 40, "#f285c9"), (40, 1000, "#dc7adc")]
LAYER = """\
kind: raster
title: {ja: 浸水深（ベンチマーク用・架空）, en: "Depth (benchmark, synthetic)"}
description: {ja: ベンチマーク用に生成したサンプル（架空）データ, en: Generated for the benchmark}
license: {attribution: {ja: 架空データ, en: Synthetic data}}
source: {path: grid.tif}
bands: [{name: depth, label: {ja: 値, en: Value}, unit: m}]
value_range: {min: -100, max: 1000}
breaks:
"""


def _definition() -> str:
    rows = []
    for i, (low, high, color) in enumerate(CLASSES):
        top = "" if i == len(CLASSES) - 1 else f", max: {high}"
        rows.append(f'  - {{min: {low}{top}, color: "{color}", label: {{ja: c{i}, en: c{i}}}}}')
    return LAYER + "\n".join(rows) + "\n"


def _project() -> Path:
    """The bench project with the grid loaded (generated and loaded once, then kept)."""
    root = WORK / "project"
    store = root / "data" / "store.gpkg"
    if store.exists():
        return root
    for sub in ("layers/bench", "sources", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "layers/bench/_department.yaml").write_text("name: {ja: ベンチ, en: Bench}\n", encoding="utf-8")
    (root / "layers/bench/depth.yaml").write_text(_definition(), encoding="utf-8")
    grid = root / "sources" / "grid.tif"
    if not grid.exists():
        print(f"generating {SIZE:,}^2 float32 ...", flush=True)
        generate(grid, SIZE, 1, "float32")
    env = {**os.environ, **_env(root)}
    subprocess.run([str(HERE.parent / ".venv/bin/tsukuba-gis"), "-q", "etl"], check=True, env=env)
    return root


def _env(root: Path) -> dict[str, str]:
    return {
        "TSUKUBA_GIS_DATA_DIR": str(root / "data"),
        "TSUKUBA_GIS_LAYERS_DIR": str(root / "layers"),
        "TSUKUBA_GIS_SOURCES_DIR": str(root / "sources"),
    }


def start_titiler(workdir: Path) -> Server:
    """TiTiler's application in its own venv, same workers and HTTP stack."""
    bin_dir = ensure_peer("titiler")
    port = free_port()
    argv = [str(bin_dir / "uvicorn"), "titiler.application.main:app", "--port", str(port)]
    argv += ["--workers", str(WORKERS), "--http", "httptools", "--loop", "uvloop", "--log-level", "warning"]
    return _start("titiler", argv, {"TITILER_API_CORS_ORIGINS": ""}, port, workdir, "/healthz")


def _tiles(bbox, per_zoom: int) -> list[tuple[int, int, int]]:
    import morecantile

    tms, rng = morecantile.tms.get("WebMercatorQuad"), random.Random(SEED)
    chosen = []
    for z in range(12, 17):
        every = list(tms.tiles(*bbox, zooms=[z]))
        chosen += [(t.z, t.x, t.y) for t in rng.sample(every, min(per_zoom, len(every)))]
    rng.shuffle(chosen)
    return chosen


def _run(urls: list[str]) -> dict[str, float]:
    """Every URL once over CONNECTIONS keep-alive connections: latency p50/p90 and req/s."""
    latencies, errors, lock = [], [], threading.Lock()
    queue = list(reversed(urls))

    def work() -> None:
        with httpx.Client(timeout=60, headers={"Accept-Encoding": "gzip"}) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    url = queue.pop()
                started = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed * 1000)
                    if response.status_code != 200:
                        errors.append((url, response.status_code, response.text[:200]))

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    latencies.sort()
    return {
        "n": len(latencies),
        "p50_ms": round(statistics.median(latencies), 2),
        "p90_ms": round(latencies[int(len(latencies) * 0.9)], 2),
        "req_s": round(len(latencies) / wall, 1),
    }


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _colormap() -> str:
    intervals = [
        [[low, high], [int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16), 255]] for low, high, c in CLASSES
    ]
    return json.dumps(intervals)


def _boxes(bbox, n: int) -> list[tuple[float, float, float, float]]:
    rng = random.Random(SEED)
    west, south, east, north = bbox
    size = 0.005  # ~500 m
    found = []
    for _ in range(n):
        x, y = rng.uniform(west, east - size), rng.uniform(south, north - size)
        found.append((round(x, 6), round(y, 6), round(x + size, 6), round(y + size, 6)))
    return found


def _inside(client: httpx.Client, lat: float, lon: float) -> bool:
    """Whether the server answers for this point (it refuses points outside the city)."""
    return client.get("/point", params={"lat": lat, "lon": lon}).status_code == 200


def _point_p50(root_samples: Path, n: int = 200) -> dict:
    """``/point`` over the repo's samples (vector layers + rasters), one connection."""
    workdir = WORK / "samples"
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    for name in ("layers", "sources"):  # the repo's definitions and samples (read by the server too)
        if not (workdir / name).exists():
            (workdir / name).symlink_to(HERE.parent / name)
    if not (workdir / "data" / "store.gpkg").exists():
        env = {**os.environ, "TSUKUBA_GIS_DATA_DIR": str(workdir / "data")}
        subprocess.run([str(HERE.parent / ".venv/bin/tsukuba-gis"), "-q", "etl"], check=True, env=env)
    server = start_ours("ours-samples", workdir, None, WORK)
    try:
        rng = random.Random(SEED)
        candidates = [(rng.uniform(36.05, 36.20), rng.uniform(140.02, 140.15)) for _ in range(500)]
        took, wall = [], []
        with httpx.Client(base_url=server.url, timeout=30) as client:
            # The city is not a box: keep the seeded points it covers (the rest answer 400), untimed.
            points = [p for p in candidates if _inside(client, *p)][:50]
            for i in range(n):
                lat, lon = points[i % len(points)]
                started = time.perf_counter()
                response = client.get("/point", params={"lat": lat, "lon": lon})
                wall.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"/point {lat},{lon}: {response.status_code} {response.text[:300]}")
                report = response.json()
                took.append(report["took_ms"])
                assert report["rasters"], "the samples have rasters"
        return {
            "n": n,
            "server_p50_ms": round(statistics.median(took), 2),
            "http_p50_ms": round(statistics.median(wall), 2),
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", type=int, default=60, help="tiles per zoom level (z12..z16)")
    parser.add_argument("--boxes", type=int, default=40, help="coverage subsets")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    root = _project()
    sys.path.insert(0, str(HERE.parent))
    from tsukuba_gis.store import open_store

    record = open_store(str(root / "data" / "store.gpkg")).current_raster("depth")
    cog = record.path(root / "data" / "rasters")
    tiles, boxes = _tiles(record.bbox, args.tiles), _boxes(record.bbox, args.boxes)
    print(f"COG {cog} ({cog.stat().st_size / 1e6:.0f} MB), {len(tiles)} tiles z12-z16, {len(boxes)} subsets")
    rows = []
    # Cold means cold: no tile kept on disk from an earlier run.
    shutil.rmtree(root / "data" / "cache" / "raster-tiles", ignore_errors=True)
    for name in ("ours", "titiler"):
        server = start_ours("ours", root, None, WORK) if name == "ours" else start_titiler(WORK)
        try:
            if name == "ours":
                tile = [
                    f"{server.url}/api/collections/depth/map/tiles/WebMercatorQuad/{z}/{y}/{x}"
                    for z, x, y in tiles
                ]
                cover = [
                    f"{server.url}/api/collections/depth/coverage?bbox={w},{s},{e},{n}"
                    for w, s, e, n in boxes
                ]
            else:
                query = httpx.QueryParams({"url": str(cog), "colormap": _colormap()})
                tile = [
                    f"{server.url}/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?{query}" for z, x, y in tiles
                ]
                cover = [
                    f"{server.url}/cog/bbox/{w},{s},{e},{n}.tif?url={cog}&dst_crs=epsg:6677&max_size=100000"
                    for w, s, e, n in boxes
                ]
            for part, urls in (("tiles cold", tile), ("tiles warm", tile), ("coverage", cover)):
                load = _load()
                rows.append({"server": name, "part": part, "load": load, **_run(urls)})
                print(rows[-1], flush=True)
        finally:
            server.stop()
    point = _point_p50(root)
    print("point", point, "load", _load())
    _table(rows, point)


def _table(rows: list[dict], point: dict) -> None:
    print("\n| part | server | p50 ms | p90 ms | req/s | vs TiTiler (req/s) | load avg at start |")
    print("|---|---|---|---|---|---|---|")
    peer = {r["part"]: r for r in rows if r["server"] == "titiler"}
    for r in rows:
        ratio = f"{r['req_s'] / peer[r['part']]['req_s']:.1f}x" if r["server"] == "ours" else ""
        cells = [r["part"], r["server"], r["p50_ms"], r["p90_ms"], r["req_s"], ratio, r["load"]]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print(
        f"\n/point (samples with rasters, {point['n']} requests):"
        f" server took_ms p50 {point['server_p50_ms']}, HTTP p50 {point['http_p50_ms']} ms"
    )


if __name__ == "__main__":
    main()
