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

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from tsukuba_gis.store.base import LayerRecord, Query, TileSpec
from tsukuba_gis.tiles.rules import BUFFER, EXTENT, MAX_FEATURES, MAX_SIZE, TMS, tolerance_units

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


def _tile_frame(store: "Store", record: LayerRecord, spec: TileSpec, z: int, x: int, y: int):
    """The features a tile carries: those within its buffer, with the tile set's fields."""
    box = TMS.bounds(x, y, z)
    margin = (box.right - box.left) * BUFFER / EXTENT * 1.5
    bbox = (box.left - margin, box.bottom - margin, box.right + margin, box.top + margin)
    names = [n for n, _ in spec.fields]
    stored = [n for n in names if n != "fid"]
    page = store.query(record, Query(bbox=bbox, select=tuple(stored), limit=MAX_FEATURES, with_count=False))
    if not page.ids:
        return None
    data = {n: [p[n] for p in page.properties] for n in stored}
    if "fid" in names:
        data["fid"] = page.ids
    return gpd.GeoDataFrame({n: data[n] for n in names}, geometry=shapely.from_wkb(page.wkb), crs="EPSG:4326")


def render_tile(store: "Store", record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
    """One tile made now from the store with GDAL's encoder and the tile set's rules (the tiles a
    live edit touched); gzip-compressed MVT, b"" when empty."""
    frame = _tile_frame(store, record, spec, z, x, y)
    if frame is None:
        return b""
    with tempfile.TemporaryDirectory(prefix="tsukuba-gis-tile-") as tmp:
        target = Path(tmp) / "tile.mbtiles"
        options = gdal_options(spec) | {
            "MINZOOM": z,
            "MAXZOOM": z,
            "SIMPLIFICATION": tolerance_units(spec, z),
            "SIMPLIFICATION_MAX_ZOOM": tolerance_units(spec, z),
            "TEMPORARY_DB": str(Path(tmp) / "work.db"),
        }
        pyogrio.write_dataframe(frame, target, driver="MBTiles", layer=spec.layer_id, dataset_options=options)
        con = sqlite3.connect(target)
        try:
            row = con.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
        finally:
            con.close()
    return bytes(row[0]) if row else b""


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
