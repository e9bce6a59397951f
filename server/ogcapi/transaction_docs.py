"""OGC API - Features - Part 4 (create, replace, update, delete) in the staff OpenAPI document.

Only the staff document gets these operations, and only for editable layers; the public one
never names a write (the public API answers 405 to one). Every status a write can answer is
listed, with the ETag/If-Match contract (optimistic locking).
"""

from typing import Any

from server.ogcapi.contract import EXCEPTION
from tsukuba_gis.layerdef import LayerDef

ETAG_HEADER = {
    "description": 'The feature\'s ETag ("<version>.<revision>"): the If-Match of the next write.',
    "schema": {"type": "string"},
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": "The ETag of the feature as it was read. Required (428 without it), except with a"
    " token made with --scope edit-unconditional; a stale one gets 412 and nothing is written.",
    "schema": {"type": "string"},
}
FEATURE_ID = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
ERRORS = {
    "400": "A field, value or geometry the layer does not take (the description names it)",
    "401": "Not signed in",
    "403": "Not allowed: another department's layer, or a read-only token (the reason is given)",
    "404": "No such collection or feature",
    "405": "The layer takes no edit of this kind",
    "409": "A feature with this id exists",
    "412": "The feature changed since it was read (If-Match is stale): read it again",
    "413": "The body is over 1 MB",
    "415": "Another Content-Type than the ones listed",
    "428": "If-Match is missing",
    "503": "The store is busy or restarting: try again (Retry-After); nothing was written",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {
        code: {"description": ERRORS[code], "content": {"application/json": {"schema": EXCEPTION}}}
        for code in codes
    }


def _feature_body(layer: LayerDef, media_types: tuple[str, ...], description: str) -> dict[str, Any]:
    properties = {
        f.name: {
            "type": {"integer": "integer", "number": "number", "boolean": "boolean"}.get(f.type, "string"),
            **({"enum": f.values} if f.values else {}),
            **({"maxLength": f.max_length} if f.max_length else {}),
        }
        for f in layer.fields
        if f.name in layer.editable.fields
    }
    schema = {
        "type": "object",
        "properties": {
            "type": {"enum": ["Feature"]},
            "geometry": {"type": "object"},
            "properties": {"type": "object", "properties": properties},
        },
    }
    return {
        "required": True,
        "description": description,
        "content": {kind: {"schema": schema} for kind in media_types},
    }


def _ok(description: str, status: str = "200") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "headers": {"ETag": ETAG_HEADER},
            "content": {"application/geo+json": {"schema": {"type": "object"}}},
        }
    }


def _operations(layer: LayerDef) -> tuple[dict[str, Any], dict[str, Any]]:
    tag, editors = [layer.id], ", ".join(layer.editors)
    who = f"Staff of {editors} (and admins)."
    items, item = {}, {}
    if layer.editable.create:
        created = _ok("Created; Location names the new feature", "201")
        created["201"]["headers"]["Location"] = {"schema": {"type": "string"}}
        items["post"] = {
            "summary": f"Add a feature to {layer.id}",
            "description": f"{who} Any field may be given; live fields start at their default.",
            "tags": tag,
            "operationId": f"add{layer.id.title().replace('_', '')}Feature",
            "requestBody": _feature_body(
                layer, ("application/geo+json", "application/json"), "A GeoJSON Feature"
            ),
            "responses": {
                **created,
                **_errors("400", "401", "403", "404", "405", "409", "413", "415", "503"),
            },
        }
    common = {"tags": tag, "parameters": [FEATURE_ID, IF_MATCH]}
    writes = _errors("400", "401", "403", "404", "405", "412", "413", "415", "428", "503")
    item["put"] = {
        **common,
        "summary": f"Replace the editable fields (and geometry) of a feature of {layer.id}",
        "description": f"{who} Editable fields left out become empty; others may be repeated unchanged.",
        "operationId": f"replace{layer.id.title().replace('_', '')}Feature",
        "requestBody": _feature_body(
            layer, ("application/geo+json", "application/json"), "A GeoJSON Feature"
        ),
        "responses": {**_ok("Replaced: the feature as it is now"), **writes},
    }
    item["patch"] = {
        **common,
        "summary": f"Update a feature of {layer.id} (JSON merge patch, RFC 7396)",
        "description": f"{who} Only the members given change; null empties a field.",
        "operationId": f"update{layer.id.title().replace('_', '')}Feature",
        "requestBody": _feature_body(
            layer, ("application/merge-patch+json",), "A JSON merge patch of the feature"
        ),
        "responses": {**_ok("Updated: the feature as it is now"), **writes},
    }
    if layer.editable.delete:
        item["delete"] = {
            **common,
            "summary": f"Delete a feature of {layer.id}",
            "description": who,
            "operationId": f"delete{layer.id.title().replace('_', '')}Feature",
            "responses": {
                "204": {"description": "Deleted (recorded; revertible with tsukuba-gis etl revert)"},
                **_errors("401", "403", "404", "405", "412", "428", "503"),
            },
        }
    return items, item


def add_transaction_paths(document: dict[str, Any], layers: list[LayerDef]) -> None:
    """Add the write operations of each editable layer to the staff OpenAPI document."""
    paths = document.setdefault("paths", {})
    for layer in layers:
        items, item = _operations(layer)
        paths.setdefault(f"/collections/{layer.id}/items", {}).update(items)
        paths.setdefault(f"/collections/{layer.id}/items/{{featureId}}", {}).update(item)
