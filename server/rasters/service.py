"""The raster layers of one audience behind its routes: lookup, tile cache, and the reads.

Rendered map tiles are kept in this process's memory (least recently used out past a budget)
and on disk under ``<data dir>/cache/raster-tiles/<layer>-<key>/`` (shared by every worker
process and kept across restarts), keyed by the layer version, its file's checksum and the
style's key, so a kept tile is never stale: a new version or a rollback changes the key, and
the next snapshot serves it. The directories of a layer's other keys are removed when a new
key is first written (a rollback renders its tiles again).
"""

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from server.rasters import render
from server.rasters.published import PublishedRaster
from server.snapshot import Snapshots
from tsukuba_gis.errors import NotFound
from tsukuba_gis.layerdef import Access
from tsukuba_gis.tiles.memory import TileMemory

MEMORY_BYTES = 64 * 1024 * 1024
# Threads that render tiles, per process: each keeps its own datasets and warped VRTs (~0.1 s
# to open on a big COG) and GDAL's block cache is per handle, so a few busy threads beat the
# 40 of the default pool (measured on bench/raster_serve.py: fewer handles, warmer caches).
RENDER_THREADS = 2
NOT_FOUND = "Collection not found"  # pygeoapi's words: an internal id answers like an unknown one


class RasterService:
    """The rasters of one audience over the snapshots.

    Attributes:
        audience: "public" or "internal".
        base_url: the audience's OGC API URL (``.../api``), for links.
    """

    def __init__(self, snapshots: Snapshots, audience: Access, base_url: str):
        self.snapshots, self.audience, self.base_url = snapshots, audience, base_url
        self._memory = TileMemory(MEMORY_BYTES, largest=MEMORY_BYTES // 8)
        self._pool = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="raster")
        self._cache = snapshots.settings.data_dir / "cache" / "raster-tiles"
        self._written: set[str] = set()

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run a raster read in the render threads (the event loop stays free)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)

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

    def _path(self, raster: PublishedRaster, fmt: str, z: int, x: int, y: int) -> Path:
        return self._cache / f"{raster.id}-{raster.key}" / fmt / str(z) / str(x) / str(y)

    def kept_tile(self, raster: PublishedRaster, fmt: str, z: int, x: int, y: int) -> bytes | None:
        """A tile rendered before by this process (memory) or any worker (disk), or None."""
        key = (raster.id, raster.key, fmt, z, x, y)
        data = self._memory.get(key)
        if data is None:
            try:
                data = self._path(raster, fmt, z, x, y).read_bytes()
            except OSError:
                return None
            self._memory.put(key, data)
        return data

    def tile(self, raster: PublishedRaster, fmt: str, z: int, x: int, y: int) -> bytes:
        """The map tile, rendered once per version, then kept (memory and disk)."""
        data = self.kept_tile(raster, fmt, z, x, y)
        if data is None:
            data = render.render(raster, z, x, y, fmt)
            self._memory.put((raster.id, raster.key, fmt, z, x, y), data)
            self._keep(raster, self._path(raster, fmt, z, x, y), data)
        return data

    def _keep(self, raster: PublishedRaster, path: Path, data: bytes) -> None:
        """Write a tile atomically; a layer's first tile of a new key drops its older keys."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tile-")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except OSError:  # a full or read-only disk: the tile is still served from memory
            return
        current = f"{raster.id}-{raster.key}"
        if current not in self._written:
            self._written.add(current)
            for old in self._cache.glob(f"{raster.id}-r*"):
                if old.name != current:
                    shutil.rmtree(old, ignore_errors=True)
