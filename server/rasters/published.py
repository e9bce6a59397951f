"""The raster layers an audience may see, each with its current version, style and tile zooms."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tsukuba_gis.catalog import Catalog
from tsukuba_gis.layerdef import Access
from tsukuba_gis.rasterdef import RasterLayerDef
from tsukuba_gis.rasterstyle import RasterStyle, style_of
from tsukuba_gis.store import RasterRecord

# Metres per pixel of a 256-pixel WebMercatorQuad tile at zoom 0 on the equator.
Z0_METRES = 156_543.033928
METRES_PER_DEGREE = 111_319.49
OVERZOOM, UNDERZOOM, MAX_ZOOM = 2, 3, 22


@dataclass(frozen=True)
class PublishedRaster:
    """A raster layer the audience may see, with its current version.

    Attributes:
        definition: the ``kind: raster`` definition.
        record: the current version in the store's registry.
        path: its COG under the raster directory.
        style: colours, classes and legend (``tsukuba_gis.rasterstyle``).
        minzoom, maxzoom: the map tiles' zoom range (native resolution + 2 levels).
    """

    definition: RasterLayerDef
    record: RasterRecord
    path: Path
    style: RasterStyle
    minzoom: int
    maxzoom: int

    @property
    def id(self) -> str:
        """The layer id (also the collection id)."""
        return self.definition.id

    @property
    def key(self) -> str:
        """Changes with anything a tile's bytes depend on: the version, its file, the style."""
        return f"r{self.record.version}-{self.record.checksum[:12]}-{self.style.key}"

    @property
    def resolution_m(self) -> float:
        """The cell size in metres (from the lon/lat box: any CRS)."""
        west, south, east, north = self.record.bbox
        lat = math.radians((south + north) / 2)
        return (east - west) * METRES_PER_DEGREE * math.cos(lat) / self.record.width


def zoom_range(record: RasterRecord) -> tuple[int, int]:
    """(minzoom, maxzoom): from where the raster fits in a few tiles to two levels past its cells."""
    west, south, east, north = record.bbox
    lat = math.radians((south + north) / 2)
    resolution = (east - west) * METRES_PER_DEGREE * math.cos(lat) / record.width
    native = math.ceil(math.log2(Z0_METRES * math.cos(lat) / max(resolution, 0.01)))
    fits = math.floor(math.log2(360 / max(east - west, north - south, 1e-9)))
    maxzoom = max(0, min(native + OVERZOOM, MAX_ZOOM))
    return max(0, min(fits - UNDERZOOM, maxzoom)), maxzoom


def publish_raster(layer: RasterLayerDef, record: RasterRecord, raster_dir: Path) -> PublishedRaster:
    """A raster layer version as the snapshot keeps it."""
    first = record.bands[0] if record.bands else None
    band_range = (first.min, first.max) if first and first.min is not None and first.max is not None else None
    minzoom, maxzoom = zoom_range(record)
    return PublishedRaster(
        layer,
        record,
        record.path(raster_dir),
        style_of(layer, record.band_count, band_range),
        minzoom,
        maxzoom,
    )


def visible_rasters(
    catalog: Catalog, records: Mapping[str, RasterRecord], audience: Access, raster_dir: Path
) -> tuple[PublishedRaster, ...]:
    """The loaded raster layers ``audience`` may see, in the one order (department order, department, id)."""
    chosen = [
        layer
        for layer in catalog.rasters.values()
        if layer.id in records and (audience == "internal" or layer.access == "public")
    ]
    return tuple(publish_raster(layer, records[layer.id], raster_dir) for layer in catalog.in_order(chosen))
