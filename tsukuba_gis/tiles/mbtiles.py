"""Tile sets encoded by GDAL's MVT driver into MBTiles files: the tiles pre-built at ETL.

The GeoPackage store serves these files as they are; the PostGIS store copies their tiles into
its shared cache table. Both follow the rules of ``tsukuba_gis.tiles.rules``.
"""

import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyogrio

from tsukuba_gis.store.base import LayerRecord, TileSpec
from tsukuba_gis.tiles.rules import BUFFER, EXTENT, MAX_FEATURES, MAX_SIZE, tolerance_units

if TYPE_CHECKING:
    from tsukuba_gis.store.base import Store


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


def build_mbtiles(store: "Store", record: LayerRecord, spec: TileSpec, path: Path) -> Path:
    """Encode every tile of a tile set with GDAL into ``path`` (written aside, then renamed)."""
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
