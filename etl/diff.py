"""What a new version of a layer changes: added, removed and changed features, and which.

Features are matched by the layer's ``id_field`` when it has one; otherwise by a hash of
geometry and attributes, so an edited feature shows as one removed and one added (there is
no way to tell an edit from a replacement without an id). Each version is streamed from the
store in chunks and reduced to one row per feature (key, content hash, label).
"""

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from tsukuba_gis.errors import LayerNotFound
from tsukuba_gis.store import LayerRecord, Store
from tsukuba_gis.store.base import ChangeRecord
from tsukuba_gis.store.outbox import field_changes, place
from tsukuba_gis.tiles.touch import union

EXAMPLES = 20


def _canonical_column(values: pd.Series, kind: str) -> pd.Series:
    """A column the same way whichever side it comes from (a chunk the ETL writes, or the store
    reading a version back): numbers as floats (3 and 3.0, None and NaN are one stored value),
    booleans as 0/1, dates and text as text ("" for none)."""
    if kind in ("integer", "number", "boolean"):
        if kind == "boolean":
            values = values.map({True: 1.0, False: 0.0})  # 1 and 0 equal True and False
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if pd.api.types.is_datetime64_any_dtype(values):
        values = values.dt.strftime("%Y-%m-%d")
    return values.astype(object).where(values.notna(), "").astype(str)


def _fingerprint(
    frame: gpd.GeoDataFrame, columns: dict[str, str], key_column: str | None, label_column: str | None
) -> pd.DataFrame:
    """One row per feature of a chunk: key, content hash (geometry + ``columns``: name -> type),
    label, fid."""
    wkb = pd.Series(shapely.to_wkb(frame.geometry.to_numpy(), hex=True), index=frame.index, name="_geom")
    canonical = [_canonical_column(frame[name], kind) for name, kind in columns.items()]
    content = pd.util.hash_pandas_object(pd.concat([*canonical, wkb], axis=1), index=False)
    key = frame[key_column].astype(str) if key_column else content.astype(str)
    label = (
        frame[label_column].astype(str)
        if label_column
        else pd.Series([f"fid {f}" for f in frame.index], index=frame.index)
    )
    return pd.DataFrame(
        {
            "key": key.to_numpy(),
            "hash": content.to_numpy(),
            "label": label.to_numpy(),
            "fid": frame.index.to_numpy(),
        }
    )


def _types(record: LayerRecord, names: list[str]) -> dict[str, str]:
    """Name -> type of these columns as the record has them (both sides compare by it)."""
    kinds = {c.name: c.type for c in record.columns}
    return {name: kinds[name] for name in names}


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({"key": [], "hash": [], "label": [], "fid": []})
    return pd.concat(parts, ignore_index=True)


def _fingerprints(
    store: Store,
    record: LayerRecord,
    columns: dict[str, str],
    key_column: str | None,
    label_column: str | None,
) -> pd.DataFrame:
    """One row per feature of a stored version: key, content hash, label, fid."""
    return _concat([_fingerprint(f, columns, key_column, label_column) for f in store.iter_frames(record)])


def _field_changes(
    store: Store, old: LayerRecord, new: LayerRecord, key: str, columns: list[str]
) -> dict[str, Any]:
    """Which fields (and whether the geometry) of one feature differ between two versions."""
    a, b = store.get(old, key), store.get(new, key)
    if not a.ids or not b.ids:
        return {"id": key}
    fields = {
        c: [a.properties[0].get(c), b.properties[0].get(c)]
        for c in columns
        if a.properties[0].get(c) != b.properties[0].get(c)
    }
    return {"id": key, "fields": fields, "geometry": a.wkb[0] != b.wkb[0]}


def _record(store: Store, layer_id: str, version: int) -> LayerRecord:
    record = store.version(layer_id, version)
    if record is None:
        kept = [r.version for r in store.history(layer_id)]
        raise LayerNotFound(
            f"layer {layer_id!r} has no version {version} (kept: {kept}); see `tsukuba-gis etl history`"
        )
    return record


def diff_versions(
    store: Store, layer_id: str, old_version: int, new_version: int, label_column: str | None = None
) -> dict[str, Any]:
    """Added / removed / changed counts between two kept versions, with examples.

    Examples
    --------
    >>> diff_versions(store, "shelters", 3, 4)["changed"]
    2
    """
    old, new = _record(store, layer_id, old_version), _record(store, layer_id, new_version)
    old_cols, new_cols = [c.name for c in old.columns], [c.name for c in new.columns]
    common = [c for c in new_cols if c in old_cols]
    by_id = bool(old.id_column and old.id_column == new.id_column)
    label = label_column if label_column in common else None
    key = old.id_column if by_id else None
    typed = _types(old, common)
    a = _fingerprints(store, old, typed, key, label)
    b = _fingerprints(store, new, typed, key, label)
    added, removed, changed, unchanged = _compare(a, b, by_id)
    summary = _summary(old, new.version, new_cols, by_id, added, removed, changed, unchanged)
    summary["examples"]["changed"] = (
        [_field_changes(store, old, new, k, common) for k in changed["key"].head(EXAMPLES)] if by_id else []
    )
    return summary


def _compare(
    a: pd.DataFrame, b: pd.DataFrame, by_id: bool
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, int]:
    """Added, removed and changed rows (merged fingerprints) and the unchanged count."""
    if not by_id:  # a multiset of contents: the same feature twice counts twice
        a = a.assign(key=a["key"] + "#" + a.groupby("key").cumcount().astype(str))
        b = b.assign(key=b["key"] + "#" + b.groupby("key").cumcount().astype(str))
    merged = a.merge(b, on="key", how="outer", suffixes=("_old", "_new"), indicator=True)
    added = merged[merged["_merge"] == "right_only"]
    removed = merged[merged["_merge"] == "left_only"]
    both = merged[merged["_merge"] == "both"]
    changed = both[both["hash_old"] != both["hash_new"]]
    return added, removed, changed, len(both) - len(changed)


def _summary(
    old: LayerRecord,
    new_version: int,
    new_cols: list[str],
    by_id: bool,
    added: pd.DataFrame,
    removed: pd.DataFrame,
    changed: pd.DataFrame,
    unchanged: int,
) -> dict[str, Any]:
    old_cols = [c.name for c in old.columns]
    return {
        "layer_id": old.layer_id,
        "from": old.version,
        "to": new_version,
        "matched_by": old.id_column if by_id else "content (geometry + attributes): no id_field",
        "added": len(added),
        "removed": len(removed),
        "changed": len(changed),
        "unchanged": unchanged,
        "columns": {
            "added": [c for c in new_cols if c not in old_cols],
            "removed": [c for c in old_cols if c not in new_cols],
        },
        "examples": {
            "added": _labels(added, "label_new", by_id),
            "removed": _labels(removed, "label_old", by_id),
            "changed": [],
        },
    }


def _labels(rows: pd.DataFrame, column: str, by_id: bool) -> list[str]:
    head = rows.head(EXAMPLES)
    if by_id:
        return [
            f"{k} ({lbl})" if isinstance(lbl, str) and lbl != k else str(k)
            for k, lbl in zip(head["key"], head[column], strict=True)
        ]
    return [str(lbl) for lbl in head[column]]


def _plain(value: Any) -> Any:
    """A frame value as the store gives it back (None for missing, Python scalars)."""
    if value is None:
        return None
    if not isinstance(value, str | bytes) and pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value.item() if hasattr(value, "item") else value


def _same(a: Any, b: Any) -> bool:
    """Equal as stored values (3 and 3.0 are; a float column's int is no change)."""
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


class VersionDiff:
    """What a new version changes against the current one, collected while the ETL writes it.

    The same comparison as :func:`diff_versions` (one fingerprint per feature), fed with each
    chunk the writer takes, so the report's diff and the change records (issue 16) come from one
    pass and are ready before the commit that makes the version current, to be written in its
    transaction. The new values of added and changed features are kept as they pass; the old ones
    are read from the stored version. Without an id field, a removed and an added feature with the
    same geometry are one feature whose attributes changed (records only; the counts stay those
    of ``diff_versions``).
    """

    def __init__(
        self,
        store: Store,
        old: LayerRecord,
        columns: list[str],
        id_column: str | None,
        label_column: str | None,
    ):
        self.store, self.old, self.columns = store, old, columns
        old_cols = [c.name for c in old.columns]
        self.common = [c for c in columns if c in old_cols]
        self.by_id = bool(old.id_column and old.id_column == id_column)
        self.key = old.id_column if self.by_id else None
        self.label = label_column if label_column in self.common else None
        self.typed = _types(old, self.common)
        self.a = _fingerprints(store, old, self.typed, self.key, self.label)
        self.old_hash = dict(zip(self.a["key"], self.a["hash"], strict=True)) if self.by_id else {}
        self.old_count = self.a["key"].value_counts().to_dict() if not self.by_id else {}
        self.seen: dict[str, int] = {}
        self.parts: list[pd.DataFrame] = []
        self.kept: dict[str, tuple[str, dict[str, Any], bytes]] = {}  # key -> (feature id, values, WKB)
        self.count = 0

    def add(self, frame: gpd.GeoDataFrame) -> None:
        """Take one chunk as the writer does (its features get the next fids)."""
        if frame.empty:
            return
        fp = _fingerprint(frame, self.typed, self.key, self.label)
        self.parts.append(fp)
        keys, keep = self._new_keys(fp)
        rows = frame.iloc[keep]
        wkbs = shapely.to_wkb(rows.geometry.to_numpy())
        values = rows[self.columns].astype(object).to_dict("records")
        ids = rows[self.key].astype(str).tolist() if self.key else [str(self.count + i + 1) for i in keep]
        for pos, i in enumerate(keep):
            self.kept[keys[i]] = (ids[pos], {k: _plain(v) for k, v in values[pos].items()}, wkbs[pos])
        self.count += len(frame)

    def _new_keys(self, fp: pd.DataFrame) -> tuple[list[str], list[int]]:
        """The diff keys of a chunk's features and which of them are new or changed."""
        if self.by_id:
            keys = list(fp["key"])
            hashes = zip(keys, fp["hash"], strict=True)
            return keys, [i for i, (k, h) in enumerate(hashes) if self.old_hash.get(k) != h]
        keys, keep = [], []
        for i, k in enumerate(fp["key"]):
            n = self.seen.get(k, 0)
            self.seen[k] = n + 1
            keys.append(f"{k}#{n}")
            if n >= self.old_count.get(k, 0):
                keep.append(i)
        return keys, keep

    def finish(self, version: int, cause: str, at: str) -> tuple[dict[str, Any], list[ChangeRecord]]:
        """The report's diff and the change records of the new version ``version``."""
        b = _concat(self.parts)
        added, removed, changed, unchanged = _compare(self.a, b, self.by_id)
        summary = _summary(self.old, version, self.columns, self.by_id, added, removed, changed, unchanged)
        make = _RecordMaker(self.old.layer_id, version, cause, at)
        before = self._old_features({*removed["fid_old"], *changed["fid_old"]})
        new = [self.kept[k] for k in added["key"]]
        gone = [before[fid] for fid in removed["fid_old"]]
        records = [
            make.modified(before[fid], self.kept[k])
            for k, fid in zip(changed["key"], changed["fid_old"], strict=True)
        ]
        if not self.by_id:
            pairs, new, gone = _same_places(new, gone)
            records += [make.modified(o, n) for o, n in pairs]
        records += [make.added(n) for n in new] + [make.removed(o) for o in gone]
        summary["examples"]["changed"] = (
            [
                {
                    "id": r.feature_id,
                    "fields": {k: list(v) for k, v in r.fields.items() if k in self.common},
                    "geometry": r.geometry_changed,
                }
                for r in records[: len(changed)][:EXAMPLES]
            ]
            if self.by_id
            else []
        )
        return summary, records

    def _old_features(self, fids: set) -> dict[Any, tuple[str, dict[str, Any], bytes]]:
        """fid -> (feature id, values, WKB) of these features of the old version, in one pass
        over it (not one read per feature)."""
        found: dict[Any, tuple[str, dict[str, Any], bytes]] = {}
        if not fids:
            return found
        wanted = pd.Index(list(fids))
        for frame in self.store.iter_frames(self.old):
            rows = frame[frame.index.isin(wanted)]
            if rows.empty:
                continue
            names = [c.name for c in self.old.columns]
            values = rows[names].astype(object).to_dict("records")
            ids = rows[self.key].astype(str).tolist() if self.key else [str(f) for f in rows.index]
            wkbs = shapely.to_wkb(rows.geometry.to_numpy())
            for fid, feature_id, row, wkb in zip(rows.index, ids, values, wkbs, strict=True):
                found[fid] = (feature_id, {k: _plain(v) for k, v in row.items()}, wkb)
        return found


def _same_places(new: list, gone: list) -> tuple[list, list, list]:
    """Removed and added features of a layer without ids that share a geometry: pairs, and the rest."""
    waiting: dict[bytes, list] = {}
    for feature in gone:
        waiting.setdefault(_norm_wkb(feature[2]), []).append(feature)
    pairs, rest = [], []
    for feature in new:
        match = waiting.get(_norm_wkb(feature[2]))
        if match:
            pairs.append((match.pop(0), feature))
        else:
            rest.append(feature)
    left = [f for group in waiting.values() for f in group]
    return pairs, rest, left


def _norm_wkb(wkb: bytes) -> bytes:
    return shapely.to_wkb(shapely.from_wkb(wkb), byte_order=1)


def _same_wkb(a: bytes, b: bytes) -> bool:
    return a == b or _norm_wkb(a) == _norm_wkb(b)


class _RecordMaker:
    """Change records of one version switch."""

    def __init__(self, layer_id: str, version: int, cause: str, at: str):
        self.layer_id, self.version, self.cause, self.at = layer_id, version, cause, at

    def _record(self, kind, feature_id, fields, properties, changed, wkbs) -> ChangeRecord:
        boxes = [place(w) for w in wkbs]
        box = union(*(b for b, _ in boxes))
        return ChangeRecord(
            layer_id=self.layer_id,
            version=self.version,
            feature_id=feature_id,
            kind=kind,
            fields=fields,
            properties=properties,
            geometry_changed=changed,
            bounds=box,
            point=boxes[-1][1],
            at=self.at,
            cause=self.cause,
        )

    def added(self, new: tuple) -> ChangeRecord:
        feature_id, values, wkb = new
        return self._record("added", feature_id, field_changes(None, values), values, True, [wkb])

    def removed(self, old: tuple) -> ChangeRecord:
        feature_id, values, wkb = old
        return self._record("removed", feature_id, field_changes(values, None), values, True, [wkb])

    def modified(self, old: tuple, new: tuple) -> ChangeRecord:
        fields = {k: (old[1].get(k), v) for k, v in new[1].items() if not _same(old[1].get(k), v)}
        moved = not _same_wkb(old[2], new[2])
        wkbs = [old[2], new[2]] if moved else [new[2]]
        return self._record("modified", new[0], fields, new[1], moved, wkbs)
