"""Pre-build the vector tiles of a layer version at ETL, in the store that serves them.

The rules are the core's (``tsukuba_gis.tiles.rules``); each store keeps its tiles its own way
(``Store.publish_tiles``: MBTiles next to a GeoPackage, the shared cache table on PostGIS).
"""

import time
from typing import Any

from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store
from tsukuba_gis.tiles.rules import tile_specs


def publish(settings: Settings, store: Store, layer: LayerDef, record: LayerRecord) -> dict[str, Any]:
    """Pre-build every tile set (one per audience whose tiles differ) of one layer version."""
    specs = tile_specs(layer, record)
    started = time.monotonic()
    built = store.publish_tiles(record, specs)
    if not built:
        return {"status": "unchanged", "version": record.version}
    spec = specs[0]
    return {
        "status": "published",
        "version": record.version,
        "variants": built,
        "zooms": [spec.minzoom, spec.maxzoom],
        "duration_s": round(time.monotonic() - started, 3),
    }
