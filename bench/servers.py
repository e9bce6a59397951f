"""The servers the serving bench measures: ours (both stores), TiPg, stock pygeoapi; PostGIS.

Every server runs as its own process group on a free loopback port with the same number of
worker processes (uvicorn; httptools and uvloop for everyone), so a row compares software,
not settings. Peers live in their own virtual environments (bench/.venv-*, git-ignored).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway PostGIS cluster of the tests
from pgcluster import Cluster, free_port  # noqa: E402

WORKERS = 2  # one per core on these machines
SCHEMA = "tsukuba_gis"
PEER_VENVS = {
    "tipg": (HERE / ".venv-tipg", ["tipg==1.6.1", "uvicorn[standard]"]),
    # The raster tiles and coverage bench (bench/raster_serve.py).
    "titiler": (HERE / ".venv-titiler", ["titiler.application", "uvicorn[standard]"]),
    "pygeoapi": (
        HERE / ".venv-pygeoapi",
        [
            "pygeoapi==0.24.0",
            "SQLAlchemy",
            "GeoAlchemy2",
            "psycopg2-binary",
            "uvicorn[standard]",
            "starlette",
        ],
    ),
}


@dataclass
class Server:
    """One running HTTP server.

    Attributes:
        name: the label in the tables ("ours-gpkg", "tipg", ...).
        url: its base URL.
        process: the uvicorn (or tsukuba-gis) master process; workers are its children.
    """

    name: str
    url: str
    process: subprocess.Popen
    log: Path

    def pids(self) -> list[int]:
        """The master and every worker (children, read from /proc)."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo += [int(c) for c in children]
        return found

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL after 10 s."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass


def ensure_peer(name: str) -> Path:
    """The peer's virtual environment (created with pip on first use); its bin directory."""
    venv, packages = PEER_VENVS[name]
    if not (venv / "bin" / "uvicorn").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *packages], check=True)
    return venv / "bin"


def _start(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    workdir: Path,
    ready: str,
    host: str = "127.0.0.1",
    *,
    request_timeout: float = 5,
    poll_s: float = 0.3,
    error_log: Path | None = None,
) -> Server:
    """Start a server process and wait (90 s at most) until ``ready`` answers 200.

    ``error_log``: where the server writes its errors when not to its output (lighttpd), for
    the failure message.
    """
    log = workdir / f"{name}.log"
    process = subprocess.Popen(
        argv,
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=workdir,
        start_new_session=True,
    )
    server = Server(name, f"http://{host}:{port}", process, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(server.url + ready, timeout=request_timeout).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(poll_s)
    server.stop()
    if error_log is None:
        errors = log.read_text()[-2000:]
    else:
        errors = error_log.read_text()[-2000:] if error_log.exists() else ""
    raise RuntimeError(f"{name} did not answer {ready} within 90 s: {errors}")


def start_ours(
    name: str, project: Path, store: str | None, workdir: Path, more_env: dict[str, str] | None = None
) -> Server:
    """``tsukuba-gis serve --workers N`` over the bench project (GeoPackage or PostGIS);
    ``more_env``: anything else for the process (bench/ab.py: ``PYTHONPATH``)."""
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(project / "data"),
        "TSUKUBA_GIS_LAYERS_DIR": str(project / "layers"),
        "TSUKUBA_GIS_SOURCES_DIR": str(project / "sources"),
        "TSUKUBA_GIS_STORE": store or "",
        **(more_env or {}),
    }
    return serve(name, env, workdir)


def serve(name: str, env: dict[str, str], workdir: Path, workers: int = WORKERS) -> Server:
    """``tsukuba-gis serve --workers N`` with the settings of ``env`` (data dir, store, ...)."""
    port = free_port()
    cli = str(ROOT / ".venv" / "bin" / "tsukuba-gis")
    argv = [cli, "-q", "serve", "--port", str(port), "--workers", str(workers)]
    env = {**env, "TSUKUBA_GIS_PUBLIC_URL": ""}
    return _start(name, argv, env, port, workdir, "/api/collections?f=json")


def start_tipg(dsn: str, workdir: Path) -> Server:
    """TiPg 1.6 on the PostGIS copy (its own venv), only the two layer tables."""
    bin_dir = ensure_peer("tipg")
    port = free_port()
    env = {
        "DATABASE_URL": dsn,
        "TIPG_DB_SCHEMAS": f'["{SCHEMA}"]',
        "TIPG_DB_TABLES": f'["{SCHEMA}.l_buildings_v1", "{SCHEMA}.l_facilities_v1"]',
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        "TIPG_DB_SPATIAL_EXTENT": "false",
    }
    argv = [
        str(bin_dir / "uvicorn"),
        "tipg.main:app",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
    ]
    return _start("tipg", argv, env, port, workdir, "/collections")


def start_pygeoapi(cluster: Cluster, database: str, workdir: Path) -> Server:
    """Stock pygeoapi 0.24 with its PostgreSQL provider, served by its own Starlette app."""
    bin_dir = ensure_peer("pygeoapi")
    port = free_port()
    config = workdir / "pygeoapi-peer.yml"
    config.write_text(_pygeoapi_config(cluster, database, port), encoding="utf-8")
    openapi = workdir / "pygeoapi-peer-openapi.yml"
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run(
        [str(bin_dir / "pygeoapi"), "openapi", "generate", str(config), "--output-file", str(openapi)],
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    argv = [
        str(bin_dir / "uvicorn"),
        "pygeoapi.starlette_app:APP",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--http",
        "httptools",
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
    ]
    return _start("pygeoapi", argv, env, port, workdir, "/collections?f=json")


def _pygeoapi_config(cluster: Cluster, database: str, port: int) -> str:
    def resource(table: str, id_field: str, title: str) -> str:
        return f"""
  {table}:
    type: collection
    title: {title}
    description: {title}
    keywords: [bench]
    extents: {{spatial: {{bbox: [139.9, 35.9, 140.3, 36.3]}}}}
    providers:
      - type: feature
        name: PostgreSQL
        data: {{host: 127.0.0.1, port: {cluster.port}, dbname: {database}, user: postgres,
                password: "{cluster.password}", search_path: [{SCHEMA}, public]}}
        id_field: {id_field}
        table: {table}
        geom_field: geom
"""

    return f"""server:
  bind: {{host: 127.0.0.1, port: {port}}}
  url: http://127.0.0.1:{port}
  mimetype: application/json; charset=UTF-8
  encoding: utf-8
  languages: [en-US]
  limits: {{default_items: 10, max_items: 10000}}
  map: {{url: "https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png", attribution: OSM}}
logging: {{level: ERROR}}
metadata:
  identification: {{title: bench, description: bench, keywords: [bench], keywords_type: theme,
                    terms_of_service: "https://example.org", url: "https://example.org"}}
  license: {{name: CC-BY 4.0, url: "https://creativecommons.org/licenses/by/4.0/"}}
  provider: {{name: bench, url: "https://example.org"}}
  contact: {{name: bench, position: bench, address: bench, city: bench, stateorprovince: bench,
            postalcode: "0", country: Japan, url: "https://example.org", role: pointOfContact}}
resources:{resource("l_buildings_v1", "building_id", "buildings")}{
        resource("l_facilities_v1", "facility_id", "facilities")
    }"""


def start_cluster() -> Cluster:
    """A throwaway PostgreSQL + PostGIS cluster (tests/pgcluster.py) with bench memory."""
    cluster = Cluster(free_port())
    cluster.init()
    # The tests' 64 MB is for many small databases; the bench has one of ~150 MB.
    cluster.options += " -c shared_buffers=512MB -c work_mem=16MB -c jit=off"
    cluster.start()
    cluster.make_template()
    return cluster


@contextmanager
def postgis_copy(project: Path, database: str, tiles: bool = True) -> Iterator[tuple[Cluster, str]]:
    """A throwaway cluster holding a ``store copy`` of the project's GeoPackage store in
    ``database`` (its tile sets too unless ``tiles`` is False): (cluster, DSN); destroyed at the end."""
    from bench import data

    cluster = start_cluster()
    try:
        dsn = cluster.create_database(database)
        data.copy_to_postgis(project, dsn, tiles)
        yield cluster, dsn
    finally:
        cluster.destroy()


def postgres_pids(cluster: Cluster) -> list[int]:
    """Every process of the cluster (postmaster and backends), for CPU accounting."""
    pid_file = cluster.data / "postmaster.pid"
    try:
        master = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    children = Path(f"/proc/{master}/task/{master}/children")
    return [master, *map(int, children.read_text().split())] if children.exists() else [master]


def have_wrk() -> str:
    """The wrk binary; installed from Debian when missing (as `make test-deps` does)."""
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    return found
