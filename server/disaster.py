"""What a snapshot knows about live layers: the area edits must stay inside, and 災害時モード.

Both are read from the store when a snapshot is built (``server/snapshot.py``): the city's
boundary once per version of its layer, the counts of open features (a few COUNT queries) every
time, so residents see 災害時モード within a second of the first shelter opening.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from tsukuba_gis.settings import Settings
from tsukuba_gis.store import Query, Store

DEGREES_PER_M = 1 / 111_000  # latitude; longitude degrees are longer here: the margin grows


@dataclass(frozen=True)
class DisasterState:
    """災害時モード of one layer (``disaster_mode`` in its definition).

    Attributes:
        field: the status field; open_values: the values that count as open.
        open_count: features with one of them now (the mode is on while any is).
    """

    layer_id: str
    field: str
    open_values: tuple[str, ...]
    open_count: int


def disaster_states(store: Store, layers: Sequence[Any]) -> dict[str, DisasterState]:
    """The 災害時モード state of every layer with ``disaster_mode`` (and that status field)."""
    states = {}
    for published in layers:
        mode = published.definition.disaster_mode
        if mode is None or mode.field not in {c.name for c in published.record.columns}:
            continue
        count = 0
        for value in mode.open:
            page = store.query(published.record, Query(equals=((mode.field, value),), limit=0))
            count += page.number_matched or 0
        states[published.id] = DisasterState(published.id, mode.field, tuple(mode.open), count)
    return states


def boundary(
    settings: Settings, store: Store, layers: Sequence[Any], area: tuple | None, previous: Any = None
) -> Any:
    """The prepared shapely area live edits must stay inside: the boundary layer's areas with a
    margin, else the loaded layers' extent (``area``); None when nothing is loaded."""
    found = next((p for p in layers if p.id == settings.city_boundary_layer), None)
    if found is not None and found.definition.geometry == "polygon":
        key = (found.record.version, found.record.edit_seq, settings.edit_area_margin_m)
        kept = getattr(previous, "boundary", None)
        if isinstance(kept, _Keyed) and kept.key == key:
            return kept
        page = store.query(found.record, Query(select=(), limit=100_000, with_count=False))
        if page.wkb:
            shape = shapely.union_all(shapely.from_wkb(page.wkb)).buffer(
                settings.edit_area_margin_m * DEGREES_PER_M
            )
            shapely.prepare(shape)
            return _Keyed(shape, key)
    if area is None:
        return None
    shape = shapely.box(*area)
    shapely.prepare(shape)
    return _Keyed(shape, None)


class _Keyed:
    """A prepared area with the boundary layer version it was made from (to reuse it)."""

    def __init__(self, shape: Any, key: tuple | None):
        self.shape, self.key = shape, key

    def covers(self, other: Any) -> bool:
        """Whether the area covers a geometry."""
        return bool(self.shape.covers(other))
