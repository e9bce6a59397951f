"""Tiles kept in one process's memory: the GeoPackage store's tiles re-made after live edits,
the server's hottest tiles of a store that answers over the network, its rendered raster tiles."""

import threading
from collections import OrderedDict


class TileMemory:
    """Tiles, least recently used out past a byte budget.

    Keys carry what a tile depends on (the layer version, the rules' key, an edit sequence), so
    a kept tile is never stale.

    Attributes:
        budget: the bytes kept at most.
        largest: a tile larger than this is not kept (None: any tile is), so that one tile
            cannot push out many.
    """

    def __init__(self, budget: int, largest: int | None = None):
        self.budget, self.largest, self.size = budget, largest, 0
        self._tiles: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        """A kept tile, or None."""
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def put(self, key: tuple, tile: bytes) -> None:
        """Keep a tile, dropping the least recently used ones over the budget."""
        with self._lock:
            if key in self._tiles or (self.largest is not None and len(tile) > self.largest):
                return
            self._tiles[key] = tile
            self.size += len(tile)
            while self.size > self.budget and self._tiles:
                self.size -= len(self._tiles.popitem(last=False)[1])
