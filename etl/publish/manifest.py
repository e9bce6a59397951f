"""Writing the open-data files: atomic JSON, and the layers that have a manifest to list.

The layout and the reading side are the core's (``tsukuba_gis.opendata``).
"""

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tsukuba_gis.catalog import Catalog
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.opendata import MANIFEST, RECORDS, layer_dir, opendata_dir, read_manifest

__all__ = [
    "MANIFEST",
    "RECORDS",
    "layer_dir",
    "opendata_dir",
    "published",
    "publish_summary",
    "read_manifest",
    "switch_manifest",
    "write_json_atomic",
    "write_set",
]
T = TypeVar("T")


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


def write_set(root: Path, name: str, write: Callable[[Path], T]) -> tuple[Path, T]:
    """A set of files written by ``write`` into a temp folder in ``root``, then renamed to
    ``root/name`` (a reader never sees half a set); the set's folder and what ``write`` gave."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    staging.chmod(0o755)  # mkdtemp makes it private; the server may run as another user
    try:
        written = write(staging)
        final = root / name
        if final.exists():  # a set whose manifest was never written (a killed run)
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final, written


def switch_manifest(root: Path, manifest: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Point the layer's manifest at the set ``manifest["directory"]`` and remove the older sets."""
    write_json_atomic(root / MANIFEST, manifest)
    # Keep the previous set one more round: a download that read the old manifest can finish.
    keep = {manifest["directory"], (previous or {}).get("directory")}
    for old in root.iterdir():
        if old.is_dir() and old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def publish_summary(version: int, manifest: dict[str, Any], started: float) -> dict[str, Any]:
    """What publishing a new set of ``version`` reports (``started``: its ``time.monotonic()``)."""
    return {
        "status": "published",
        "version": version,
        "files": len(manifest["files"]),
        "bytes": sum(f["size"] for f in manifest["files"]),
        "duration_s": round(time.monotonic() - started, 3),
    }


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
