"""The open-data downloads on disk and the manifest that describes them: written by the ETL
(``etl.publish``), read by the server (``server.opendata``).

Layout under the data directory::

    opendata/<layer>/manifest.json        the current set: version, files, sizes, SHA-256
    opendata/<layer>/v<version>-<key>/    the files of that set (the previous set is kept
                                          until the next publish, for downloads in flight)
    opendata/records.json                 OGC API - Records of every published layer (TinyDB)

The manifest is replaced atomically after its directory is complete, so a reader never sees a
half-written set. The server serves only files a manifest lists, of layers public right now.
"""

import json
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
RECORDS = "records.json"


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
