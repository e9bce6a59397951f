"""An ETL reload of an editable layer, and the live edits made since (issue 13).

The rule is the layer's ``editable.reload``:

- ``keep_live`` (default): every live field (``live: true``, e.g. a shelter's status and
  updated_at) keeps its current value on the feature with the same ``id_field`` in the new
  version; features staff added that the source does not have are carried over as they are.
- ``source_wins``: the new version is the source alone; live fields start at their defaults.

Either way the source decides everything else, and the report says, edit by edit, what the
reload did with it: the source-backed fields staff changed that the source now sets otherwise,
features staff deleted that the source still has, positions staff moved, features staff added.
Nothing disappears without a line: the changes themselves stay in the change table.

The carry is read after the writer started: the writer holds the layer's lock (SQLite's write
lock, PostgreSQL's advisory lock), so no edit can land between the read and the new version.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.store import LayerRecord, Query, Store

MAX_LINES = 200  # the report lists this many edits one by one (all are counted)


@dataclass
class LiveCarry:
    """What the current version holds that the new one must keep or explain.

    Attributes:
        live: id -> the live fields' values now (``keep_live`` only).
        edited: id -> the feature now (properties, WKB; None when staff deleted it) for every
            feature edited since the last load, with who edited it last.
        added: ids staff added (in any version) that are still in the current one.
    """

    layer: LayerDef
    previous: LayerRecord
    store: Store
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    edited: dict[str, tuple[dict | None, bytes | None, Any]] = field(default_factory=dict)
    added: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def read(cls, store: Store, layer: LayerDef) -> "LiveCarry | None":
        """The carry of an editable layer's current version (None: not editable, not loaded)."""
        previous = store.current(layer.id)
        if (
            layer.editable is None
            or previous is None
            or layer.id_field not in {c.name for c in previous.columns}
        ):
            return None
        carry = cls(layer, previous, store)
        stored = {c.name for c in previous.columns}
        names = [f.name for f in layer.live_fields() if f.name in stored]
        if layer.editable.reload == "keep_live" and names:
            page = store.query(
                previous,
                Query(select=(layer.id_field, *names), limit=previous.feature_count + 1, skip_geometry=True),
            )
            carry.live = {str(p[layer.id_field]): {n: p[n] for n in names} for p in page.properties}
        carry._read_changes(store)
        return carry

    def _read_changes(self, store: Store) -> None:
        after, last = 0, {}
        while batch := store.changes(self.layer.id, after=after, limit=5000):
            for change in batch:
                if change.kind == "add":
                    self.added.add(change.feature_id)
                if change.version == self.previous.version:
                    last[change.feature_id] = change
            after = batch[-1].id
        for fid, change in last.items():
            page = store.get(self.previous, fid)
            self.edited[fid] = (page.properties[0], page.wkb[0], change) if page.ids else (None, None, change)
        self.added = {
            fid for fid in self.added if fid in self.live or store.get(self.previous, fid, select=()).ids
        }

    def apply(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """A chunk of the reload with the live values kept, and its edited features explained."""
        key = self.layer.id_field
        ids = frame[key].astype(str).tolist()
        self.seen.update(ids)
        if self.live:
            present = pd.Series([i in self.live for i in ids], index=frame.index)
            for name in next(iter(self.live.values())):
                values = [self.live.get(i, {}).get(name) for i in ids]
                frame[name] = pd.Series(values, index=frame.index, dtype=object).where(present, frame[name])
            self.counts["features keeping their live values"] += int(present.sum())
        for position, fid in enumerate(ids):
            if fid in self.edited:
                self._explain(fid, frame.iloc[position])
        return frame

    def _explain(self, fid: str, row: pd.Series) -> None:
        props, wkb, change = self.edited[fid]
        who = f"change #{change.id} by {change.user} at {change.at}"
        if props is None:
            self._line("restored", f"{fid}: deleted by staff ({who}), restored by the source")
            return
        live = (
            {f.name for f in self.layer.live_fields()} if self.layer.editable.reload == "keep_live" else set()
        )
        for name, value in props.items():
            new = row.get(name)
            new = None if new is None or (not isinstance(new, str | bool) and pd.isna(new)) else new
            if name not in live and name != self.layer.id_field and _differs(value, new):
                self._line("replaced", f"{fid}: {name} {value!r} (edited, {who}) -> {new!r} from the source")
        if wkb is not None and not shapely.equals_exact(shapely.from_wkb(wkb), row.geometry, 1e-9):
            if change.geometry_after is not None:
                self._line("replaced", f"{fid}: position (moved by staff, {who}) -> the source's")

    def extra(self) -> gpd.GeoDataFrame | None:
        """The features staff added that the reload does not have (``keep_live``), or None."""
        missing = sorted(fid for fid in self.added if fid not in self.seen)
        if self.layer.editable.reload != "keep_live":
            for fid in missing:
                self._line("dropped", f"{fid}: added by staff, not in the source: not in the new version")
            return None
        return self._carried(missing) if missing else None

    def _carried(self, missing: list[str]) -> gpd.GeoDataFrame:
        rows, geoms = [], []
        for fid in missing:
            props, wkb, _ = self.edited.get(fid, (None, None, None))
            if props is None:  # added in an earlier version, carried already: read it now
                props, wkb = self._current(fid)
            rows.append(props)
            geoms.append(shapely.from_wkb(wkb))
            self._line("carried", f"{fid}: added by staff, not in the source: kept in the new version")
        columns = [f.name for f in self.layer.fields]
        data = {name: [r.get(name) for r in rows] for name in columns}
        return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")

    def _current(self, fid: str) -> tuple[dict, bytes]:
        page = self.store.get(self.previous, fid)
        return page.properties[0], page.wkb[0]

    def _line(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        if len(self.lines) < MAX_LINES:
            self.lines.append(text)

    def summary(self) -> dict[str, Any]:
        """For the layer's report: the rule, counts per kind, and the lines."""
        edits = len(self.edited)
        return {
            "rule": self.layer.editable.reload,
            "from_version": self.previous.version,
            "edited_features": edits,
            "counts": dict(self.counts),
            "lines": self.lines,
            "more": max(
                0, sum(v for k, v in self.counts.items() if not k.startswith("features")) - len(self.lines)
            ),
        }


def _differs(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is not new and not (old in ("", None) and new in ("", None))
    if isinstance(old, float) or isinstance(new, float):
        try:
            return abs(float(old) - float(new)) > 1e-12
        except (TypeError, ValueError):
            return True
    return str(old) != str(new)
