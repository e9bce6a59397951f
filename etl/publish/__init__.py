"""Steps that run after a layer version is current: files derived from it (open data, tiles).

Each publisher is ``publish(settings, store, layer, record) -> dict`` (a report entry), must be
idempotent (do nothing when its output for ``record.version`` exists) and must write its
output atomically. They run for loaded and for unchanged layers, so a lost output comes back.
"""

import importlib
import logging
from collections.abc import Callable
from typing import Any

from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store

LOG = logging.getLogger(__name__)

Publisher = Callable[[Settings, Store, LayerDef, LayerRecord], dict[str, Any]]

# "module:function", in the order they run.
PUBLISHERS: list[str] = [
    "etl.publish.opendata:publish",
    "etl.publish.tiles:publish",
]


def _load(target: str) -> Publisher:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def publish(settings: Settings, store: Store, layer: LayerDef, record: LayerRecord) -> list[dict[str, Any]]:
    """Run every publisher for one layer version; a failure is reported, not raised."""
    results = []
    for target in PUBLISHERS:
        try:
            results.append({"publisher": target, **_load(target)(settings, store, layer, record)})
        except Exception as err:  # a derived file must not undo or hide a successful load
            LOG.exception("publisher %s failed for %s", target, layer.id)
            results.append({"publisher": target, "error": f"{type(err).__name__}: {err}"})
    return results
