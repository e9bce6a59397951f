"""The open-data files of a public raster layer: its COG and its legend, with a manifest.

The COG is the stored version itself (hard-linked into the open-data directory when both are
on one filesystem, else copied), so a download is byte for byte what the OGC API coverage and
the map tiles read; the legend PNG comes from ``tsukuba_gis.rasterstyle``. The layout and the
atomic switch are those of the vector layers (``etl.publish.manifest``). For an internal
raster it removes whatever an earlier, public definition left behind.
"""

import hashlib
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.publish.manifest import layer_dir, publish_summary, read_manifest, switch_manifest, write_set
from etl.publish.records import write_records
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.rasterdef import RasterLayerDef
from tsukuba_gis.rasterstyle import legend_png, style_of
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import RasterRecord

# Bump when the files change for the same data (a new file, a fixed legend): republishes all.
REVISION = 1
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def publish_raster(settings: Settings, layer: RasterLayerDef, record: RasterRecord) -> dict[str, Any]:
    """Write (or remove) the open-data files of one raster version; a report entry."""
    data_dir = settings.data_dir
    if layer.access != "public":
        removed = layer_dir(data_dir, layer.id).exists()
        if removed:
            shutil.rmtree(layer_dir(data_dir, layer.id))
        write_records(data_dir, cached_catalog(settings.layers_dir))
        return {"status": "removed" if removed else "internal"}
    style = style_of(layer, record.band_count, _band_range(record))
    key = _key(settings, layer, record, style.key)
    manifest = read_manifest(data_dir, layer.id)
    if manifest is not None and manifest.get("key") == key and _intact(data_dir, manifest):
        write_records(data_dir, cached_catalog(settings.layers_dir))
        return {"status": "unchanged", "version": record.version}
    started = time.monotonic()
    manifest = _publish(settings, layer, record, key, style, manifest)
    write_records(data_dir, cached_catalog(settings.layers_dir))
    return publish_summary(record.version, manifest, started)


def _band_range(record: RasterRecord) -> tuple[float, float] | None:
    first = record.bands[0] if record.bands else None
    return (first.min, first.max) if first and first.min is not None and first.max is not None else None


def _key(settings: Settings, layer: RasterLayerDef, record: RasterRecord, style_key: str) -> str:
    parts = [str(REVISION), record.layer_id, str(record.version), record.checksum, layer.model_dump_json()]
    parts += [style_key, settings.city_code]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _intact(data_dir: Path, manifest: dict[str, Any]) -> bool:
    directory = layer_dir(data_dir, manifest["layer"]) / manifest.get("directory", "")
    return all(
        (directory / f["name"]).is_file() and (directory / f["name"]).stat().st_size == f["size"]
        for f in manifest.get("files", [])
    )


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # the same bytes, no second copy on disk
    except OSError:
        shutil.copyfile(source, target)


def _describe(path: Path, fmt: str, media_type: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return {
        "name": path.name,
        "format": fmt,
        "media_type": media_type,
        "size": path.stat().st_size,
        "sha256": digest.hexdigest(),
    }


def _write_files(staging: Path, settings: Settings, layer: RasterLayerDef, record: RasterRecord, style):
    cog = staging / f"{layer.id}.tif"
    _link_or_copy(record.path(settings.rasters_path), cog)
    files = [_describe(cog, "GeoTIFF (COG)", COG_TYPE)]
    if style.kind != "rgb":
        legend = staging / f"{layer.id}_legend.png"
        legend.write_bytes(legend_png(style))
        files.append(_describe(legend, "凡例 PNG / Legend PNG", "image/png"))
    return files


def _publish(
    settings: Settings, layer: RasterLayerDef, record: RasterRecord, key: str, style, previous
) -> dict[str, Any]:
    """Write the set into a temp dir, rename it into place, then switch the manifest to it."""
    root = layer_dir(settings.data_dir, layer.id)
    final, files = write_set(
        root,
        f"v{record.version}-{key}",
        lambda staging: _write_files(staging, settings, layer, record, style),
    )
    manifest = {
        "layer": layer.id,
        "kind": "raster",
        "version": record.version,
        "key": key,
        "directory": final.name,
        "loaded_at": record.loaded_at,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "bbox": list(record.bbox),
        "crs": record.crs,
        "width": record.width,
        "height": record.height,
        "resolution": list(record.resolution),
        "dtype": record.dtype,
        # Cells holding a value (the first band's): what a raster counts instead of features.
        "cell_count": record.bands[0].valid_count if record.bands else 0,
        "nodata": record.nodata,
        "bands": [
            {"name": b.name, "label": b.label.model_dump(), "unit": b.unit.model_dump() if b.unit else None}
            for b in layer.bands
        ],
        "legend": [{"color": e.color, "label": e.label.model_dump()} for e in style.legend()]
        if style.kind != "rgb"
        else [],
        "files": files,
    }
    switch_manifest(root, manifest, previous)
    return manifest
