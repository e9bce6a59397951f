"""``/metrics`` in Prometheus format: requests per route template, store time, tiles, loads.

What is measured:

- ``tsukuba_gis_http_requests_total{route,method,status}`` and
  ``tsukuba_gis_http_request_duration_seconds{route,method}``: ``route`` is the matched path
  template (``/api/collections/{collectionId}/items``), never the raw path, and ``unmatched``
  for anything no route took, so the label set stays bounded whatever clients send.
- ``tsukuba_gis_store_seconds{backend,operation}``: time inside the store's query, get and
  tile calls (the part of a request spent in SQLite or PostgreSQL).
- ``tsukuba_gis_tile_cache_total{result}``: hits and misses of the tile memory (PostGIS).
- ``tsukuba_gis_layer_*{layer}``: from the store's registry at scrape time: the current
  version (one per successful load), features, rejected rows, load time and duration. The ETL
  is a separate process; its runs and rejects are read back from what it committed.

Several uvicorn workers: prometheus-client's multiprocess mode. ``tsukuba-gis serve
--workers N`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers
start; each worker writes its counters there and a scrape of any worker sums them all (a
scrape otherwise sees one random worker). With one worker, the in-process registry is used.

Access: ``/metrics`` answers clients whose address is in ``TSUKUBA_GIS_METRICS_ALLOW_FROM``
(Prometheus' host) and signed-in staff; everyone else gets 404, as for a route that is not
there (the metrics name internal layers).
"""

import functools
import ipaddress
import os
import time
from collections.abc import Callable, Iterator
from typing import Annotated

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tsukuba_gis.errors import NotFound

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
REQUESTS = Counter("tsukuba_gis_http_requests", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "tsukuba_gis_http_request_duration_seconds", "Time to answer", ["route", "method"], buckets=BUCKETS
)
STORE = Histogram(
    "tsukuba_gis_store_seconds", "Time in store calls", ["backend", "operation"], buckets=BUCKETS
)
TILE_CACHE = Counter("tsukuba_gis_tile_cache", "Tile memory lookups", ["result"])
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TIMED = ("query", "get", "tile")


class MetricsSettings(BaseSettings):
    """Who may read ``/metrics`` besides staff.

    Attributes:
        allow_from: addresses or networks (CIDR), comma-separated, e.g. Prometheus' host.
    """

    model_config = SettingsConfigDict(env_prefix="TSUKUBA_GIS_METRICS_", env_file=".env", extra="ignore")

    allow_from: Annotated[list[str], NoDecode] = []

    @field_validator("allow_from", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # a ValueError names the bad entry
        return value


def route_template(scope: Scope) -> str:
    """The matched route's path template, prefixed by the mounts it went through."""
    route = scope.get("route")  # FastAPI's routes say which they are
    if route is None and "endpoint" in scope and "router" in scope:  # Starlette's: by endpoint
        route = next(
            (r for r in scope["router"].routes if getattr(r, "endpoint", None) is scope["endpoint"]), None
        )
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    return f"{scope.get('root_path', '')}{path}" or "/"


class RequestMetrics:
    """ASGI middleware counting and timing each HTTP request by route template."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; count it when its response has started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]
        scope = dict(scope)  # the routers below write the matched route into this dict

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_template(scope)
            REQUESTS.labels(route, method, str(status[0])).inc()
            LATENCY.labels(route, method).observe(time.perf_counter() - started)


def time_store(store: object) -> None:
    """Time the serving calls of the store's class, once (the OGC API provider opens its own
    instance of the same class for the same URL)."""
    cls = type(store)
    if cls.__dict__.get("_metrics_timed"):
        return

    def timed(name: str, call: Callable) -> Callable:
        histogram = STORE.labels(cls.__name__, name)

        @functools.wraps(call)
        def wrapper(*args, **kwargs):
            with histogram.time():
                return call(*args, **kwargs)

        return wrapper

    for name in TIMED:
        setattr(cls, name, timed(name, getattr(cls, name)))
    cls._metrics_timed = True


class LayerCollector:
    """The registry's current versions as gauges, read when Prometheus scrapes."""

    def __init__(self, store):
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge family per figure of the current layer versions."""
        figures = {
            "version": ("Current version (grows with each load)", lambda r: r.version),
            "features": ("Features of the current version", lambda r: r.feature_count),
            "rejected": ("Rows rejected by the load of the current version", lambda r: r.rejected_count),
            "load_duration_seconds": ("How long the current version's load took", lambda r: r.duration_s),
        }
        records = self.store.layers()
        for name, (doc, value) in figures.items():
            family = GaugeMetricFamily(f"tsukuba_gis_layer_{name}", doc, labels=["layer"])
            for record in records:
                family.add_metric([record.layer_id], float(value(record)))
            yield family


def _registry(store) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for metric in (REQUESTS, LATENCY, STORE, TILE_CACHE):
            registry.register(metric)
    registry.register(LayerCollector(store))
    return registry


def _allowed(address: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def metrics_route(store, authenticator, settings: MetricsSettings | None = None) -> Route:
    """``GET /metrics`` for the allow-listed addresses and signed-in staff."""
    from starlette.concurrency import run_in_threadpool

    from server.auth.authenticate import AuthFailure, client_address

    settings = settings or MetricsSettings()
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.allow_from]
    registry = _registry(store)

    async def endpoint(request: Request) -> Response:
        if not _allowed(client_address(request), networks):
            try:
                await run_in_threadpool(authenticator.authenticate, request)
            except AuthFailure:
                raise NotFound("no such page") from None
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "private, no-store"})

    return Route("/metrics", endpoint, methods=["GET"], include_in_schema=False)
