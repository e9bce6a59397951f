"""Scale-out on loopback: nginx (Debian) in front of 1, 2 and 4 server processes, one PostGIS.

The nginx site is the one ``docs/deploy.md`` ships, read from that file, with only what a
loopback run cannot have changed: the upstream lists the server processes (each
``tsukuba-gis serve --workers 1`` bound to its own loopback address, 127.0.0.2, .3, ...), the
site listens on a free loopback port without TLS (no certificate; the port-80 redirect is
dropped), the cache lives in the work directory, and brotli lines go when Debian's brotli
module is not installed. wrk (2 threads x 4 connections) asks through nginx for the ~360 m
items page (not cached by nginx) and the z14 tile block (cached by nginx, as shipped).

Reports req/s, the ratio to 1 process, and CPU per request of the servers, PostgreSQL, nginx
and wrk (the machine has 2 cores: from 2 processes on, the load generator and the proxy share
them with the servers, so CPU per request is the figure to multiply per host).

Usage::

    .venv/bin/python bench/scaleout.py                     # 1, 2, 4 processes
    .venv/bin/python bench/scaleout.py --processes 1 2 --runs 1 --seconds 3
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, load, scenarios, servers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy.md"
BROTLI_MODULE = Path("/usr/share/nginx/modules-available/mod-http-brotli-filter.conf")
SCENARIOS = {
    "items360": ("items, ~360 m bbox, limit=100", lambda: scenarios.items_paths("ours", 360, 100, 50)),
    "tile14": ("z14 tiles (3x3), nginx cache as shipped", lambda: scenarios.tile_paths("ours", 14, 3)),
}


def shipped_site() -> str:
    """The nginx site block of docs/deploy.md, as shipped."""
    text = DEPLOY.read_text(encoding="utf-8")
    section = text[text.index("## 6. nginx") :]
    start = section.index("```nginx\n") + len("```nginx\n")
    return section[start : section.index("```", start)]


def loopback_site(site: str, upstreams: list[str], port: int, work: Path) -> str:
    """The shipped site with the loopback changes listed in the module docstring."""
    lines = "\n".join(f"    server {u};" for u in upstreams)
    site = re.sub(
        r"upstream tsukuba_gis \{.*?\n\}",
        f"upstream tsukuba_gis {{\n{lines}\n    keepalive 32;\n}}",
        site,
        flags=re.S,
    )
    site = re.sub(r"server \{\n    listen 80;.*?\n\}\n", "", site, count=1, flags=re.S)  # the redirect
    site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port};")
    site = "\n".join(
        line
        for line in site.splitlines()
        if not re.match(r"\s*(listen \[::\]|ssl_|add_header Strict-Transport)", line)
        and (BROTLI_MODULE.exists() or not re.match(r"\s*(brotli|\s+application/javascript text/csv)", line))
    )
    site = site.replace("/var/cache/nginx/tsukuba-gis", str(work / "nginx-cache"))
    return site


def start_nginx(site: str, work: Path) -> subprocess.Popen:
    """nginx in the foreground with a config of its own (worker_processes auto: one per core)."""
    (work / "nginx-cache").mkdir(parents=True, exist_ok=True)
    modules = "include /etc/nginx/modules-enabled/*.conf;\n" if BROTLI_MODULE.exists() else ""
    conf = work / "nginx.conf"
    conf.write_text(
        f"{modules}worker_processes auto;\npid {work}/nginx.pid;\nerror_log {work}/nginx-error.log;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  access_log off;\n{site}\n}}\n",
        encoding="utf-8",
    )
    return subprocess.Popen(
        ["nginx", "-p", str(work), "-c", str(conf), "-g", "daemon off;"],
        stdout=(work / "nginx.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _children(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return found


def start_processes(project: Path, dsn: str, count: int, work: Path) -> list[servers.Server]:
    """``count`` single-worker servers, each on its own loopback address."""
    started = []
    for i in range(count):
        host, port = f"127.0.0.{i + 2}", servers.free_port()
        env = {
            "TSUKUBA_GIS_DATA_DIR": str(project / "data"),
            "TSUKUBA_GIS_LAYERS_DIR": str(project / "layers"),
            "TSUKUBA_GIS_SOURCES_DIR": str(project / "sources"),
            "TSUKUBA_GIS_STORE": dsn,
            "TSUKUBA_GIS_PUBLIC_URL": "",
            "TSUKUBA_GIS_TRUSTED_PROXIES": "127.0.0.1",
        }
        argv = [str(ROOT / ".venv/bin/tsukuba-gis"), "-q", "serve", "--host", host, "--port", str(port)]
        argv += ["--workers", "1"]
        server = servers._start(f"scale-{i}", argv, env, port, work, "/api/collections?f=json", host=host)
        started.append(server)
    return started


def run(args: argparse.Namespace) -> list[dict]:
    """Every process count x scenario: medians of runs."""
    wrk = servers.have_wrk()
    project = data.prepare_project(args.workdir.parent)  # the serving bench's data set
    data.load_gpkg(project)
    cluster = servers.start_cluster()
    rows = []
    try:
        dsn = cluster.create_database("bench")
        data.copy_to_postgis(project, dsn)
        for count in args.processes:
            apps = start_processes(project, dsn, count, args.workdir)
            port = servers.free_port()
            site = loopback_site(
                shipped_site(), [a.url.removeprefix("http://") for a in apps], port, args.workdir
            )
            nginx = start_nginx(site, args.workdir)
            url = f"http://127.0.0.1:{port}"
            try:
                _wait(url, nginx)
                rows += [_measure(wrk, url, apps, nginx, cluster, count, key, args) for key in SCENARIOS]
            finally:
                _stop(nginx)
                for app in apps:
                    app.stop()
    finally:
        cluster.destroy()
    return rows


def _wait(url: str, nginx: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            raise SystemExit("nginx exited: see nginx-error.log in the work directory")
        try:
            if httpx.get(url + "/api/collections?f=json", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("nginx did not answer within 30 s")


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def _measure(wrk, url, apps, nginx, cluster, count: int, key: str, args) -> dict:
    title, make = SCENARIOS[key]
    paths = make()
    headers = {"Accept-Encoding": "gzip"} if key == "tile14" else None
    app_pids = [p for a in apps for p in a.pids()]
    groups = {"servers": app_pids, "postgres": servers.postgres_pids(cluster), "nginx": _children(nginx.pid)}
    load.wait_quiet(args.max_load, args.max_wait)
    runs = []
    for _ in range(args.runs):
        before = {g: load.cpu_seconds(p) for g, p in groups.items()}
        wrk0 = _wrk_cpu()
        sample = load.run_wrk(wrk, url, paths, args.seconds, app_pids, headers=headers)
        cpu = {g: load.cpu_seconds(p) - before[g] for g, p in groups.items()} | {"wrk": _wrk_cpu() - wrk0}
        runs.append((sample, cpu))
    med = statistics.median
    return {
        "processes": count,
        "scenario": title,
        "rps": med(s.rps for s, _ in runs),
        "p50_ms": med(s.p50_ms for s, _ in runs),
        "bad": sum(s.bad for s, _ in runs),
        "load1": max(s.load1 for s, _ in runs),
        **{f"{g} ms/req": med(1000 * c[g] / max(s.requests, 1) for s, c in runs) for g in (*groups, "wrk")},
    }


def _wrk_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def table(rows: list[dict]) -> str:
    """Markdown: req/s, ratio to 1 process, CPU per request by part."""
    head = [
        "scenario",
        "processes",
        "req/s",
        "vs 1",
        "p50 ms",
        "servers",
        "postgres",
        "nginx",
        "wrk",
        "load1",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    base = {r["scenario"]: r["rps"] for r in rows if r["processes"] == 1}
    for r in sorted(rows, key=lambda r: (r["scenario"], r["processes"])):
        ratio = f"{r['rps'] / base[r['scenario']]:.2f}x" if r["scenario"] in base else "-"
        bad = f" ({r['bad']} bad)" if r["bad"] else ""
        cpu = [f"{r[f'{g} ms/req']:.2f}" for g in ("servers", "postgres", "nginx", "wrk")]
        cells = [r["scenario"], str(r["processes"]), f"{r['rps']:,.0f}{bad}", ratio, f"{r['p50_ms']:.1f}"]
        lines.append("| " + " | ".join([*cells, *cpu, f"{r['load1']:.2f}"]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = load.arguments(__doc__.split("\n\n")[0], 8, Path("/tmp/tsukuba-gis-bench/scaleout"))
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        raise SystemExit("nginx is missing: apt-get install nginx (make bench does)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    text = (
        "CPU columns: ms of CPU per request (servers; PostgreSQL; nginx master and workers; wrk).\n\n"
        + table(run(args))
    )
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
