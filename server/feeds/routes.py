"""``/feeds/changes.atom`` and ``/feeds/changes.json`` (and ``/internal/feeds/...`` for staff).

A request reads one audience snapshot (which layers and fields it may show, the area, the
towns) and pages through the store's change records newest first: ``before`` is the id the
next page starts under. Records the audience cannot see anything of, or outside a circle, are
skipped, a bounded number of store pages at most, so a page may hold fewer than ``limit``
entries and still have a next one. The ETag follows the entries' ids, the definitions and the
request, so a feed reader polling an unchanged feed gets a 304.
"""

import hashlib
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import caching
from server.feeds.entries import Entry, make_entry
from server.feeds.params import FeedQuery, feed_query
from server.feeds.render import Page, atom, json_feed
from server.snapshot import Snapshot, Snapshots
from tsukuba_gis import __version__
from tsukuba_gis.layerdef import Access
from tsukuba_gis.settings import Settings

MAX_ROUNDS = 8  # store pages read at most for one feed page (records the audience cannot see)
TITLES = {
    "ja": {"public": "{city}の地図データの変更", "internal": "{city}の地図データの変更（職員用）"},
    "en": {
        "public": "Changes to the map data of {city}",
        "internal": "Changes to the map data of {city} (staff)",
    },
}
MEDIA = {"atom": "application/atom+xml; charset=utf-8", "json": "application/feed+json; charset=utf-8"}


def collect(snapshot: Snapshot, query: FeedQuery, public_url: str) -> tuple[list[Entry], int | None]:
    """One page of entries, newest first, and the ``before`` of the next page (None: last)."""
    layers = {p.id: p for p in snapshot.layers}
    box = query.area.box if query.area else None
    cursor = query.before or 10**18
    entries: list[Entry] = []
    for _ in range(MAX_ROUNDS):
        batch = snapshot.store.change_records(before=cursor, layers=query.layers, bbox=box, limit=query.limit)
        for record in batch:
            cursor = record.id
            if query.area is not None and not query.area.meets(record.bounds):
                continue
            entry = make_entry(
                layers[record.layer_id], record, snapshot.audience, query.lang, public_url, snapshot.base_url
            )
            if entry is not None:
                entries.append(entry)
            if len(entries) == query.limit:
                return entries, cursor
        if len(batch) < query.limit:
            return entries, None
    return entries, cursor


def _validators(snapshot: Snapshot, request: Request, entries, after: int | None) -> caching.Validators:
    """Weak validators of a page: its entries, what words they are made of (the definitions),
    the request and the application version."""
    key = "\n".join(
        [
            __version__,
            snapshot.audience,
            str(snapshot.generation[1:]),
            str(request.url.path),
            str(request.url.query),
        ]
        + [str(e.id) for e in entries]
        + [str(after)]
    )
    return caching.Validators(f'W/"{hashlib.blake2b(key.encode(), digest_size=12).hexdigest()}"')


def _page(
    snapshot: Snapshot, request: Request, query: FeedQuery, settings: Settings
) -> tuple[Page, int | None]:
    """The page a request asks for, and the ``before`` of the next one."""
    public_url = settings.public_url or ""
    entries, after = collect(snapshot, query, public_url)
    path = f"{public_url}{request.url.path}"
    params = request.query_params
    first = query.query_string(params, None)
    following = query.query_string(params, after) if after is not None else None
    city = settings.city_name_ja if query.lang == "ja" else settings.city_name_en
    return Page(
        title=TITLES[query.lang][snapshot.audience].format(city=city),
        self_url=f"{path}?{request.url.query}" if request.url.query else path,
        first_url=f"{path}?{first}" if first else path,
        next_url=f"{path}?{following}" if following else None,
        home_url=f"{public_url}/",
        author=city,
        lang=query.lang,
        tag=urlsplit(public_url).hostname or "localhost",
        entries=tuple(entries),
    ), after


def answer(request: Request, snapshot: Snapshot, settings: Settings, fmt: str) -> Response:
    """One page of the change feed of ``snapshot``'s audience, or 304 when the reader has it."""
    query = feed_query(request.query_params, snapshot)
    page, after = _page(snapshot, request, query, settings)
    validators = _validators(snapshot, request, page.entries, after)
    headers = caching.headers(validators, snapshot.audience == "public", caching.PUBLIC_LIVE)
    if caching.not_modified(request.headers, validators):
        return caching.not_modified_response(headers)
    if fmt == "atom":
        return Response(atom(page), media_type=MEDIA["atom"], headers=headers)
    return JSONResponse(json_feed(page), media_type=MEDIA["json"], headers=headers)


def feed_routes(snapshots: Snapshots, audience: Access, prefix: str = "") -> list[Route]:
    """The feed routes of one audience under ``prefix`` (``/feeds`` in the app; ``/feeds`` in the
    staff sub-application, which is mounted at /internal)."""

    def endpoint(fmt: str) -> Callable:
        def run(request: Request) -> Response:
            return answer(request, snapshots.get(audience), snapshots.settings, fmt)

        async def handle(request: Request) -> Response:
            return await run_in_threadpool(run, request)

        return handle

    return [
        Route(f"{prefix}/changes.atom", endpoint("atom"), methods=["GET", "HEAD"]),
        Route(f"{prefix}/changes.json", endpoint("json"), methods=["GET", "HEAD"]),
    ]
