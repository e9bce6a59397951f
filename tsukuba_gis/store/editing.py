"""What an edit does to one feature, decided once for every store (the stores only run the SQL).

A store reads the feature as it is (:class:`FeatureState`) inside its write transaction, asks
:func:`plan` what the edit changes, writes that, and records it as a :class:`Change` made by
:func:`change_of`. The checks are the same everywhere: an add needs a free id and a geometry,
a modify or delete needs the feature, and ``expect`` (the client's If-Match) must still hold.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely

from tsukuba_gis.errors import BadRequest, EditConflict, FeatureExists, FeatureNotFound
from tsukuba_gis.store.base import Change, Column, EditRequest, LayerRecord
from tsukuba_gis.tiles.touch import union


@dataclass(frozen=True)
class FeatureState:
    """A feature as its table holds it now: fid, every column, WKB geometry, revision."""

    fid: int
    properties: dict[str, Any]
    wkb: bytes
    revision: int


@dataclass(frozen=True)
class Plan:
    """What to write for an edit.

    Attributes:
        after: every column after the edit (None: delete).
        wkb: the geometry to write (None: unchanged, or delete).
        geometry_changed: whether the geometry differs (recorded in the change).
    """

    request: EditRequest
    before: FeatureState | None
    after: dict[str, Any] | None
    wkb: bytes | None
    revision: int
    bounds: tuple[float, float, float, float] | None

    @property
    def geometry_changed(self) -> bool:
        """Whether the change has to record geometries (add, delete, or a move)."""
        return self.after is None or self.before is None or self.wkb is not None


def same_geometry(a: bytes | None, b: bytes | None) -> bool:
    """Whether two WKB geometries are the same (whatever byte order or writer made them)."""
    if a is None or b is None:
        return a is b
    return a == b or bool(shapely.equals_exact(shapely.from_wkb(a), shapely.from_wkb(b), 0))


def now_utc() -> str:
    """The time of a change, ISO 8601 in UTC to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def bounds_of(wkb: bytes | None) -> tuple[float, float, float, float] | None:
    """The lon/lat box of a WKB geometry."""
    if wkb is None:
        return None
    minx, miny, maxx, maxy = shapely.bounds(shapely.from_wkb(wkb)).tolist()
    return (minx, miny, maxx, maxy)


def check_current(record: LayerRecord, current: int | None, request: EditRequest) -> None:
    """EditConflict when the caller's version (or its If-Match's) is no longer the current one."""
    seen = {record.version, request.expect[0] if request.expect else record.version}
    if current is None:
        raise EditConflict(f"{record.layer_id} has no current version any more")
    if seen != {current}:
        raise EditConflict(
            f"{record.layer_id} was reloaded (v{current} is current now): read the feature again"
            " and repeat the edit"
        )


def plan(
    request: EditRequest,
    state: FeatureState | None,
    columns: tuple[Column, ...],
    id_column: str | None,
    added_revision: int = 1,
) -> Plan | None:
    """What ``request`` writes over ``state`` (None: no such feature); None when nothing changes.

    ``added_revision``: the revision of an added feature (a re-added id continues its count,
    so an ETag seen before its deletion never matches again).
    """
    if request.kind == "add":
        return _add(request, state, columns, id_column, added_revision)
    if state is None:
        raise FeatureNotFound("no such feature in the current version of this layer")
    if request.expect is not None and request.expect[1] != state.revision:
        raise EditConflict(
            "the feature changed since it was read (another edit was saved first):"
            " read it again, check, and save again"
        )
    if request.kind == "delete":
        return Plan(request, state, None, None, 0, bounds_of(state.wkb))
    after = {**state.properties, **{k: v for k, v in request.properties.items() if k in state.properties}}
    moved = request.geometry is not None and not same_geometry(request.geometry, state.wkb)
    wkb = request.geometry if moved else None
    if after == state.properties and wkb is None:
        return None  # nothing differs: no revision, no change recorded
    if request.stamp is not None and request.stamp[0] in after:
        after[request.stamp[0]] = request.stamp[1]
    return Plan(request, state, after, wkb, state.revision + 1, union(bounds_of(state.wkb), bounds_of(wkb)))


def _add(
    request: EditRequest,
    state: FeatureState | None,
    columns: tuple[Column, ...],
    id_column: str | None,
    revision: int,
) -> Plan:
    if state is not None:
        raise FeatureExists("a feature with this id already exists in this layer")
    if request.geometry is None:
        raise BadRequest("geometry: a new feature needs one")
    after = {c.name: request.properties.get(c.name) for c in columns}
    if id_column is not None:
        after[id_column] = request.feature_id
    if request.stamp is not None and request.stamp[0] in after:
        after[request.stamp[0]] = request.stamp[1]
    return Plan(request, None, after, request.geometry, revision, bounds_of(request.geometry))


def change_of(plan: Plan, change_id: int, record: LayerRecord, seq: int, at: str) -> Change:
    """The change row of a written plan."""
    request, before = plan.request, plan.before
    moved = plan.geometry_changed
    return Change(
        id=change_id,
        layer_id=record.layer_id,
        version=record.version,
        seq=seq,
        feature_id=str(request.feature_id),
        kind=request.kind,
        before=before.properties if before else None,
        after=plan.after,
        geometry_before=before.wkb if before and moved else None,
        geometry_after=(plan.wkb or (before.wkb if before else None))
        if moved and plan.after is not None
        else None,
        bounds=plan.bounds,
        rev_before=before.revision if before else None,
        rev_after=plan.revision if plan.after is not None else None,
        user=request.editor.user,
        department=request.editor.department,
        via=request.editor.via,
        at=at,
        cause=request.cause,
        reverts=request.reverts,
    )
