"""Change feeds (issue 16) with a year of changes stored: response p50 per kind of feed.

**Data**: the repository's sample layers loaded by the real ETL into a fresh store, then
``--records`` change records (default 200,000: ~550 a day for a year) written into the store's
outbox as the ETL and live edits write them: each a real feature of a public sample layer, one
of its public fields changed to another value the layer holds, its bounds and point, spread
evenly over the past 365 days, causes ``etl:<run>`` and ``edit:<department>``. PostGIS: a
throwaway cluster (``tests/pgcluster.py``) unless ``--dsn`` names a database.

**Timed**: a ``tsukuba-gis serve`` process (1 worker) answering, one client in sequence on one
keep-alive connection, ``--requests`` requests per feed after one warm-up: the whole city (JSON
Feed and Atom), one layer, a 500 m circle in the centre, a 町丁目 (``town=``), a bbox, and a
500 m circle in the city's quietest corner (few records meet it: the feed reads its most store
pages there). Each request asks a different page size or language where the feed allows, so
the server's caches do not answer; p50 and p95 in ms.

Usage::

    .venv/bin/python bench/feeds.py                       # both stores, 200,000 records
    .venv/bin/python bench/feeds.py --stores gpkg --records 20000 --requests 50
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import shapely

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # liveserver, pgcluster

from editcity import schema_url  # noqa: E402
from liveserver import LiveServer  # noqa: E402

from bench import report, servers  # noqa: E402
from tsukuba_gis.catalog import load_catalog  # noqa: E402
from tsukuba_gis.settings import Settings  # noqa: E402
from tsukuba_gis.store import Query, open_store  # noqa: E402
from tsukuba_gis.store.base import ChangeRecord  # noqa: E402

SEED = 20261203
BATCH = 10_000
CENTRE = (36.0828, 140.1115)  # lat, lon: the city centre (Tsukuba Station)
QUIET = (36.195, 140.10)  # the north of the city: mountains and fields, few features
FEEDS = {
    "city (JSON Feed)": "/feeds/changes.json",
    "city (Atom)": "/feeds/changes.atom",
    "one layer": "/feeds/changes.json?layer=shelters",
    "circle 500 m, centre": f"/feeds/changes.json?lat={CENTRE[0]}&lon={CENTRE[1]}&radius=500",
    "town (町丁目)": "/feeds/changes.json?town=竹園一丁目",
    "bbox ~1.8 km": "/feeds/changes.json?bbox=140.10,36.075,140.12,36.09",
    "circle 500 m, quiet corner": f"/feeds/changes.json?lat={QUIET[0]}&lon={QUIET[1]}&radius=500",
}
HEAD = ["store", "feed", "requests", "p50 ms", "p95 ms", "entries (first page)"]


def sample_features(settings: Settings) -> list[tuple[str, int, list[str], dict, list[dict], list]]:
    """Per public layer: id, version, its public fields, values seen per field, features' properties
    and lon/lat boxes (what a change record of that layer carries)."""
    store = open_store(settings.store_url)
    catalog = load_catalog(settings.layers_dir, settings.sources_dir)
    layers = []
    defined = set(catalog.layers)
    for record in store.layers():
        if record.layer_id not in defined:  # the gazetteer: the store's own table
            continue
        layer = catalog.get(record.layer_id)
        fields = [f.name for f in layer.fields if f.access == "public"]
        if layer.access != "public" or not fields:
            continue
        page = store.query(record, Query(limit=100_000))
        if not page.ids:
            continue
        boxes = [shapely.from_wkb(w).bounds for w in page.wkb]
        values = {
            name: sorted({str(p.get(name)) for p in page.properties if p.get(name) is not None})
            for name in fields
        }
        fields = [name for name in fields if len(values[name]) > 1]
        if fields:
            layers.append(
                (
                    record.layer_id,
                    record.version,
                    fields,
                    values,
                    list(zip(page.ids, page.properties, strict=True)),
                    boxes,
                )
            )
    return layers


def records(layers, n: int, rng: np.random.Generator) -> list[ChangeRecord]:
    """``n`` modified-feature records over the past year, oldest first (ids grow with time)."""
    now = datetime.now(UTC)
    made = []
    for i in range(n):
        layer_id, version, fields, values, features, boxes = layers[rng.integers(len(layers))]
        k = int(rng.integers(len(features)))
        feature_id, properties = features[k]
        name = fields[int(rng.integers(len(fields)))]
        before, after = rng.choice(values[name], 2, replace=False).tolist()
        minx, miny, maxx, maxy = boxes[k]
        at = now - timedelta(days=365) + timedelta(days=365 * i / n)
        made.append(
            ChangeRecord(
                layer_id=layer_id,
                version=version,
                feature_id=str(feature_id),
                kind="modified",
                fields={name: (before, after)},
                properties={**properties, name: after},
                geometry_changed=False,
                bounds=(minx, miny, maxx, maxy),
                point=((minx + maxx) / 2, (miny + maxy) / 2),
                at=at.isoformat(timespec="seconds").replace("+00:00", "Z"),
                cause=f"etl:bench-{i // 5000}" if i % 3 == 0 else "edit:disaster",
            )
        )
    return made


def write_records(settings: Settings, made: list[ChangeRecord]) -> None:
    """Into the outbox, in batches, as the stores write them (their own insert functions)."""
    store = open_store(settings.store_url)
    store.migrate()
    for start in range(0, len(made), BATCH):
        batch = made[start : start + BATCH]
        if store.scheme == "gpkg":
            from tsukuba_gis.store.gpkg_outbox import insert_records

            con = store.connect(readonly=False)
            try:
                con.execute("BEGIN IMMEDIATE")
                insert_records(con, batch)
                con.execute("COMMIT")
            finally:
                con.close()
        else:
            from tsukuba_gis.store.postgis_outbox import insert_records
            from tsukuba_gis.store.postgis_pool import connect

            conn = connect(store._primary, store.where)  # the store's own writer connection
            try:
                with conn.transaction():
                    insert_records(conn, store.schema, batch)
                    if start + BATCH >= len(made):
                        # What autovacuum does within a minute of a bulk insert: without
                        # statistics the planner sorts every record for the city's feed.
                        conn.execute(f'ANALYZE "{store.schema}".tg_change_records')
            finally:
                conn.close()


def time_feeds(url: str, requests: int) -> list[tuple[str, list[float], int]]:
    """Each feed ``requests`` times in sequence (page size 20..49 in turn: no cached answer)."""
    timed = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for label, path in FEEDS.items():
            joiner = "&" if "?" in path else "?"
            first = client.get(f"{path}{joiner}limit=20")
            first.raise_for_status()  # a wrong path fails loudly
            entries = len(first.json()["items"]) if "json" in path else first.text.count("<entry>")
            times = []
            for i in range(requests):
                started = time.perf_counter()
                answer = client.get(f"{path}{joiner}limit={20 + i % 30}&lang={'ja' if i % 2 else 'en'}")
                times.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
            timed.append((label, times, entries))
    return timed


def measure(label: str, store_url: str, work: Path, n: int, requests: int) -> list[list[str]]:
    """Load the samples, store ``n`` records, serve, time every feed; the table's rows."""
    from etl.runner import run_etl

    data_dir = work / label / "data"
    data_dir.mkdir(parents=True)
    settings = Settings(data_dir=data_dir, store=store_url or None)
    etl = run_etl(settings, quiet=True)
    if not etl.ok:
        raise SystemExit(f"the sample ETL failed: {[(r.layer_id, r.error) for r in etl.layers]}")
    started = time.perf_counter()
    write_records(settings, records(sample_features(settings), n, np.random.default_rng(SEED)))
    print(f"{label}: {n:,} records written in {time.perf_counter() - started:.1f} s", flush=True)
    server = LiveServer(data_dir, env={"TSUKUBA_GIS_STORE": store_url} if store_url else None, timeout=120)
    try:
        rows = []
        for feed, times, entries in time_feeds(server.url, requests):
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            rows.append(
                [label, feed, str(len(times)), f"{statistics.median(times):.1f}", f"{p95:.1f}", str(entries)]
            )
        return rows
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", nargs="+", choices=["gpkg", "postgis"], default=["gpkg", "postgis"])
    parser.add_argument("--records", type=int, default=200_000, help="change records stored (a year's)")
    parser.add_argument("--requests", type=int, default=200, help="per feed")
    parser.add_argument("--dsn", help="a PostgreSQL database to use instead of a throwaway cluster")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tsukuba-gis-bench-feeds-"))
    before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows, cluster, dsn = [], None, args.dsn
    try:
        for label in args.stores:
            if label == "postgis" and dsn is None:
                cluster = servers.start_cluster()
                dsn = cluster.create_database("feeds")
            rows += measure(
                label, schema_url(dsn) if label == "postgis" else "", work, args.records, args.requests
            )
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\n{args.records:,} records, {args.requests} requests per feed")
    print(f"uptime before: {before}\nuptime after:  {after}\n")
    print(report.markdown(HEAD, rows))


if __name__ == "__main__":
    main()
