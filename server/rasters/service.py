"""The raster layers of one audience behind its routes: lookup, tile cache, and the reads.

Rendered map tiles are kept in this process's memory (least recently used out past a budget),
keyed by the layer version, its file's checksum and the style's key, so a kept tile is never
stale: a new version or a rollback changes the key, and the next snapshot serves it.
"""

from server.rasters import render
from server.rasters.published import PublishedRaster
from server.snapshot import Snapshots
from server.tiles.service import TileMemory
from tsukuba_gis.errors import NotFound
from tsukuba_gis.layerdef import Access

MEMORY_BYTES = 64 * 1024 * 1024
NOT_FOUND = "Collection not found"  # pygeoapi's words: an internal id answers like an unknown one


class RasterService:
    """The rasters of one audience over the snapshots.

    Attributes:
        audience: "public" or "internal".
        base_url: the audience's OGC API URL (``.../api``), for links.
    """

    def __init__(self, snapshots: Snapshots, audience: Access, base_url: str):
        self.snapshots, self.audience, self.base_url = snapshots, audience, base_url
        self._memory = TileMemory(MEMORY_BYTES)

    @property
    def public(self) -> bool:
        """Whether the answers may be kept by shared caches."""
        return self.audience == "public"

    def raster(self, layer_id: str) -> PublishedRaster:
        """The audience's raster layer by id; NotFound (as for any unknown collection) otherwise."""
        found = self.snapshots.get(self.audience).raster(layer_id)
        if found is None:
            raise NotFound(NOT_FOUND)
        return found

    def kept_tile(self, raster: PublishedRaster, fmt: str, z: int, x: int, y: int) -> bytes | None:
        """A tile rendered before by this process, or None."""
        return self._memory.get((raster.id, raster.key, fmt, z, x, y))

    def tile(self, raster: PublishedRaster, fmt: str, z: int, x: int, y: int) -> bytes:
        """The map tile, rendered once per process and version, then kept."""
        key = (raster.id, raster.key, fmt, z, x, y)
        data = self._memory.get(key)
        if data is None:
            data = render.render(raster, z, x, y, fmt)
            self._memory.put(key, data)
        return data
