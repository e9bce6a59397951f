"""Kept versions of a raster layer: list them, make one current again, compare two.

The same verbs as vector layers (``tsukuba-gis etl history|diff|rollback|activate``); the CLI
sends a layer here when its definition is ``kind: raster`` (or, without a definition, when
only raster versions of it are kept).
"""

from typing import Any

from etl.raster.diff import diff_rasters
from etl.raster.runner import publish_current
from etl.versions import default_pair
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.errors import LayerNotFound
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import RasterRecord, Store, open_store


def _store(settings: Settings) -> Store:
    return open_store(settings.store_url, settings.keep_versions)


def is_raster(settings: Settings, layer_id: str) -> bool:
    """True when the layer is a raster layer (by its definition, else by what the store keeps)."""
    catalog = load_catalog(settings.layers_dir)
    if layer_id in catalog.rasters:
        return True
    if layer_id in catalog.layers:
        return False
    store = _store(settings)
    return bool(store.raster_history(layer_id)) and not store.history(layer_id)


def history(settings: Settings, layer_id: str) -> list[RasterRecord]:
    """Every kept raster version, newest first; LayerNotFound when never loaded."""
    records = _store(settings).raster_history(layer_id)
    if not records:
        raise LayerNotFound(
            f"raster layer {layer_id!r} has no version in {settings.store_url};"
            f" load it with `tsukuba-gis etl {layer_id}`"
        )
    return records


def activate(settings: Settings, layer_id: str, version: int | None = None) -> RasterRecord:
    """Make a kept raster version current (default: the one before the current); then its
    open-data files are published for it."""
    records = history(settings, layer_id)
    if version is None:
        current = next((r for r in records if r.current), None)
        older = [r.version for r in records if current is None or r.version < current.version]
        if not older:
            raise LayerNotFound(
                f"raster layer {layer_id!r} keeps no version older than the current"
                f" v{current.version if current else '?'}; see `tsukuba-gis etl history {layer_id}`"
            )
        version = older[0]
    store = _store(settings)
    record = store.activate_raster(layer_id, version)
    layer = load_catalog(settings.layers_dir).rasters.get(layer_id)
    if layer is not None:  # the open-data files follow the version now served
        publish_current(settings, store, layer)
    return record


def diff(settings: Settings, layer_id: str, old: int | None = None, new: int | None = None) -> dict[str, Any]:
    """Changed cells between two kept raster versions (defaults as for vector layers)."""
    records = history(settings, layer_id)
    old, new = default_pair(records, old, new)
    return diff_rasters(_store(settings), settings.rasters_path, layer_id, old, new)
