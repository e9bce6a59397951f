"""Kept versions of a layer: list them, make one current again, compare two.

The store keeps ``keep_versions`` versions per layer. Activating one is a single registry
transaction (readers switch at once); the files derived from the current version (the
quarantine and every publisher) are then written for the version that is now current.
"""

import getpass
from typing import Any

from etl.diff import VersionDiff, diff_versions
from etl.pipeline import run_id
from etl.publish import publish
from etl.quarantine import publish_rejects
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.edits import now_jst
from tsukuba_gis.errors import LayerNotFound
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store, open_store
from tsukuba_gis.store.base import Change, ChangeRecord, Editor, EditResult
from tsukuba_gis.store.editing import now_utc


def _store(settings: Settings) -> Store:
    store = open_store(settings.store_url, settings.keep_versions)
    store.migrate()  # a store from before live edits gets their tables (a no-op otherwise)
    return store


def publish_current(settings: Settings, store: Store, layer: LayerDef) -> list[dict[str, Any]]:
    """Derived files of the layer's current version: its quarantine files, then publishers."""
    record = store.current(layer.id)
    results = [
        {"publisher": "etl.quarantine:publish_rejects", **publish_rejects(settings, store, layer, record)}
    ]
    return results + publish(settings, store, layer, record)


def history(settings: Settings, layer_id: str) -> list[LayerRecord]:
    """Every kept version, newest first; LayerNotFound when the layer was never loaded."""
    records = _store(settings).history(layer_id)
    if not records:
        raise LayerNotFound(
            f"layer {layer_id!r} has no version in {settings.store_url};"
            f" load it with `tsukuba-gis etl {layer_id}`"
        )
    return records


def _previous(records: list[LayerRecord], layer_id: str) -> int:
    current = next((r for r in records if r.current), None)
    older = [r.version for r in records if current is None or r.version < current.version]
    if not older:
        raise LayerNotFound(
            f"layer {layer_id!r} keeps no version older than the current"
            f" v{current.version if current else '?'}; see `tsukuba-gis etl"
            f" history {layer_id}`"
        )
    return older[0]


def activate(
    settings: Settings, layer_id: str, version: int | None = None
) -> tuple[LayerRecord, list[dict[str, Any]]]:
    """Make a kept version current (default: the one before the current); then publish it.

    Returns the new current record and the publishers' results.
    """
    store = _store(settings)
    records = history(settings, layer_id)
    target = _previous(records, layer_id) if version is None else version
    layer = load_catalog(settings.layers_dir).layers.get(layer_id)
    changes = _switch_records(store, records, target, layer.title_field if layer else None)
    record = store.activate(layer_id, target, changes)
    store.prune_change_records(settings.changes_keep_days)
    if layer is None:  # the definition is gone: the version is served, nothing to derive
        return record, [{"error": f"no layer definition {layer_id!r}: derived files not updated"}]
    return record, publish_current(settings, store, layer)


def _switch_records(
    store: Store, records: list[LayerRecord], target: int, title_field: str | None
) -> list[ChangeRecord]:
    """The change records of making ``target`` current: what it changes against the current
    version, by the ETL's own comparison (etl/diff.py)."""
    current = next((r for r in records if r.current), None)
    new = next((r for r in records if r.version == target), None)
    if current is None or new is None or current.version == target:
        return []
    diff = VersionDiff(store, current, [c.name for c in new.columns], new.id_column, title_field)
    for frame in store.iter_frames(new):
        diff.add(frame)
    return diff.finish(target, f"etl:rollback-{run_id()}", now_utc())[1]


def default_pair(records: list[LayerRecord], old: int | None, new: int | None) -> tuple[int, int]:
    """Versions to compare when not given: newest vs current, else current vs the one before.

    After ``etl --dry-run`` the newest version is staged, so the default diff shows what
    publishing it would change; after a normal load it shows what the load changed.
    """
    current = next((r.version for r in records if r.current), records[0].version)
    if new is None:
        new = records[0].version
    if old is None:
        if new != current:
            old = current
        else:
            older = [r.version for r in records if r.version < new]
            if not older:
                raise LayerNotFound(
                    f"only one version of {records[0].layer_id!r} is kept: nothing to compare with"
                )
            old = older[0]
    return old, new


def diff(settings: Settings, layer_id: str, old: int | None = None, new: int | None = None) -> dict[str, Any]:
    """Added / removed / changed features between two kept versions (see ``default_pair``)."""
    records = history(settings, layer_id)
    old, new = default_pair(records, old, new)
    layer = load_catalog(settings.layers_dir).layers.get(layer_id)
    title = layer.title_field if layer else None
    return diff_versions(_store(settings), layer_id, old, new, title)


def changes(
    settings: Settings, layer_id: str, limit: int = 20, feature_id: str | None = None
) -> list[Change]:
    """The last ``limit`` live edits of a layer (all its versions), oldest first."""
    store = _store(settings)
    found: list[Change] = []
    after = 0
    while batch := store.changes(layer_id, after=after, feature_id=feature_id, limit=5000):
        found = (found + batch)[-limit:] if limit else found + batch
        after = batch[-1].id
    return found


def revert(settings: Settings, change_id: int, user: str | None = None) -> EditResult:
    """Undo one live edit with a new, recorded one (by the OS user, ``via`` cli)."""
    store = _store(settings)
    change = store.change(change_id)
    if change is None:
        raise LayerNotFound(
            f"no change #{change_id} in {settings.store_url}; see `tsukuba-gis etl history LAYER`"
        )
    layer = load_catalog(settings.layers_dir).layers.get(change.layer_id)
    field = layer.editable.updated_field if layer is not None and layer.editable is not None else None
    editor = Editor(user or getpass.getuser(), None, "cli")
    return store.revert(change_id, editor, (field, now_jst()) if field else None)
