"""The in-process floor: the same queries without HTTP, pygeoapi or uvicorn.

Store read (SQLite R-tree, or the PostGIS query through the store's pool) plus the provider's
GeoJSON encoding (``server.ogcapi.geojson.features`` + orjson), nothing else. Run in as many
processes as the servers have workers, each looping over the scenario's queries, so the figure
is comparable to the servers' requests/s on the same cores.
"""

import json
import multiprocessing
import statistics
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

PROCESSES = 2


@dataclass(frozen=True)
class FloorQuery:
    """What one request asks, for the store: a bbox page, or one feature."""

    layer: str
    bbox: tuple[float, float, float, float] | None = None
    limit: int = 10
    feature_id: str | None = None


def from_path(path: str) -> FloorQuery:
    """The store query behind one of our API paths (``/api/collections/L/items[/ID]?...``)."""
    parts = urlsplit(path)
    segments = parts.path.split("/")
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    bbox = tuple(float(v) for v in params["bbox"].split(",")) if "bbox" in params else None
    feature_id = segments[5] if len(segments) > 5 else None
    return FloorQuery(segments[3], bbox, int(params.get("limit", 10)), feature_id)


def _one(store, records: dict, query: FloorQuery) -> int:
    import orjson

    from server.ogcapi.geojson import features
    from tsukuba_gis.store import Query

    record = records[query.layer]
    if query.feature_id is not None:
        page = store.get(record, query.feature_id)
        body = orjson.dumps(features(page, plain=False)[0], option=orjson.OPT_SERIALIZE_NUMPY)
    else:
        page = store.query(record, Query(bbox=query.bbox, limit=query.limit))
        body = orjson.dumps(
            {
                "type": "FeatureCollection",
                "features": features(page, plain=False),
                "numberMatched": page.number_matched,
                "numberReturned": len(page.ids),
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
    return len(body)


def _worker(
    store_url: str, queries: list[FloorQuery], seconds: float, offset: int, out: multiprocessing.Queue
) -> None:
    from tsukuba_gis.store import open_store

    store = open_store(store_url)
    records = {r.layer_id: r for r in store.layers()}
    for q in queries[:3]:
        _one(store, records, q)  # connections, caches: as a running server has them
    times, i = [], offset
    deadline = time.perf_counter() + seconds
    while (start := time.perf_counter()) < deadline:
        _one(store, records, queries[i % len(queries)])
        times.append(time.perf_counter() - start)
        i += PROCESSES
    out.put(json.dumps(times))


def measure(store_url: str, paths: list[str], seconds: float) -> dict[str, float]:
    """ops/s over PROCESSES processes, p50/p95 latency (ms) of one operation."""
    queries = [from_path(p) for p in paths]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    workers = [
        ctx.Process(target=_worker, args=(store_url, queries, seconds, i, out)) for i in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    times = [t for _ in workers for t in json.loads(out.get(timeout=seconds + 120))]
    for w in workers:
        w.join(timeout=30)
    times.sort()
    return {
        "rps": len(times) / seconds,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95)] * 1000,
    }
