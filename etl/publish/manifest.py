"""Where the open-data downloads live and the manifest that describes them.

Layout under the data directory::

    opendata/<layer>/manifest.json        the current set: version, files, sizes, SHA-256
    opendata/<layer>/v<version>-<key>/    the files of that set (the previous set is kept
                                          until the next publish, for downloads in flight)
    opendata/records.json                 OGC API - Records of every published layer (TinyDB)

The manifest is replaced atomically after its directory is complete, so a reader never sees a
half-written set. The server serves only files a manifest lists, of layers public right now.
"""

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tsukuba_gis.catalog import Catalog, load_catalog
from tsukuba_gis.layerdef import LayerDef

MANIFEST = "manifest.json"
RECORDS = "records.json"


_CATALOG_CACHE: dict[Path, tuple[tuple, Catalog]] = {}


def current_catalog(layers_dir: Path) -> Catalog:
    """The layer definitions, parsed again only when a definition file changed.

    Parsing takes a tenth of a second; the open-data routes and the per-layer publisher ask
    often, and a changed, added or removed file must count at once (access may have changed).
    """
    files = sorted(layers_dir.glob("*/*.yaml"))
    signature = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    cached = _CATALOG_CACHE.get(layers_dir)
    if cached is None or cached[0] != signature:
        cached = _CATALOG_CACHE[layers_dir] = (signature, load_catalog(layers_dir))
    return cached[1]


def opendata_dir(data_dir: Path) -> Path:
    """The root of every open-data output."""
    return data_dir / "opendata"


def layer_dir(data_dir: Path, layer_id: str) -> Path:
    """The directory of one layer's downloads and manifest."""
    return opendata_dir(data_dir) / layer_id


def read_manifest(data_dir: Path, layer_id: str) -> dict[str, Any] | None:
    """A layer's manifest, or None when it was never published (or the file is unreadable)."""
    path = layer_dir(data_dir, layer_id) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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
    """Layers public in the definitions right now that have a manifest, in catalog order.

    The definitions are the gate, not the files: a layer made internal or deleted disappears
    from every open-data listing at once, even before the ETL removes its old files.
    """
    order = {d: dept.order for d, dept in catalog.departments.items()}
    layers = sorted(
        catalog.public_layers(),
        key=lambda layer: (order.get(layer.department, 999), layer.department, layer.id),
    )
    for layer in layers:
        manifest = read_manifest(data_dir, layer.id)
        if manifest is not None and manifest.get("layer") == layer.id:
            yield layer, manifest


def download_path(data_dir: Path, manifest: dict[str, Any], name: str) -> Path | None:
    """The file behind a download name of a manifest, or None when the manifest lists no such file.

    Names are looked up, never joined from the request, so no path can leave the directory.
    """
    entry = next((f for f in manifest.get("files", []) if f["name"] == name), None)
    if entry is None:
        return None
    path = layer_dir(data_dir, manifest["layer"]) / manifest["directory"] / entry["name"]
    root = opendata_dir(data_dir).resolve()
    resolved = path.resolve()
    if root not in resolved.parents or not resolved.is_file():
        return None
    return resolved
