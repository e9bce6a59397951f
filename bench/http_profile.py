"""Where the HTTP path of the ~360 m items page spends its time, beyond the in-process floor.

``--scenario feature`` does the same for one feature by id (the serving bench's 200 ids), where
the fixed cost of a request is nearly all of it. ``SORT=cumulative TOP=60`` in the environment
change the listing of the profile.

One process, no sockets: the serving bench's project (``bench/serve.py`` builds it in
``--workdir``), the same seeded ~360 m bbox list. Three figures per store, each the median of
``--rounds`` passes over the list:

- ``floor``: the store read plus the provider's GeoJSON encoding (``bench/floor.py``'s query);
- ``asgi``: the whole app (``create_app``: security middleware, our adapter, pygeoapi's
  ``get_collection_items``, the store provider, encoding), driven as an ASGI callable by a
  minimal driver: what the server does per request, minus uvicorn and the socket;
- then a cProfile of the ASGI passes, its CPU summed by the package it was spent in, so the
  part above the floor can be named (pygeoapi, starlette/fastapi, our server layer, ...).

The gap between ``asgi`` here and the servers' requests/s in ``bench/serve.py`` is uvicorn and
the loopback socket.

Usage::

    .venv/bin/python bench/http_profile.py                  # GeoPackage store of the bench project
    .venv/bin/python bench/http_profile.py --store postgresql://...   # a PostGIS copy
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scenarios  # noqa: E402
from bench.floor import _one, from_path  # noqa: E402

GROUPS = (
    ("pygeoapi", "/pygeoapi/"),
    ("our server layer", "/server/"),
    ("store + core", "/tsukuba_gis/"),
    ("starlette/fastapi", "/starlette/"),
    ("starlette/fastapi", "/fastapi/"),
    ("pydantic", "/pydantic"),
    ("orjson/json", "json"),
    ("sqlite/psycopg", "sqlite"),
    ("sqlite/psycopg", "psycopg"),
    ("shapely/numpy", "/shapely/"),
    ("shapely/numpy", "/numpy/"),
    ("jinja2/babel", "/jinja2/"),
    ("jinja2/babel", "/babel/"),
    ("asyncio", "/asyncio/"),
)


async def _request(app, path: str) -> int:
    """One GET through the ASGI app; the body's length (the status must be 200)."""
    parts = urlsplit(path)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "root_path": "",
        "query_string": parts.query.encode(),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    if status != 200:
        raise SystemExit(f"{path}: HTTP {status}")
    return sum(len(m.get("body", b"")) for m in sent[1:])


async def _passes(app, paths: list[str], rounds: int) -> list[float]:
    """Per-request seconds over ``rounds`` passes of the path list."""
    times = []
    for _ in range(rounds):
        for path in paths:
            start = time.perf_counter()
            await _request(app, path)
            times.append(time.perf_counter() - start)
    return times


def _floor(store_url: str, paths: list[str], rounds: int) -> list[float]:
    from tsukuba_gis.store import open_store

    store = open_store(store_url)
    records = {r.layer_id: r for r in store.layers()}
    queries = [from_path(p) for p in paths]
    _one(store, records, queries[0])
    times = []
    for _ in range(rounds):
        for q in queries:
            start = time.perf_counter()
            _one(store, records, q)
            times.append(time.perf_counter() - start)
    return times


SCENARIOS = scenarios.OURS  # the serving bench's paths of ours (bench/serve.py)


def _grouped(profile: cProfile.Profile) -> dict[str, float]:
    """Own (tottime) CPU seconds summed by the package each function lives in."""
    out: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in pstats.Stats(profile).stats.items():
        group = next((g for g, needle in GROUPS if needle in filename), "other (C builtins, stdlib)")
        out[group] += tottime
    return dict(out)


async def _run(args: argparse.Namespace, paths: list[str]) -> None:
    from server.app import create_app
    from tsukuba_gis.settings import Settings

    settings = Settings(store=args.store, public_url="http://127.0.0.1:8000")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await _passes(app, paths[:5], 1)  # caches, snapshot, pools: as a running server has them
        asgi = await _passes(app, paths, args.rounds)
        profile = cProfile.Profile()
        profile.enable()
        await _passes(app, paths, args.rounds)
        profile.disable()
    floor = _floor(settings.store_url, paths, args.rounds)
    f50, a50 = statistics.median(floor) * 1000, statistics.median(asgi) * 1000
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; store {settings.store_url}")
    print(f"floor p50 {f50:.2f} ms, asgi p50 {a50:.2f} ms: asgi/floor {a50 / f50:.2f}x")
    groups = _grouped(profile)
    total = sum(groups.values())
    print(f"cProfile of {len(paths) * args.rounds} ASGI requests, own CPU by package ({total:.2f} s):")
    for name, seconds in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28s} {seconds:6.2f} s  {100 * seconds / total:5.1f} %")
    print("top 15 functions by own time:")
    pstats.Stats(profile).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
        int(os.environ.get("TOP", "15"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--store", help="a PostGIS DSN (default: the project's GeoPackage)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="items360")
    args = parser.parse_args()
    project = args.workdir / "project-20261126"
    os.environ.update(
        TSUKUBA_GIS_DATA_DIR=str(project / "data"),
        TSUKUBA_GIS_LAYERS_DIR=str(project / "layers"),
        TSUKUBA_GIS_SOURCES_DIR=str(project / "sources"),
    )
    paths = SCENARIOS[args.scenario]()
    asyncio.run(_run(args, paths))


if __name__ == "__main__":
    main()
