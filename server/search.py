"""``GET /search?q=吾妻&limit=10``: suggestions for the viewer's search box.

Answered from the place-name index of the audience's snapshot (``server/placenames.py``; public:
only public layers and fields). The staff side serves the same over every layer behind the
``/internal`` wall (``endpoint(snapshots, "internal")``).
"""

import time
from collections.abc import Callable

from fastapi.responses import JSONResponse
from starlette.requests import Request

from server.placenames import DEFAULT_LIMIT
from server.snapshot import Snapshot, Snapshots, audience_endpoint
from tsukuba_gis.errors import BadRequest
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


def answer(request: Request, snapshot: Snapshot) -> JSONResponse:
    """The search answer of one audience's snapshot for a request's ``q`` and ``limit``."""
    started = time.perf_counter()
    query = request.query_params.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"q: at most {MAX_QUERY_CHARS} characters")
    limit = _limit(request.query_params.get("limit", str(DEFAULT_LIMIT)))
    results = snapshot.search.search(query, limit) if query.strip() else []
    took = (time.perf_counter() - started) * 1000
    public = snapshot.audience == "public"
    return JSONResponse(
        {"query": query, "results": results, "numberReturned": len(results), "took_ms": round(took, 2)},
        headers={"Cache-Control": "public, max-age=60" if public else "private, no-store"},
    )


def endpoint(snapshots: Snapshots, audience: Access) -> Callable:
    """A Starlette endpoint answering searches over ``audience``'s layers."""
    return audience_endpoint(answer, snapshots, audience)
