"""What a new version of a layer changes: added, removed and changed features, and which.

Features are matched by the layer's ``id_field`` when it has one; otherwise by a hash of
geometry and attributes, so an edited feature shows as one removed and one added (there is
no way to tell an edit from a replacement without an id). Each version is streamed from the
store in chunks and reduced to one row per feature (key, content hash, label).
"""

from typing import Any

import pandas as pd
import shapely

from tsukuba_gis.errors import LayerNotFound
from tsukuba_gis.store import LayerRecord, Store

EXAMPLES = 20


def _fingerprints(
    store: Store, record: LayerRecord, columns: list[str], key_column: str | None, label_column: str | None
) -> pd.DataFrame:
    """One row per feature: key, content hash (geometry + ``columns``), label."""
    parts = []
    for frame in store.iter_frames(record):
        wkb = pd.Series(shapely.to_wkb(frame.geometry.to_numpy(), hex=True), index=frame.index)
        content = pd.util.hash_pandas_object(
            pd.concat([frame[columns].astype(str), wkb.rename("_geom")], axis=1), index=False
        )
        key = frame[key_column].astype(str) if key_column else content.astype(str)
        label = (
            frame[label_column].astype(str)
            if label_column
            else pd.Series([f"fid {f}" for f in frame.index], index=frame.index)
        )
        parts.append(
            pd.DataFrame({"key": key.to_numpy(), "hash": content.to_numpy(), "label": label.to_numpy()})
        )
    if not parts:
        return pd.DataFrame({"key": [], "hash": [], "label": []})
    return pd.concat(parts, ignore_index=True)


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
    a = _fingerprints(store, old, common, key, label)
    b = _fingerprints(store, new, common, key, label)
    if not by_id:  # a multiset of contents: the same feature twice counts twice
        a["key"] = a["key"] + "#" + a.groupby("key").cumcount().astype(str)
        b["key"] = b["key"] + "#" + b.groupby("key").cumcount().astype(str)
    merged = a.merge(b, on="key", how="outer", suffixes=("_old", "_new"), indicator=True)
    added = merged[merged["_merge"] == "right_only"]
    removed = merged[merged["_merge"] == "left_only"]
    both = merged[merged["_merge"] == "both"]
    changed = both[both["hash_old"] != both["hash_new"]]
    return {
        "layer_id": layer_id,
        "from": old.version,
        "to": new.version,
        "matched_by": old.id_column if by_id else "content (geometry + attributes): no id_field",
        "added": len(added),
        "removed": len(removed),
        "changed": len(changed),
        "unchanged": len(both) - len(changed),
        "columns": {
            "added": [c for c in new_cols if c not in old_cols],
            "removed": [c for c in old_cols if c not in new_cols],
        },
        "examples": {
            "added": _labels(added, "label_new", by_id),
            "removed": _labels(removed, "label_old", by_id),
            "changed": [_field_changes(store, old, new, k, common) for k in changed["key"].head(EXAMPLES)]
            if by_id
            else [],
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
