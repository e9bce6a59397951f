"""``/live.json``: what changed live, for viewers to follow edits within seconds (issue 13).

A few hundred bytes, revalidated on every poll (a 304 while the store generation stays): each
live layer's version and edit sequence (a viewer reloads a layer whose sequence moved), and
災害時モード: whether any shelter is open now. Nothing about who edited: that stays in the
change table, for staff. ``/internal/live.json`` is the same for the staff snapshot.
"""

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import caching
from server.snapshot import Snapshot, Snapshots, audience_endpoint
from tsukuba_gis.layerdef import Access


def live_document(snapshot: Snapshot) -> dict[str, Any]:
    """The live layers of a snapshot and its 災害時モード."""
    layers = {
        p.id: {"version": p.record.version, "edit_seq": p.record.edit_seq, "changed_at": p.record.changed_at}
        for p in snapshot.layers
        if p.definition.editable is not None
    }
    modes = [
        {"id": s.layer_id, "field": s.field, "open": list(s.open_values), "open_count": s.open_count}
        for s in snapshot.disaster.values()
    ]
    return {
        "generation": snapshot.generation[0],
        "layers": layers,
        "disaster_mode": {"active": snapshot.disaster_active, "layers": modes},
    }


def answer(request: Request, snapshot: Snapshot) -> Response:
    """The live document, or 304 when the client has it (the ETag follows the generation)."""
    validators = caching.layer_validators([p.record for p in snapshot.layers], "live", snapshot.audience)
    headers = caching.headers(validators, snapshot.audience == "public", caching.PUBLIC_LIVE)
    if caching.not_modified(request.headers, validators):
        return caching.not_modified_response(headers)
    return JSONResponse(live_document(snapshot), headers=headers)


def endpoint(snapshots: Snapshots, audience: Access) -> Callable:
    """``/live.json`` of one audience (the staff one behind the /internal wall)."""
    return audience_endpoint(answer, snapshots, audience)
