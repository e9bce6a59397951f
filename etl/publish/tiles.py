"""Vector tiles of a layer version: the rules both stores follow, and the MBTiles publisher.

The rules (which attributes a tile carries, the zoom range, the per-zoom simplification and the
size budget) are decided here once, from the layer definition and the registry record only, so
GDAL's MVT encoder (the tiles pre-built here) and ``ST_AsMVT`` (PostGIS, on a cache miss:
``tsukuba_gis.store.postgis_tiles``) make the same tile sets.

GeoPackage store: ``publish`` writes ``data/tiles/<layer>/v<version>-<variant>-<key>.mbtiles``
(a temporary file renamed into place; the previous set stays one more round for a reader that
opened it). PostGIS store: the same tiles go into the database's shared tile cache in one
transaction, so every server host serves them without a shared disk.
"""

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import morecantile
import pyogrio

from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store

LOG = logging.getLogger(__name__)
Audience = Literal["public", "internal"]

# Bump when the tiles change for the same data (new rules): every layer's tiles are rebuilt.
REVISION = 1
TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096  # tile coordinate units (1 px of a 256-px tile = 16 units)
BUFFER = 80  # units past the tile edge (5 px): strokes do not break at tile edges
SIMPLIFY = 4.0  # tolerance below maxzoom, in units: a quarter of a pixel
SIMPLIFY_MAXZOOM = 1.0  # at maxzoom, one unit: stays invisible when clients overzoom 4 levels
MAX_SIZE = 500_000  # gzip-compressed bytes per tile; over it: coarser grid, then smallest out
MIN_EXTENT = 256  # the coarsest grid tried before features are dropped
MAX_FEATURES = 200_000  # GDAL's own default: the minzoom rule keeps tiles far below it
MINZOOM_FLOOR, MAXZOOM_BASE, MAXZOOM_CAP = 8, 14, 16
DENSE_AT_MAXZOOM = 200  # average features per tile that pushes maxzoom one level up
DENSE_AT_MINZOOM = 5_000  # average features per tile below which a zoom level is worth drawing


@dataclass(frozen=True)
class TileSpec:
    """What the tiles of one layer version look like for one audience.

    Attributes:
        variant: "public" or "internal"; staff share the public tiles when they carry the same.
        fields: (name, type) of the attributes every feature carries, in order.
        id_field: the attribute holding the feature's OGC API id ("fid" when the layer has none).
        key: changes with anything the tile bytes depend on (version, rules, fields, zooms).
    """

    layer_id: str
    version: int
    variant: str
    geometry: str
    fields: tuple[tuple[str, str], ...]
    id_field: str
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float]
    key: str

    @property
    def cache_variant(self) -> str:
        """The variant with its key, for caches keyed by (layer, version, variant, z, x, y)."""
        return f"{self.variant}-{self.key}"


def tile_fields(layer: LayerDef, record: LayerRecord, audience: Audience) -> tuple[tuple[str, str], ...]:
    """Attributes chosen for display: the id, the title field and the style's category field."""
    allowed = {f.name for f in layer.fields_for(audience)}
    stored = {c.name: c.type for c in record.columns}
    wanted = [record.id_column or "fid", layer.title_field, layer.style.by]
    fields: list[tuple[str, str]] = []
    for name in wanted:
        if name == "fid" and record.id_column is None and ("fid", "integer") not in fields:
            fields.append(("fid", "integer"))
        elif name and name in allowed and name in stored and name not in dict(fields):
            fields.append((name, stored[name]))
    return tuple(fields)


def _tiles_over(bbox: tuple[float, float, float, float], z: int) -> int:
    west, south, east, north = bbox
    top_left, bottom_right = TMS.tile(west, north, z), TMS.tile(east, south, z)
    return (bottom_right.x - top_left.x + 1) * (bottom_right.y - top_left.y + 1)


def zoom_range(record: LayerRecord) -> tuple[int, int]:
    """(minzoom, maxzoom) from the layer's density; above maxzoom clients overzoom.

    maxzoom: 14 (a 0.6 m grid, one pixel at z18) unless the average tile over the layer's
    extent would still hold more than DENSE_AT_MAXZOOM features, then up to 16. minzoom: the
    first level from 8 where the average tile holds at most DENSE_AT_MINZOOM features (dense
    small features are not drawn city-wide, where they would be sub-pixel anyway).
    """
    bbox = record.bbox or (122.0, 20.0, 154.0, 46.0)
    count = max(record.feature_count, 1)
    maxzoom = MAXZOOM_BASE
    while maxzoom < MAXZOOM_CAP and count / _tiles_over(bbox, maxzoom) > DENSE_AT_MAXZOOM:
        maxzoom += 1
    minzoom = MINZOOM_FLOOR
    while minzoom < maxzoom and count / _tiles_over(bbox, minzoom) > DENSE_AT_MINZOOM:
        minzoom += 1
    return minzoom, maxzoom


def tile_spec(layer: LayerDef, record: LayerRecord, audience: Audience) -> TileSpec | None:
    """The tile set of a layer version for an audience (None: the audience may not see it)."""
    if audience == "public" and layer.access != "public":
        return None
    fields = tile_fields(layer, record, audience)
    variant = audience
    if audience == "internal" and layer.access == "public" and fields == tile_fields(layer, record, "public"):
        variant = "public"  # the same bytes: one tile set, built and cached once
    minzoom, maxzoom = zoom_range(record)
    parts = [
        REVISION,
        record.layer_id,
        record.version,
        record.source_checksum,
        variant,
        fields,
        minzoom,
        maxzoom,
        layer.geometry,
    ]
    key = hashlib.sha256(repr(parts).encode()).hexdigest()[:10]
    return TileSpec(
        record.layer_id,
        record.version,
        variant,
        layer.geometry,
        fields,
        record.id_column or "fid",
        minzoom,
        maxzoom,
        tuple(record.bbox or (122.0, 20.0, 154.0, 46.0)),
        key,
    )


def tolerance_units(spec: TileSpec, z: int) -> float:
    """Simplification tolerance at zoom z, in tile units (points are never simplified)."""
    if spec.geometry == "point":
        return 0.0
    return SIMPLIFY_MAXZOOM if z >= spec.maxzoom else SIMPLIFY


def tiles_dir(data_dir: Path, layer_id: str) -> Path:
    """Where the pre-built tile sets of one layer live."""
    return data_dir / "tiles" / layer_id


def mbtiles_path(data_dir: Path, spec: TileSpec) -> Path:
    """The MBTiles file of one tile set."""
    return tiles_dir(data_dir, spec.layer_id) / f"v{spec.version}-{spec.variant}-{spec.key}.mbtiles"


def publish(settings: Settings, store: Store, layer: LayerDef, record: LayerRecord) -> dict[str, Any]:
    """Pre-build every tile of one layer version; a report entry.

    GeoPackage store: an MBTiles file per tile set. PostGIS: the same tiles, loaded into the
    database's shared tile cache (every server host sees them, no shared disk needed); a tile
    missing there (the cache is emptied by a crash) is made on demand with ST_AsMVT.
    """
    specs = {s.variant: s for a in ("public", "internal") if (s := tile_spec(layer, record, a)) is not None}
    cache = store.tile_cache()
    started, built = time.monotonic(), []
    for spec in specs.values():
        if cache is None:
            path = mbtiles_path(settings.data_dir, spec)
            if not path.is_file():
                build_mbtiles(store, record, spec, path)
                built.append(spec.variant)
        elif not cache.prebuilt(spec.layer_id, spec.version, spec.cache_variant):
            with tempfile.TemporaryDirectory(prefix="tsukuba-gis-tiles-") as tmp:
                path = build_mbtiles(store, record, spec, Path(tmp) / "tiles.mbtiles")
                cache.put_prebuilt(spec.layer_id, spec.version, spec.cache_variant, read_mbtiles(path))
            built.append(spec.variant)
    if cache is None:
        _remove_old(
            settings.data_dir, layer.id, {mbtiles_path(settings.data_dir, s).name for s in specs.values()}
        )
    if not built:
        return {"status": "unchanged", "version": record.version}
    spec = next(iter(specs.values()))
    return {
        "status": "published",
        "version": record.version,
        "variants": built,
        "zooms": [spec.minzoom, spec.maxzoom],
        "duration_s": round(time.monotonic() - started, 3),
    }


def read_mbtiles(path: Path) -> Iterator[tuple[int, int, int, bytes]]:
    """(z, x, y, gzip-compressed MVT) of every tile of an MBTiles file, y from the top (XYZ)."""
    import sqlite3

    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for z, x, row, tile in con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
            yield z, x, (1 << z) - 1 - row, bytes(tile)
    finally:
        con.close()


def gdal_options(spec: TileSpec) -> dict[str, Any]:
    """GDAL MBTiles/MVT dataset creation options for a tile set."""
    return {
        "MINZOOM": spec.minzoom,
        "MAXZOOM": spec.maxzoom,
        "EXTENT": EXTENT,
        "BUFFER": BUFFER,
        "MAX_SIZE": MAX_SIZE,
        "MAX_FEATURES": MAX_FEATURES,
        "SIMPLIFICATION": tolerance_units(spec, spec.minzoom),
        "SIMPLIFICATION_MAX_ZOOM": tolerance_units(spec, spec.maxzoom),
        "NAME": spec.layer_id,
        "TYPE": "overlay",
        "COMPRESS": "YES",
    }


def build_mbtiles(store: Store, record: LayerRecord, spec: TileSpec, path: Path) -> Path:
    """Encode every tile of a tile set with GDAL into ``path`` (written aside, then renamed)."""
    import pandas as pd

    names = [n for n, _ in spec.fields]
    frames = []
    for chunk in store.iter_frames(record):
        if "fid" in names and "fid" not in chunk.columns:
            chunk = chunk.assign(fid=chunk.index.to_numpy())
        frames.append(chunk[names + ["geometry"]])
    frame = pd.concat(frames) if frames else None
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=".tmp-"))
    try:
        target = staging / path.name
        if frame is not None and len(frame):
            options = gdal_options(spec) | {"TEMPORARY_DB": str(staging / "work.db")}
            pyogrio.write_dataframe(
                frame, target, driver="MBTiles", layer=spec.layer_id, dataset_options=options
            )
        else:  # no features: an empty tile set is still a tile set
            _empty_mbtiles(target, spec)
        target.chmod(0o644)
        target.replace(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _empty_mbtiles(path: Path, spec: TileSpec) -> None:
    import sqlite3

    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        con.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
        )
        con.executemany(
            "INSERT INTO metadata VALUES (?, ?)",
            [
                ("name", spec.layer_id),
                ("format", "pbf"),
                ("minzoom", str(spec.minzoom)),
                ("maxzoom", str(spec.maxzoom)),
            ],
        )
    con.close()


def _remove_old(data_dir: Path, layer_id: str, keep: set[str]) -> None:
    """Drop tile sets of older versions, keeping the newest previous one for open readers."""
    directory = tiles_dir(data_dir, layer_id)
    if not directory.is_dir():
        return
    old = sorted(
        (p for p in directory.glob("v*.mbtiles") if p.name not in keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for path in old[2:]:
        path.unlink(missing_ok=True)
    for leftover in directory.glob(".tmp-*"):  # a killed build
        if time.time() - leftover.stat().st_mtime > 3600:
            shutil.rmtree(leftover, ignore_errors=True)
