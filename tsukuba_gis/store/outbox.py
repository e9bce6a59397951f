"""Change records (the outbox, issue 16), decided once for every store: what a live edit or a
version switch becomes as data, and how a record is laid out in a table row.

The stores only run the SQL: ``tg_change_records`` in both, one row per changed feature,
written in the transaction of the change. Ids grow in commit order (SQLite has one writer; the
PostGIS store takes one advisory lock for its inserts until the commit), so a delivery worker
that remembers the last id it handled misses nothing and sees nothing twice.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely

from tsukuba_gis.store.base import Change, ChangeRecord, Editor, RecordKind

KINDS: dict[str, RecordKind] = {"add": "added", "delete": "removed", "modify": "modified"}
# Every column of a row, in order (the id first: the stores insert the others).
COLUMNS = (
    "id, layer_id, version, feature_id, kind, fields, properties, geometry_changed,"
    " min_x, min_y, max_x, max_y, x, y, at, cause"
)
INSERT_COLUMNS = COLUMNS.removeprefix("id, ")
INSERT_COUNT = len(INSERT_COLUMNS.split(","))


def edit_cause(editor: Editor) -> str:
    """``edit:<department>`` (``edit:admin`` / ``edit:cli`` without one): never a person."""
    if editor.department:
        return f"edit:{editor.department}"
    return "edit:cli" if editor.via == "cli" else "edit:admin"


def place(wkb: bytes | None) -> tuple[tuple[float, float, float, float] | None, tuple[float, float] | None]:
    """The lon/lat box of a WKB geometry and a point on it (inside an area, on a line)."""
    if wkb is None:
        return None, None
    geometry = shapely.from_wkb(wkb)
    if geometry.is_empty:
        return None, None
    point = geometry.point_on_surface() if geometry.geom_type != "Point" else geometry
    minx, miny, maxx, maxy = geometry.bounds
    return (minx, miny, maxx, maxy), (point.x, point.y)


def field_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    """Column -> (before, after) where they differ (the non-empty ones of an add or removal)."""
    before, after = before or {}, after or {}
    return {
        name: (before.get(name), after.get(name))
        for name in dict.fromkeys([*before, *after])
        if before.get(name) != after.get(name)
    }


def record_of_edit(change: Change, geometry: bytes | None) -> ChangeRecord:
    """The change record of a live edit (``geometry``: the feature's geometry after it, or
    before a delete)."""
    box, point = place(geometry)
    return ChangeRecord(
        layer_id=change.layer_id,
        version=change.version,
        feature_id=change.feature_id,
        kind=KINDS[change.kind],
        fields=field_changes(change.before, change.after),
        properties=dict(change.after if change.after is not None else change.before or {}),
        geometry_changed=change.kind != "modify" or change.geometry_after is not None,
        bounds=change.bounds or box,
        point=point,
        at=change.at,
        cause=edit_cause_of(change),
    )


def edit_cause_of(change: Change) -> str:
    """The cause of a recorded edit (its department, never its user)."""
    return edit_cause(Editor(change.user, change.department, change.via))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def row_of(record: ChangeRecord) -> tuple:
    """The values of INSERT_COLUMNS for a record."""
    box = record.bounds or (None, None, None, None)
    point = record.point or (None, None)
    fields = {name: list(pair) for name, pair in record.fields.items()}
    return (
        record.layer_id,
        record.version,
        str(record.feature_id),
        record.kind,
        _json(fields),
        _json(record.properties),
        bool(record.geometry_changed),
        *box,
        *point,
        record.at,
        record.cause,
    )


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def record_from_row(row: Any) -> ChangeRecord:
    """A record from a row of COLUMNS (sqlite3.Row or a tuple in that order)."""
    values = dict(zip(COLUMNS.replace(" ", "").split(","), tuple(row), strict=True))
    at = values["at"]
    if isinstance(at, datetime):
        at = at.astimezone(UTC).isoformat(timespec="milliseconds")
    box = (values["min_x"], values["min_y"], values["max_x"], values["max_y"])
    return ChangeRecord(
        id=values["id"],
        layer_id=values["layer_id"],
        version=values["version"],
        feature_id=values["feature_id"],
        kind=values["kind"],
        fields={name: (pair[0], pair[1]) for name, pair in _loads(values["fields"]).items()},
        properties=_loads(values["properties"]),
        geometry_changed=bool(values["geometry_changed"]),
        bounds=None if box[0] is None else box,
        point=None if values["x"] is None else (values["x"], values["y"]),
        at=at,
        cause=values["cause"],
    )


def cutoff(keep_days: int, now: datetime | None = None) -> str:
    """The ISO 8601 UTC time before which records are pruned."""
    return ((now or datetime.now(UTC)) - timedelta(days=keep_days)).isoformat(timespec="milliseconds")
