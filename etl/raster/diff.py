"""What a new version of a raster layer changes: changed cells, their area, the largest change.

Both COGs are read strip by strip (memory flat). When the grids differ (another extent, cell
size or CRS) the old version is resampled onto the new grid (nearest: values are compared,
not invented) and the diff says so. A cell changed when its value differs in any band, or it
gained or lost its value (no data on one side only).
"""

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import CRS, Geod, Transformer
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from etl.raster.stats import strips
from tsukuba_gis.errors import LayerNotFound
from tsukuba_gis.store import RasterRecord, Store


def _record(store: Store, layer_id: str, version: int) -> RasterRecord:
    record = store.raster_version(layer_id, version)
    if record is None:
        kept = [r.version for r in store.raster_history(layer_id)]
        raise LayerNotFound(
            f"raster layer {layer_id!r} has no version {version} (kept: {kept});"
            " see `tsukuba-gis etl history`"
        )
    return record


def row_areas(crs, transform, width: int, height: int) -> np.ndarray:
    """The area in m² of one cell of each row (ellipsoidal, GRS80)."""
    proj = CRS.from_wkt(crs.to_wkt())
    units = {a.unit_name for a in proj.axis_info}
    if proj.is_projected and units <= {"metre", "meter"} and "Mercator" not in proj.name:
        return np.full(height, abs(transform.a * transform.e))
    to_lonlat = Transformer.from_crs(proj, "EPSG:4326", always_xy=True)
    geod = Geod(ellps="GRS80")
    col = width // 2
    areas = np.empty(height)
    for row in range(height):
        corners = [transform @ (col + dx, row + dy) for dx, dy in ((0, 0), (1, 0), (1, 1), (0, 1))]
        lons, lats = to_lonlat.transform([c[0] for c in corners], [c[1] for c in corners])
        areas[row] = abs(geod.polygon_area_perimeter(lons, lats)[0])
    return areas


class _Tally:
    """Running counts over the strips."""

    def __init__(self):
        self.changed = self.appeared = self.disappeared = self.same = 0
        self.area = 0.0
        self.largest: dict[str, Any] | None = None

    def add(self, old: np.ndarray, new: np.ndarray, ok_old, ok_new, areas: np.ndarray, top: int) -> None:
        both = ok_old & ok_new
        differs = both & (old != new)
        changed = (ok_old != ok_new).any(axis=0) | differs.any(axis=0)
        self.changed += int(changed.sum())
        self.appeared += int((~ok_old[0] & ok_new[0]).sum())
        self.disappeared += int((ok_old[0] & ~ok_new[0]).sum())
        self.same += int((both.all(axis=0) & ~changed).sum())
        self.area += float((changed.sum(axis=1) * areas[top : top + changed.shape[0]]).sum())
        if differs.any():
            delta = np.where(differs, np.abs(new.astype(np.float64) - old.astype(np.float64)), -1.0)
            band, row, col = np.unravel_index(int(np.argmax(delta)), delta.shape)
            if self.largest is None or delta[band, row, col] > self.largest["delta"]:
                self.largest = {
                    "band": int(band) + 1,
                    "old": float(old[band, row, col]),
                    "new": float(new[band, row, col]),
                    "delta": float(delta[band, row, col]),
                    "row": int(top + row),
                    "col": int(col),
                }


def _valid(data: np.ndarray, nodata) -> np.ndarray:
    mask = np.ones(data.shape, bool) if nodata is None else data != nodata
    return mask & np.isfinite(data) if data.dtype.kind == "f" else mask


def _compare(old_path: Path, new_path: Path) -> tuple[_Tally, bool]:
    with rasterio.open(new_path) as new, rasterio.open(old_path) as old_file:
        same_grid = (old_file.crs, old_file.transform, old_file.shape) == (new.crs, new.transform, new.shape)
        old = old_file
        if not same_grid:
            old = WarpedVRT(
                old_file,
                crs=new.crs,
                transform=new.transform,
                width=new.width,
                height=new.height,
                resampling=Resampling.nearest,
                nodata=old_file.nodata,
            )
        areas = row_areas(new.crs, new.transform, new.width, new.height)
        tally = _Tally()
        itemsize = np.dtype(new.dtypes[0]).itemsize
        for window in strips(new.width, new.height, new.count, itemsize * 2, new.block_shapes[0][0]):
            a, b = old.read(window=window), new.read(window=window)
            if a.shape != b.shape:  # another band count: compare the bands both have
                n = min(a.shape[0], b.shape[0])
                a, b = a[:n], b[:n]
            tally.add(a, b, _valid(a, old.nodata), _valid(b, new.nodata), areas, window.row_off)
        if tally.largest:
            x, y = new.transform @ (tally.largest["col"] + 0.5, tally.largest["row"] + 0.5)
            lon, lat = Transformer.from_crs(new.crs, "EPSG:4326", always_xy=True).transform(x, y)
            tally.largest.update({"x": x, "y": y, "lon": round(lon, 6), "lat": round(lat, 6)})
        if old is not old_file:
            old.close()
        return tally, same_grid


def diff_rasters(store: Store, raster_dir: Path, layer_id: str, old_version: int, new_version: int) -> dict:
    """Changed cells, changed area (m²) and the largest change between two kept versions.

    Examples
    --------
    >>> diff_rasters(store, settings.rasters_path, "flood_depth_sample", 1, 2)["changed_cells"]
    1200
    """
    old, new = _record(store, layer_id, old_version), _record(store, layer_id, new_version)
    tally, same_grid = _compare(old.path(raster_dir), new.path(raster_dir))
    return {
        "kind": "raster",
        "layer_id": layer_id,
        "from": old.version,
        "to": new.version,
        "grid": "same" if same_grid else "differs: the old version resampled (nearest) onto the new grid",
        "changed_cells": tally.changed,
        "changed_area_m2": round(tally.area, 1),
        "unchanged_cells": tally.same,
        "appeared_cells": tally.appeared,
        "disappeared_cells": tally.disappeared,
        "largest_change": tally.largest,
        "checksum_changed": old.checksum != new.checksum,
    }
