"""Find a layer's tile set and its tiles for one audience, from the store the city runs.

GeoPackage store: the MBTiles the ETL pre-built (a SQLite read per tile; the file of a version
never changes after it is renamed into place, so it is opened immutable). PostGIS store: the
database's tile cache that every server process shares (pre-filled by the ETL; ``ST_AsMVT`` on
a miss), with the hottest tiles also in this process's memory.
"""

import logging
import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from etl.publish.tiles import TileSpec, mbtiles_path, tile_spec, tolerance_units
from server.refresh import Refreshed
from server.tiles import grid
from server.tiles.builder import BackgroundBuilder
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store, scheme_of

LOG = logging.getLogger(__name__)
# PostGIS: tiles kept in each server process in front of the shared tg_tile_cache (a round
# trip and a bytea copy per tile otherwise: ~2 ms, a third of the speed of the MBTiles read).
MEMORY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class TileSet:
    """A layer's current version with its tile rules for this audience."""

    layer: LayerDef
    record: LayerRecord
    spec: TileSpec


class TileMemory:
    """The hottest tiles of this process, least recently used out past a byte budget.

    Keys carry the layer version and the rules' key, so a kept tile is never stale.
    """

    def __init__(self, budget: int):
        self.budget, self.size = budget, 0
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
            if key in self._tiles or len(tile) > self.budget // 8:
                return
            self._tiles[key] = tile
            self.size += len(tile)
            while self.size > self.budget:
                self.size -= len(self._tiles.popitem(last=False)[1])


class TilesUnavailable(RuntimeError):
    """The tiles of a layer version are not there yet (the ETL builds them)."""


class TileService:
    """The tile sets of one publication (audience) over one store.

    Attributes:
        audience: "public" or "internal": which layers and attributes tiles may carry.
        base_url: the publication's URL (``.../api``), for links.
        postgis: tiles made with ST_AsMVT (else read from the pre-built MBTiles).
    """

    def __init__(self, settings: Settings, store: Store, audience: str, base_url: str):
        self.settings, self.store, self.audience = settings, store, audience
        self.base_url = base_url
        self.postgis = scheme_of(settings.store_url) == "postgresql"
        self._sets = Refreshed(self._build, store.generation)
        self._local = threading.local()
        self._builder = BackgroundBuilder(store)
        self._memory = TileMemory(MEMORY_BYTES)

    def tilesets(self) -> dict[str, TileSet]:
        """Every tile set this audience may see, current for the registry (checked once a second)."""
        return self._sets.get()

    def _build(self) -> dict[str, TileSet]:
        catalog = cached_catalog(self.settings.layers_dir)
        sets = {}
        for record in self.store.layers():
            layer = catalog.layers.get(record.layer_id)
            spec = tile_spec(layer, record, self.audience) if layer else None
            if spec is not None:
                sets[record.layer_id] = TileSet(layer, record, spec)
        return sets

    def tile(self, tileset: TileSet, z: int, x: int, y: int) -> bytes:
        """The gzip-compressed MVT of a tile inside the set's limits (b"" when empty)."""
        if self.postgis:
            return self._postgis_tile(tileset, z, x, y)
        return self._mbtiles_tile(tileset, z, x, y)

    def _mbtiles_tile(self, tileset: TileSet, z: int, x: int, y: int) -> bytes:
        path = mbtiles_path(self.settings.data_dir, tileset.spec)
        try:
            con = self._connection(path)
        except TilesUnavailable:
            self._builder.request(tileset.record, tileset.spec, path)
            raise
        # MBTiles rows count from the bottom (TMS); OGC tileRow counts from the top.
        row = con.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        return bytes(row[0]) if row else b""

    def _connection(self, path: Path) -> sqlite3.Connection:
        cons: dict[Path, sqlite3.Connection] = getattr(self._local, "cons", None) or {}
        self._local.cons = cons
        con = cons.get(path)
        if con is None:
            if not path.is_file():
                raise TilesUnavailable(f"{path.name} is not built yet")
            if len(cons) > 64:  # old versions' files: closed, they will not be asked again
                for old in list(cons):
                    cons.pop(old).close()
            con = cons[path] = sqlite3.connect(
                f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
        return con

    def _postgis_tile(self, tileset: TileSet, z: int, x: int, y: int) -> bytes:
        spec = tileset.spec
        key = (spec.layer_id, spec.version, spec.cache_variant, z, x, y)
        tile = self._memory.get(key)
        if tile is None:
            tile = self._database_tile(tileset, key, z, x, y)
            self._memory.put(key, tile)
        return tile

    def _database_tile(self, tileset: TileSet, key: tuple, z: int, x: int, y: int) -> bytes:
        from tsukuba_gis.store.postgis_tiles import MvtRequest, render_mvt

        spec, cache = tileset.spec, self.store.tile_cache()
        cached = cache.get(*key)
        if cached is not None:
            return cached
        request = MvtRequest(
            name=spec.layer_id,
            geometry=spec.geometry,
            bounds=grid.xy_bounds(z, x, y),
            fields=spec.fields,
            tolerance=tolerance_units(spec, z),
        )
        tile = render_mvt(self.store, tileset.record, request)
        cache.put(*key, tile)
        return tile
