"""Writing the open-data files: atomic JSON, and the layers that have a manifest to list.

The layout and the reading side are the core's (``tsukuba_gis.opendata``).
"""

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tsukuba_gis.catalog import Catalog
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.opendata import MANIFEST, RECORDS, layer_dir, opendata_dir, read_manifest

__all__ = [
    "MANIFEST",
    "RECORDS",
    "layer_dir",
    "opendata_dir",
    "published",
    "read_manifest",
    "write_json_atomic",
]


def write_json_atomic(path: Path, document: Any) -> bool:
    """Write JSON through a temp file and rename; False (untouched) when the content is the same."""
    text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the server may run as another user
    os.replace(tmp, path)
    return True


def published(data_dir: Path, catalog: Catalog) -> Iterator[tuple[LayerDef, dict[str, Any]]]:
    """Layers (vector and raster) public in the definitions right now that have a manifest, in
    catalog order.

    The definitions are the gate, not the files: a layer made internal or deleted disappears
    from every open-data listing at once, even before the ETL removes its old files.
    """
    for layer in catalog.in_order([*catalog.public_layers(), *catalog.public_rasters()]):
        manifest = read_manifest(data_dir, layer.id)
        if manifest is not None and manifest.get("layer") == layer.id:
            yield layer, manifest
