"""Vector tiles of a GeoPackage store: the MBTiles files pre-built at ETL, next to the store.

Layout: ``<store directory>/tiles/<layer>/v<version>-<variant>-<key>.mbtiles``. The file of a
tile set never changes after it is renamed into place, so a server reads it opened immutable
(a microsecond SQLite read per tile, one connection per thread and file). ``rebuild`` (an
edit's tiles) writes a copy and renames it over the file: readers see the new inode and reopen.

A tile set that is missing (a tile publisher that failed, a store loaded before tiles existed,
a ``store copy --no-tiles``) is built in the background of the server process that is
asked for it; meanwhile its tiles raise ``TilesNotReady`` (503 with Retry-After). One build per
tile set across the server's processes: a ``.building`` file next to the target is taken with
O_EXCL (a stale one, over an hour old, is taken over). The build writes aside and renames.

A live edit (issue 13) never changes a file: the tiles it touched (``Store.tile_seq``) are made
again from the store on request by tippecanoe (``mbtiles.render_tile``, from the features
around the tile; ~0.16 s for a shelter's z14 tile) and kept in this process's memory under
(tile, edit sequence); every other tile still comes from the file. A
point edit touches about a dozen tiles over all zooms; re-building a whole set for each would
cost seconds to minutes (bench/README.md), for tiles the next ETL rebuilds anyway.
"""

import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tsukuba_gis.errors import TilesNotReady
from tsukuba_gis.store.base import LayerRecord, TileRows, TileSpec
from tsukuba_gis.tiles import mbtiles
from tsukuba_gis.tiles.memory import TileMemory

if TYPE_CHECKING:
    from tsukuba_gis.store.base import Store

LOG = logging.getLogger(__name__)
STALE_S = 3600
MAX_OPEN = 64  # files open per thread; older versions' files are closed past it
FRESH_BYTES = 32 * 1024 * 1024  # tiles re-made after edits, kept per process


class MBTilesSets:
    """The MBTiles tile sets of one GeoPackage store.

    Attributes:
        root: the ``tiles`` directory next to the store file.
    """

    def __init__(self, store: "Store", root: Path):
        self.store, self.root = store, root
        self._local = threading.local()
        self._lock = threading.Lock()
        self._building: set[Path] = set()
        self._fresh = TileMemory(FRESH_BYTES)

    def path(self, spec: TileSpec) -> Path:
        """The MBTiles file of one tile set."""
        return self.root / spec.layer_id / mbtiles.file_name(spec)

    def tile(self, record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
        """One gzip-compressed MVT (b"" when empty); TilesNotReady while the set is built."""
        seq = self.store.tile_seq(record, z, x, y)
        if seq:  # a live edit touched it: made from the data as it is now
            key = (spec.layer_id, spec.version, spec.cache_variant, z, x, y, seq)
            tile = self._fresh.get(key)
            if tile is None:
                tile = mbtiles.render_tile(self.store, record, spec, z, x, y)
                self._fresh.put(key, tile)
            return tile
        path = self.path(spec)
        con = self._connection(path)
        if con is None:
            self._build_later(record, spec, path)
            raise TilesNotReady(f"{path.name} is not built yet")
        # MBTiles rows count from the bottom (TMS); OGC tileRow counts from the top.
        row = con.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        return bytes(row[0]) if row else b""

    def publish(self, record: LayerRecord, specs: Sequence[TileSpec]) -> list[str]:
        """Build the missing tile sets of a version, drop old versions' files; variants built."""
        built = []
        for spec in specs:
            path = self.path(spec)
            if not path.is_file():
                mbtiles.build_mbtiles(self.store, record, spec, path)
                built.append(spec.variant)
        if specs:
            mbtiles.remove_old(self.root / record.layer_id, {self.path(s).name for s in specs})
        return built

    def tile_set(self, spec: TileSpec) -> TileRows | None:
        """Every tile of a tile set's file; None when it is not built."""
        path = self.path(spec)
        return mbtiles.read_mbtiles(path) if path.is_file() else None

    def load(self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int, bytes]]) -> int:
        """A tile set made elsewhere, written as its file (renamed over any there); how many tiles."""
        count = mbtiles.write_mbtiles(self.path(spec), spec, tiles)
        mbtiles.remove_old(self.root / record.layer_id, {self.path(spec).name})
        return count

    def rebuild(self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int]]) -> int:
        """Re-encode some tiles (the whole set when it is missing); how many were written."""
        path = self.path(spec)
        if not path.is_file():
            mbtiles.build_mbtiles(self.store, record, spec, path)
            return sum(1 for _ in mbtiles.read_mbtiles(path))
        made = mbtiles.build_tiles(self.store, record, spec, tiles, path.parent)
        staging = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        try:
            shutil.copyfile(path, staging)
            mbtiles.replace_tiles(staging, made)
            staging.chmod(0o644)
            staging.replace(path)
        finally:
            staging.unlink(missing_ok=True)
        return len(made)

    def _connection(self, path: Path) -> sqlite3.Connection | None:
        cons: dict[Path, tuple[sqlite3.Connection, int]] = getattr(self._local, "cons", None) or {}
        self._local.cons = cons
        try:
            inode = os.stat(path).st_ino  # a rebuilt file is a new inode (~1 us per tile)
        except FileNotFoundError:
            return None
        con, seen = cons.get(path, (None, 0))
        if con is not None and seen != inode:
            con.close()
            con = None
        if con is None:
            if len(cons) > MAX_OPEN:  # old versions' files: closed, they will not be asked again
                for old in list(cons):
                    cons.pop(old)[0].close()
            con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            cons[path] = (con, inode)
        return con

    def _build_later(self, record: LayerRecord, spec: TileSpec, path: Path) -> None:
        """Start at most one build per tile set per process; the lock file covers the others."""
        with self._lock:
            if path in self._building:
                return
            self._building.add(path)
        threading.Thread(
            target=self._build, args=(record, spec, path), daemon=True, name=f"tiles-{spec.layer_id}"
        ).start()

    def _build(self, record: LayerRecord, spec: TileSpec, path: Path) -> None:
        marker = path.with_name(path.name + ".building")
        try:
            if not _take(marker):
                return  # another process builds it
            try:
                if not path.is_file():
                    LOG.info(
                        "building the missing tiles of %s v%s (%s)", spec.layer_id, spec.version, spec.variant
                    )
                    mbtiles.build_mbtiles(self.store, record, spec, path)
            finally:
                marker.unlink(missing_ok=True)
        except Exception:  # logged; the next tile request tries again
            LOG.exception("building the tiles of %s v%s failed", spec.layer_id, spec.version)
        finally:
            with self._lock:
                self._building.discard(path)


def _take(marker: Path) -> bool:
    marker.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return True
        except FileExistsError:
            try:
                if time.time() - marker.stat().st_mtime < STALE_S:
                    return False
            except FileNotFoundError:
                continue
            marker.unlink(missing_ok=True)  # a build that died: take it over
    return False
