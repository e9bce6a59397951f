"""``GET /search?q=吾妻&limit=10&lang=ja``: suggestions for the viewer's search box.

Answered from the place-name index of the audience's snapshot (``server/placeindex.py``; public:
only public layers and fields). The staff side serves the same over every layer behind the
``/internal`` wall (``endpoint(snapshots, "internal")``).

Each result says how it matched (``match_level``: exact, prefix, substring, reading, fuzzy, town
for an address matched to its 町丁目・大字, coordinate), and carries the name's reading and
romaji when known; the answer's texts (kinds, notes, not found) are in ``lang`` (or
Accept-Language), and ``suggestions`` are the closest names when nothing matched.
"""

import time
from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import Request

from server.placeindex import LEVELS, Answer, Found
from server.placenames import DEFAULT_LIMIT
from server.report.texts import word
from server.snapshot import Snapshot, Snapshots, audience_endpoint
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.i18n import negotiate
from tsukuba_gis.layerdef import Access

MAX_QUERY_CHARS = 100
MAX_LIMIT = 50


def _limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: an integer from 1 to {MAX_LIMIT}")
    return limit


def _result(found: Found, answer: Answer, snapshot: Snapshot, lang: str) -> dict[str, Any]:
    entry = found.entry
    level = LEVELS[found.level]
    result = {
        "kind": entry.kind,
        "name": entry.name,
        "layer": entry.layer,
        "layer_title": snapshot.search.titles[entry.layer],
        "id": entry.feature_id,
        "lat": entry.lat,
        "lon": entry.lon,
        "match": level,
        "match_level": level,
        "category": entry.category,
        "category_label": word(f"kind_{entry.category}", lang),
    }
    if entry.kind == "place" and answer.address:
        result["match_level"] = "town"
        result["note"] = word("town_match", lang, town=entry.name)
    for name in ("level", "kana", "romaji", "name_en"):
        if getattr(entry, name):
            result[name] = getattr(entry, name)
    return result


def _coordinate(answer: Answer, snapshot: Snapshot, lang: str) -> dict[str, Any]:
    lat, lon = answer.coordinate or (0.0, 0.0)
    return {
        "kind": "coordinate",
        "name": f"{lat:.6f}, {lon:.6f}",
        "lat": lat,
        "lon": lon,
        "inside": snapshot.search.inside(lat, lon),
        "match": "coordinate",
        "match_level": "coordinate",
        "category": "coordinate",
        "category_label": word("kind_coordinate", lang),
    }


def search_answer(snapshot: Snapshot, query: str, limit: int, lang: str) -> dict[str, Any]:
    """The JSON answer of one search (results, suggestions, notes in ``lang``)."""
    started = time.perf_counter()
    answer = snapshot.search.find(query, limit) if query.strip() else Answer()
    results = [_coordinate(answer, snapshot, lang)] if answer.coordinate else []
    results += [_result(f, answer, snapshot, lang) for f in answer.found[: max(0, limit - len(results))]]
    body: dict[str, Any] = {"query": query, "lang": lang, "results": results, "numberReturned": len(results)}
    if results:
        body["match_level"] = results[0]["match_level"]
        if body["match_level"] == "fuzzy":
            body["note"] = word("fuzzy_match", lang, query=query)
    elif query.strip():
        body["note"] = word("not_found", lang, query=query)
        body["suggestions"] = answer.suggestions
    body["took_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return body


def answer(request: Request, snapshot: Snapshot) -> JSONResponse:
    """The search answer of one audience's snapshot for a request's ``q``, ``limit`` and ``lang``."""
    params = request.query_params
    query = params.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"q: at most {MAX_QUERY_CHARS} characters")
    limit = _limit(params.get("limit", str(DEFAULT_LIMIT)))
    lang = negotiate(params.get("lang"), request.headers.get("accept-language"))
    public = snapshot.audience == "public"
    return JSONResponse(
        search_answer(snapshot, query, limit, lang),
        headers={
            "Cache-Control": "public, max-age=60" if public else "private, no-store",
            "Vary": "Accept-Language",
        },
    )


def endpoint(snapshots: Snapshots, audience: Access) -> Callable:
    """A Starlette endpoint answering searches over ``audience``'s layers."""
    return audience_endpoint(answer, snapshots, audience)
