"""The rules of a layer version's vector tiles, which every store's encoder follows.

Which attributes a tile carries, the zoom range, the per-zoom simplification and the size
budget are decided here once, from the layer definition and the registry record only, so
tippecanoe (the tiles pre-built at ETL, ``tsukuba_gis.tiles.mbtiles``) and ``ST_AsMVT``
(PostGIS, on a cache miss: ``tsukuba_gis.store.postgis_tiles``) make the same tile sets.

The first zoom is the layer definition's choice (``tiles.minzoom``), never a consequence of
density: where a tile would hold too much, tippecanoe thins and merges (tiny polygons
coalesced into pixel-sized ones, the densest features dropped as needed) to stay within the
size budget, so a viewer zooming out never meets a hole. Each store serves them through
``Store.tile`` and pre-builds them with ``Store.publish_tiles``.
"""

import hashlib
from dataclasses import dataclass

import morecantile

from tsukuba_gis.layerdef import Access, LayerDef
from tsukuba_gis.store.base import LayerRecord, TileSpec

__all__ = ["TileSet", "TileSpec", "tile_fields", "tile_spec", "tolerance_units", "zoom_range"]

# Bump when the tiles change for the same data (new rules): every layer's tiles are rebuilt.
REVISION = 2  # 2: tippecanoe, overview tiles down to the definition's minzoom
TMS = morecantile.tms.get("WebMercatorQuad")
EXTENT = 4096  # tile coordinate units (1 px of a 256-px tile = 16 units)
BUFFER = 80  # units past the tile edge (5 px): strokes do not break at tile edges
SIMPLIFY = 4.0  # tolerance below maxzoom, in units: a quarter of a pixel
SIMPLIFY_MAXZOOM = 1.0  # at maxzoom, one unit: stays invisible when clients overzoom 4 levels
MAX_SIZE = 500_000  # gzip-compressed bytes per tile; over it: coarser grid, then smallest out
MIN_EXTENT = 256  # the coarsest grid tried before features are dropped
MAX_FEATURES = 200_000  # per tile; over it the densest are dropped
MAXZOOM_BASE, MAXZOOM_CAP = 14, 16
MINZOOM_FLOOR = 0  # the lowest tiles.minzoom a definition may choose (TilesDef.minzoom ge=0)
DENSE_AT_MAXZOOM = 200  # average features per tile that pushes maxzoom one level up


@dataclass(frozen=True)
class TileSet:
    """A layer's current version with its tile rules for one audience."""

    layer: LayerDef
    record: LayerRecord
    spec: TileSpec


def tile_fields(layer: LayerDef, record: LayerRecord, audience: Access) -> tuple[tuple[str, str], ...]:
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


def zoom_range(layer: LayerDef, record: LayerRecord) -> tuple[int, int]:
    """(minzoom, maxzoom); above maxzoom clients overzoom.

    minzoom: the layer definition's (``tiles.minzoom``, 8 unless it says otherwise). maxzoom:
    14 (a 0.6 m grid, one pixel at z18) unless the average tile over the layer's extent would
    still hold more than DENSE_AT_MAXZOOM features, then up to 16 (never below minzoom).
    """
    bbox = record.bbox or (122.0, 20.0, 154.0, 46.0)
    count = max(record.feature_count, 1)
    maxzoom = MAXZOOM_BASE
    while maxzoom < MAXZOOM_CAP and count / _tiles_over(bbox, maxzoom) > DENSE_AT_MAXZOOM:
        maxzoom += 1
    minzoom = layer.tiles.minzoom
    return minzoom, max(minzoom, maxzoom)


def tile_spec(layer: LayerDef, record: LayerRecord, audience: Access) -> TileSpec | None:
    """The tile set of a layer version for an audience (None: the audience may not see it)."""
    if audience == "public" and layer.access != "public":
        return None
    fields = tile_fields(layer, record, audience)
    variant = audience
    if audience == "internal" and layer.access == "public" and fields == tile_fields(layer, record, "public"):
        variant = "public"  # the same bytes: one tile set, built and cached once
    minzoom, maxzoom = zoom_range(layer, record)
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


def tile_specs(layer: LayerDef, record: LayerRecord) -> list[TileSpec]:
    """The tile sets a layer version has: one per audience whose tiles differ (public first)."""
    specs = {s.variant: s for a in ("public", "internal") if (s := tile_spec(layer, record, a)) is not None}
    return list(specs.values())


def tolerance_units(spec: TileSpec, z: int) -> float:
    """Simplification tolerance at zoom z, in tile units (points are never simplified)."""
    if spec.geometry == "point":
        return 0.0
    return SIMPLIFY_MAXZOOM if z >= spec.maxzoom else SIMPLIFY
