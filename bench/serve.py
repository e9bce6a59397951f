"""Serving bench (issue 6): ours on both stores against TiPg and stock pygeoapi, same data.

One command: generates the seeded data set (bench/data.py), loads it through the real ETL,
starts a throwaway PostGIS cluster and copies the store into it (``tsukuba-gis store copy``),
starts every server with the same number of workers, waits for a quiet machine before each
scenario, runs wrk (4 connections, loopback) several times per server, and prints the medians
with the ratio to the best peer and to the in-process floor. Writes bench/RESULTS.md.

Usage::

    .venv/bin/python bench/serve.py                      # everything (~35 min with the 10-minute soak)
    .venv/bin/python bench/serve.py --only items360 feature --runs 1 --seconds 5 --soak 0
"""

import argparse
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import check, data, floor, load, peers, scenarios, servers  # noqa: E402
from bench.report import Cell, Row, median_cell, table  # noqa: E402

KIND = {
    "ours-gpkg": "ours",
    "ours-postgis": "ours",
    "tipg": "tipg",
    "pygeoapi": "pygeoapi",
    "mapserver-gpkg": "mapserver",
    "mapserver-postgis": "mapserver",
    "qgis-gpkg": "qgis",
    "qgis-postgis": "qgis",
}
SERVERS = list(KIND)
CHECKED = {"items360", "items1800", "feature"}  # peers' answers compared with ours before timing
WRK_ROWS = {  # name -> (title, paths per server kind ([] = not offered), measure the floor too)
    "items360": ("items, ~360 m bbox, limit=100", lambda k: scenarios.items_paths(k, 360, 100, 50), True),
    "items1800": (
        "items, ~1.8 km bbox, limit=1000",
        lambda k: scenarios.items_paths(k, 1800, 1000, 20),
        True,
    ),
    "feature": ("one feature by id", scenarios.feature_paths, True),
    "collections": ("/collections", lambda k: [scenarios.COLLECTIONS[k]], False),
    "tile14": ("z14 MVT tile, dense area (3x3 tiles)", lambda k: scenarios.tile_paths(k, 14, 3), False),
    "point": ("/point (point report)", lambda k: scenarios.point_paths() if k == "ours" else [], False),
}
TILE_ZOOMS = {10: 2, 12: 3, 14: 5, 16: 10}  # zoom -> side of the block of tiles around the centre
# Map clients (browsers, MapLibre, QGIS, GDAL) always accept gzip; tiles are asked that way.
GZIP = {"Accept-Encoding": "gzip"}


class Bench:
    """The running servers and the settings of one bench run."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.wrk = servers.have_wrk()
        self.work = args.workdir
        self.work.mkdir(parents=True, exist_ok=True)
        self.project = data.prepare_project(self.work)
        data.load_gpkg(self.project)
        self.cluster = servers.start_cluster()
        self.dsn = self.cluster.create_database("bench")
        data.copy_to_postgis(self.project, self.dsn)
        self.servers: dict[str, servers.Server] = {}

    def start(self, names: list[str]) -> None:
        """Start (or restart) servers by name."""
        for name in names:
            if name in self.servers:
                self.servers.pop(name).stop()
            if name == "ours-gpkg":
                found = servers.start_ours(name, self.project, None, self.work)
            elif name == "ours-postgis":
                found = servers.start_ours(name, self.project, self.dsn, self.work)
            elif name == "tipg":
                found = servers.start_tipg(self.dsn, self.work)
            elif name == "pygeoapi":
                found = servers.start_pygeoapi(self.cluster, "bench", self.work)
            else:
                found = self._start_c_peer(name)
            self.servers[name] = found

    def _start_c_peer(self, name: str) -> servers.Server:
        store = name.rsplit("-", 1)[1]
        gpkg = str(self.project / "data" / "store.gpkg")
        c = self.cluster
        libpq = f"host=127.0.0.1 port={c.port} dbname=bench user=postgres password={c.password}"
        if name.startswith("mapserver"):
            return peers.start_mapserver(name, self.work, store, libpq if store == "postgis" else gpkg)
        return peers.start_qgis(name, self.work, store, libpq if store == "postgis" else gpkg)

    def pids(self, name: str) -> list[int]:
        """Processes whose CPU a request of this server costs (PostgreSQL's too)."""
        own = self.servers[name].pids()
        return own if name.endswith("-gpkg") else own + servers.postgres_pids(self.cluster)

    def stop(self) -> None:
        """Stop every server and remove the cluster."""
        for server in self.servers.values():
            server.stop()
        self.cluster.destroy()

    def quiet(self) -> float:
        """Wait for the machine to be quiet (bounded); the load then."""
        return load.wait_quiet(self.args.max_load, self.args.max_wait)


def _works(server: servers.Server, path: str, wait_s: float = 600) -> bool:
    """Whether ``path`` answers 200; a 503 (e.g. tiles still being built) is waited out."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            status = httpx.get(server.url + path, timeout=120).status_code
        except httpx.HTTPError:
            return False
        if status != 503 or time.monotonic() > deadline:
            return status == 200
        time.sleep(2)


def wrk_row(bench: Bench, key: str) -> Row:
    """A wrk scenario on every server that has it, interleaved over the runs; plus the floor."""
    title, make, with_floor = WRK_ROWS[key]
    row = Row(title)
    names = []
    for name in (n for n in bench.servers if make(KIND[n])):
        if _works(bench.servers[name], make(KIND[name])[0]):
            names.append(name)
        else:  # e.g. tiles that do not exist yet: marked, not measured
            row.cells[name] = Cell(0, 0, 0, note="fails")
    notes = {}
    if key in CHECKED and "ours-gpkg" in names:
        ours = bench.servers["ours-gpkg"].url
        for name in (n for n in names if KIND[n] != "ours"):
            notes[name] = check.compare(ours, make("ours"), bench.servers[name].url, make(KIND[name]))
    samples: dict[str, list] = {n: [] for n in names}
    bench.quiet()  # once per scenario; each run records the load and what else ran meanwhile
    for _ in range(bench.args.runs):
        for name in names:
            server = bench.servers[name]
            samples[name].append(
                load.run_wrk(
                    bench.wrk,
                    server.url,
                    make(KIND[name]),
                    bench.args.seconds,
                    bench.pids(name),
                    headers=GZIP if key == "tile14" else None,
                )
            )
    row.cells.update({n: median_cell(s) for n, s in samples.items()})
    for name, note in notes.items():
        if note:
            row.cells[name].flag = note
    if with_floor:
        paths = make("ours")
        for label, url in (
            ("floor-gpkg", str(bench.project / "data" / "store.gpkg")),
            ("floor-postgis", bench.dsn),
        ):
            found = floor.measure(url, paths, bench.args.seconds)
            row.cells[label] = Cell(found["rps"], found["p50_ms"], found["p95_ms"], load1=load.load1())
    return row


def tile_rows(bench: Bench) -> list[Row]:
    """Tiles at z10/12/14/16: cold (fresh servers, empty caches, each tile once), then warm."""
    names = [n for n in ("ours-gpkg", "ours-postgis", "tipg") if n in bench.servers]
    bounds = _tile_bounds(bench)
    blocks = {z: scenarios.tiles(z, side, bounds) for z, side in TILE_ZOOMS.items()}
    cold = {z: Row(f"tiles z{z} cold ({_count(b)}, each once)") for z, b in blocks.items()}
    warm = {z: Row(f"tiles z{z} warm ({_count(b)})") for z, b in blocks.items()}
    probe = scenarios.tile_paths("ours", 14, 1)[0]
    samples_cold = {(z, n): [] for z in TILE_ZOOMS for n in names}
    samples_warm = {(z, n): [] for z in TILE_ZOOMS for n in names}
    for _ in range(bench.args.runs):
        bench.cluster.execute(f"DELETE FROM {servers.SCHEMA}.tg_tile_cache", database="bench")
        bench.start([n for n in names if n.startswith("ours")])  # empty in-process caches
        bench.quiet()
        for name in names:
            server, kind = bench.servers[name], KIND[name]
            if kind == "ours" and not _works(server, probe):
                for z in TILE_ZOOMS:
                    cold[z].cells[name] = warm[z].cells[name] = Cell(0, 0, 0, note="no tiles")
                continue
            for z, side in TILE_ZOOMS.items():
                paths = scenarios.tile_paths(kind, z, side, bounds)
                low, high = _zooms(server, kind)
                if not low <= z <= high:  # ours: a dense layer starts at a higher zoom
                    cold[z].cells[name] = warm[z].cells[name] = Cell(
                        0, 0, 0, note=f"404 (zooms {low}-{high})"
                    )
                    continue
                samples_cold[z, name].append(
                    load.each_once(server.url, paths, bench.pids(name), headers=GZIP)
                )
                samples_warm[z, name].append(
                    load.run_wrk(
                        bench.wrk, server.url, paths, bench.args.seconds, bench.pids(name), headers=GZIP
                    )
                )
    for (z, name), found in samples_cold.items():
        if found:  # cold and warm samples are taken together
            cold[z].cells[name] = median_cell(found)
            warm[z].cells[name] = median_cell(samples_warm[z, name])
    return [cold[z] for z in TILE_ZOOMS] + [warm[z] for z in TILE_ZOOMS]


def _tilejson(server: servers.Server) -> dict:
    """Our tileset's TileJSON: its zoom range and bounds."""
    return httpx.get(
        server.url + "/api/collections/buildings/tiles/WebMercatorQuad", params={"f": "tilejson"}, timeout=60
    ).json()


def _zooms(server: servers.Server, kind: str) -> tuple[int, int]:
    """The tileset's zoom range from its TileJSON (ours), or every zoom (TiPg)."""
    if kind != "ours":
        return 0, 24
    found = _tilejson(server)
    return found["minzoom"], found["maxzoom"]


def _tile_bounds(bench: Bench) -> tuple[float, float, float, float] | None:
    """Our tileset's bounds. The tile rows ask every server for the tiles of the block around
    the centre that lie within them: outside its limits ours answers 404, as OGC API Tiles
    says, and TiPg an empty tile; neither is a tile to time."""
    ours = next((bench.servers[n] for n in ("ours-gpkg", "ours-postgis") if n in bench.servers), None)
    return tuple(_tilejson(ours)["bounds"]) if ours is not None else None


def _count(block: list) -> str:
    return f"{len(block)} tile{'s' if len(block) != 1 else ''}"


def download_row(bench: Bench) -> Row:
    """The whole point layer, page by page (limit=1000, following next links): seconds."""
    row = Row("full paged download, 20,000 points (limit=1000)", unit="s")
    bench.quiet()
    for name, server in bench.servers.items():
        times = []
        for _ in range(bench.args.runs):
            times.append(_download(server.url, scenarios.first_page(KIND[name])))
        row.cells[name] = Cell(statistics.median(t for t, _ in times), 0, 0, load1=load.load1())
        if {n for _, n in times} != {data.POINTS}:
            row.cells[name].note = f"got {sorted({n for _, n in times})} features"
    return row


def _download(base: str, first: str) -> tuple[float, int]:
    count, url = 0, base + first
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        while url:
            try:
                answer = client.get(url)
            except httpx.HTTPError as exc:  # say which server and page, not only the error
                raise SystemExit(f"download: {url}: {exc!r}") from exc
            if answer.status_code != 200:
                raise SystemExit(f"download: {url} answered {answer.status_code}: {answer.text[:300]}")
            body = answer.json()
            count += len(body["features"])
            url = _next_page(base, body)
    return time.perf_counter() - started, count


def _next_page(base: str, body: dict) -> str | None:
    """The next link's path and query, asked of the server under test: peers write their links
    with the host they were told about (MapServer's onlineresource, QGIS Server's server name),
    which need not be the loopback port the bench gave them."""
    href = next((link["href"] for link in body.get("links", []) if link.get("rel") == "next"), None)
    if href is None:
        return None
    parts = urlsplit(href)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def soak(bench: Bench, minutes: float) -> str:
    """Worker RSS over a long mixed load on ours (GeoPackage): first vs last minute."""
    server = bench.servers["ours-gpkg"]
    paths = (
        scenarios.items_paths("ours", 360, 100, 50)
        + scenarios.feature_paths("ours")
        + scenarios.items_paths("ours", 1800, 1000, 5)
        + [scenarios.COLLECTIONS["ours"]]
    )
    workers = [p for p in server.pids() if "spawn_main" in _cmdline(p)]
    series: list[tuple[float, list[float]]] = []
    bench.quiet()
    result: list = []
    runner = threading.Thread(
        target=lambda: result.append(load.run_wrk(bench.wrk, server.url, paths, minutes * 60, server.pids()))
    )
    started = time.monotonic()
    runner.start()
    while runner.is_alive():
        series.append((time.monotonic() - started, load.rss_mb(workers)))
        time.sleep(5)
    first = [r for t, r in series if t <= 60]
    last = [r for t, r in series if t >= minutes * 60 - 60]
    lines = [
        f"{minutes:.0f} min mixed load on ours-gpkg ({len(workers)} workers):"
        f" {result[0].rps:,.0f} req/s, {result[0].bad} bad answers",
        "| worker | RSS MB, median of the first minute | last minute | change |",
        "|---|---|---|---|",
    ]
    for i, pid in enumerate(workers):
        a = statistics.median(r[i] for r in first if len(r) > i)
        b = statistics.median(r[i] for r in last if len(r) > i)
        lines.append(f"| {pid} | {a:.1f} | {b:.1f} | {b - a:+.1f} |")
    return "\n".join(lines)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def main() -> None:
    parser = load.arguments(__doc__.split("\n\n")[0], 8, Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--soak", type=float, default=10, help="minutes of the memory soak")
    parser.add_argument("--only", nargs="+", help="scenarios: " + " ".join([*WRK_ROWS, "tiles", "download"]))
    parser.add_argument("--servers", nargs="+", default=SERVERS, help="servers: " + " ".join(SERVERS))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args()
    wanted = args.only or [*WRK_ROWS, "tiles", "download"]
    bench = Bench(args)
    rows: list[Row] = []
    memory = ""
    try:
        print("peers:", peers.versions(), flush=True)
        bench.start(args.servers)
        for key in wanted:
            print(f"scenario {key}", flush=True)
            found = (
                tile_rows(bench)
                if key == "tiles"
                else [download_row(bench)]
                if key == "download"
                else [wrk_row(bench, key)]
            )
            rows += found
            print(table(found), flush=True)
        if args.soak:
            memory = soak(bench, args.soak)
    finally:
        bench.stop()
    _write(args, rows, memory)


def _write(args: argparse.Namespace, rows: list[Row], memory: str) -> None:
    text = (
        f"# Serving bench results\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, command:"
        f" `.venv/bin/python bench/serve.py {' '.join(sys.argv[1:])}`".rstrip()
        + "\n\n"
        f"Cells: requests/s (p50/p95 latency), medians of {args.runs} runs of"
        f" {args.seconds:.0f} s, wrk 2 threads x 4 connections on loopback, every server"
        f" with {servers.WORKERS} worker processes. Floor: the same queries in-process"
        f" ({floor.PROCESSES} processes, no HTTP). CPU: server processes (and PostgreSQL's"
        " for PostGIS) per request. load1: the highest 1-minute load average at the start of"
        " a run (other cores: CPU the rest of the machine used meanwhile).\n\n"
        + table(rows)
        + "\n\n"
        + memory
        + "\n"
    )
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
