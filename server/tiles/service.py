"""The tiles of one audience: its snapshot's tile sets, read from the store that keeps them.

The store decides where tiles come from (``Store.tile``: the MBTiles the ETL pre-built next to
a GeoPackage; the shared cache table of PostGIS, then ``ST_AsMVT``). The hottest tiles are kept
in this process's memory: from PostGIS a tile is a round trip and a bytea copy otherwise
(~2 ms, a third of the speed of the MBTiles read); from an MBTiles file a new bytes object per
request, which for a large tile glibc serves with mmap until its threshold adapts (the
400 KB z10 tile of the bench's buildings: 2,140 req/s in a fresh server's first 8 s, then
3,650; bench/README.md, "Issue 19 on 2026-12-07").
"""

from server.metrics import TILE_CACHE
from server.snapshot import Snapshots
from tsukuba_gis.layerdef import Access
from tsukuba_gis.tiles.memory import TileMemory
from tsukuba_gis.tiles.rules import TileSet

MEMORY_BYTES = 64 * 1024 * 1024


class TileService:
    """The tile sets of one audience over the snapshots' store.

    Attributes:
        audience: "public" or "internal": which layers and attributes tiles may carry.
        base_url: the audience's OGC API URL (``.../api``), for links.
        waits: the store answers over the network (tiles are read in a worker thread).
    """

    def __init__(self, snapshots: Snapshots, audience: Access, base_url: str):
        self.snapshots, self.audience, self.base_url = snapshots, audience, base_url
        self.store = snapshots.store
        self.waits = not self.store.in_process
        self._memory = TileMemory(MEMORY_BYTES, largest=MEMORY_BYTES // 8)

    def tilesets(self) -> dict[str, TileSet]:
        """Every tile set this audience may see, from its current snapshot."""
        return self.snapshots.get(self.audience).tilesets

    def tile_seq(self, tileset: TileSet, z: int, x: int, y: int) -> int:
        """The edit sequence of the last live edit that touched the tile (0: none)."""
        return self.store.tile_seq(tileset.record, z, x, y)

    def tile(self, tileset: TileSet, z: int, x: int, y: int, seq: int = 0) -> bytes:
        """The gzip-compressed MVT of a tile inside the set's limits (b"" when empty).

        ``seq``: the tile's ``tile_seq``; a live edit makes the tiles it touched anew, so kept
        copies are keyed by it.
        """
        spec = tileset.spec
        key = (spec.layer_id, spec.version, spec.cache_variant, z, x, y, seq)
        tile = self._memory.get(key)
        TILE_CACHE.labels("miss" if tile is None else "hit").inc()
        if tile is None:
            tile = self.store.tile(tileset.record, spec, z, x, y)
            self._memory.put(key, tile)
        return tile
