"""The open-data publisher: downloads of the current version of every public layer.

For a public layer it writes GeoJSON, CSV (UTF-8 with BOM, and cp932), GeoPackage, a zipped
Shapefile, GeoParquet and, where the layer declares one, the Digital Agency's standard CSV,
each with size and SHA-256 in ``manifest.json`` (layout in ``etl.publish.manifest``). For an
internal layer it removes whatever an earlier, public definition left behind. It also keeps
the OGC API - Records file of the catalog in step.
"""

import hashlib
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.publish.formats import WRITERS, FormatWriter, Target, public_frame
from etl.publish.manifest import (
    layer_dir,
    publish_summary,
    read_manifest,
    switch_manifest,
    write_set,
)
from etl.publish.records import write_records
from etl.publish.standard_csv import STANDARDS, StandardCsvCp932Writer, StandardCsvWriter
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.errors import GisError
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store

LOG = logging.getLogger(__name__)

# Bump when the files change for the same data (a new format, a fixed writer): republishes all.
REVISION = 1


def publish(settings: Settings, store: Store, layer: LayerDef, record: LayerRecord) -> dict[str, Any]:
    """Write (or remove) the open-data files of one layer version; a report entry."""
    data_dir = settings.data_dir
    if layer.access != "public":
        removed = layer_dir(data_dir, layer.id).exists()
        if removed:
            shutil.rmtree(layer_dir(data_dir, layer.id))
        _refresh_records(settings)
        return {"status": "removed" if removed else "internal"}
    key = publication_key(settings, layer, record)
    manifest = read_manifest(data_dir, layer.id)
    if manifest is not None and manifest.get("key") == key and _intact(data_dir, manifest):
        _refresh_records(settings)
        return {"status": "unchanged", "version": record.version}
    started = time.monotonic()
    manifest = _publish(settings, store, layer, record, key, manifest)
    _refresh_records(settings)
    return publish_summary(record.version, manifest, started)


def publication_key(settings: Settings, layer: LayerDef, record: LayerRecord) -> str:
    """What the files depend on: the data version, the definition, the city, the writers."""
    parts = [
        str(REVISION),
        record.layer_id,
        str(record.version),
        record.source_checksum,
        record.loaded_at,
        layer.model_dump_json(),
        settings.city_code,
        settings.city_name_ja,
    ]
    if record.edit_seq:  # live edits change the data of a version (left out at 0: keys stay)
        parts.append(f"edit {record.edit_seq}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _intact(data_dir: Path, manifest: dict[str, Any]) -> bool:
    """Every file the manifest lists is there with its size (a lost file is written again)."""
    directory = layer_dir(data_dir, manifest["layer"]) / manifest.get("directory", "")
    paths = [(directory / f["name"], f["size"]) for f in manifest.get("files", [])]
    return all(path.is_file() and path.stat().st_size == size for path, size in paths)


def _publish(
    settings: Settings,
    store: Store,
    layer: LayerDef,
    record: LayerRecord,
    key: str,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    """Write the set into a temp dir, rename it into place, then switch the manifest to it."""
    root = layer_dir(settings.data_dir, layer.id)
    stored = {c.name for c in record.columns}
    target = Target(layer, tuple(f for f in layer.public_fields() if f.name in stored), record.bbox)
    final, (count, files) = write_set(
        root,
        f"v{record.version}-{key}",
        lambda staging: _write_files(staging, settings, store, target, record),
    )
    manifest = {
        "layer": layer.id,
        "version": record.version,
        "key": key,
        "directory": final.name,
        "loaded_at": record.loaded_at,
        "edit_seq": record.edit_seq,
        "edited_at": record.edited_at,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "feature_count": count,
        "geometry": layer.geometry,
        "bbox": list(record.bbox) if record.bbox else None,
        "fields": [{"name": f.name, "type": f.type, "label": f.label.model_dump()} for f in target.fields],
        "files": files,
    }
    switch_manifest(root, manifest, previous)
    return manifest


def _writers(staging: Path, settings: Settings, target: Target) -> list[FormatWriter]:
    writers = [cls(staging, target) for cls in WRITERS]
    standard = target.layer.opendata.standard
    if standard is not None:
        for cls in (StandardCsvWriter, StandardCsvCp932Writer):
            writers.append(
                cls(staging, target, STANDARDS[standard], settings.city_code, settings.city_name_ja)
            )
    return writers


def _write_files(
    staging: Path, settings: Settings, store: Store, target: Target, record: LayerRecord
) -> tuple[int, list[dict[str, Any]]]:
    """One pass over the store feeding every writer; the manifest entries of the files."""
    writers = _writers(staging, settings, target)
    count = 0
    for chunk in store.iter_frames(record):
        frame = public_frame(chunk, target)
        for writer in writers:
            writer.write(frame)
        count += len(frame)
    if count != record.feature_count:
        raise GisError(
            f"{record.layer_id} v{record.version}: read {count} features from the store,"
            f" the registry says {record.feature_count}"
        )
    return count, [_describe(writer, writer.close()) for writer in writers]


def _describe(writer: FormatWriter, extra: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(writer.path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return {
        "name": writer.name,
        "format": writer.label,
        "media_type": writer.media_type,
        "size": writer.path.stat().st_size,
        "sha256": digest.hexdigest(),
        **extra,
    }


def _refresh_records(settings: Settings) -> None:
    """Keep the catalog's records in step with the manifests and today's definitions."""
    # cached_catalog: publish runs once per layer; the definitions are parsed once per change.
    write_records(settings.data_dir, cached_catalog(settings.layers_dir))
