"""The synthetic sample rasters (seeded, reproducible), written by ``tools/make_samples.py``.

- ``disaster/flood_depth_sample_6677.tif``: 想定浸水深 (float32 m, 10 m cells) consistent with the
  flood sample polygons: inside a band of depth_rank r the depth lies in that rank's class
  (rank 1: 0–0.5 m, 2: 0.5–3.0 m, 3: 3.0–5.0 m); outside every band, no data.
- ``planning/dem_sample/dem_sample_6677_{nw,ne,sw,se}.tif``: a DEM of the city (30 m cells) as
  four tiles the layer mosaics: the Tsukuba upland (~20–30 m) cut by the Sakura and Kokai
  valleys (~8–12 m), rising to 筑波山 (877 m) in the north.
- ``planning/aerial_photo_sample_6677.tif``: a tiny invented RGB "aerial photograph" (1 m
  cells) near Kenkyu-gakuen, published staff-only (access: internal).

All are サンプル（架空）: invented, no real hazard or survey information.
"""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import rasterio
import shapely
from rasterio import Affine
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.transform import from_origin
from rasterio.warp import reproject

ZONE_IX = "EPSG:6677"
NODATA = -9999.0
# Depth classes of the flood sample's depth_rank (m): [low, high).
RANK_DEPTHS = {1: (0.0, 0.5), 2: (0.5, 3.0), 3: (3.0, 5.0)}
TSUKUBASAN = (24575.0, 25031.7)  # 筑波山 (male peak), EPSG:6677 easting/northing
KENKYU_GAKUEN = (22521.3, 9137.8)  # つくばエクスプレス 研究学園駅
TAGS = {"DESCRIPTION": "サンプル（架空） / SYNTHETIC SAMPLE: tools/make_samples.py"}


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], coarse: int) -> np.ndarray:
    """Values in 0..1 varying smoothly over ``coarse`` cells (a coarse grid, cubic-resampled)."""
    small = rng.random((max(shape[0] // coarse, 2) + 1, max(shape[1] // coarse, 2) + 1)).astype(np.float32)
    out = np.empty(shape, dtype=np.float32)
    reproject(
        small,
        out,
        src_transform=from_origin(0, 0, shape[1] / (small.shape[1] - 1), shape[0] / (small.shape[0] - 1)),
        dst_transform=from_origin(0, 0, 1, 1),
        src_crs=ZONE_IX,
        dst_crs=ZONE_IX,
        resampling=Resampling.cubic,
    )
    low, high = float(out.min()), float(out.max())
    return (out - low) / (high - low or 1.0)


def _write(path: Path, data: np.ndarray, transform, nodata: float | None, **profile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bands = data if data.ndim == 3 else data[None]
    options = {
        "driver": "GTiff",
        "width": bands.shape[2],
        "height": bands.shape[1],
        "count": bands.shape[0],
        "dtype": bands.dtype.name,
        "crs": ZONE_IX,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "compress": "deflate",
        **profile,
    }
    with rasterio.open(path, "w", **options) as ds:
        ds.write(bands)
        ds.update_tags(**TAGS)


def _cell_centres(transform, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices(shape)
    xs, ys = rasterio.transform.xy(transform, rows.ravel(), cols.ravel())
    return np.asarray(xs).reshape(shape), np.asarray(ys).reshape(shape)


def flood_depth(flood: gpd.GeoDataFrame, seed: int, cell: float = 10.0) -> tuple[np.ndarray, object]:
    """Depths (m, float32, NODATA outside the bands) over the flood sample's extent."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = flood.total_bounds
    left, bottom = np.floor(x0 / 100) * 100, np.floor(y0 / 100) * 100
    right, top = np.ceil(x1 / 100) * 100, np.ceil(y1 / 100) * 100
    shape = (int((top - bottom) / cell), int((right - left) / cell))
    transform = from_origin(left, top, cell, cell)
    ranks = rasterize(
        ((g, int(r)) for g, r in zip(flood.geometry, flood["浸水深ランク"], strict=True)),
        out_shape=shape,
        transform=transform,
        fill=0,
        dtype="uint8",
    )
    share = 0.04 + 0.92 * smooth_noise(rng, shape, coarse=60)  # never on a class edge
    depth = np.full(shape, NODATA, dtype=np.float32)
    for rank, (low, high) in RANK_DEPTHS.items():
        inside = ranks == rank
        depth[inside] = np.round(low + (high - low) * share[inside], 2)
    return depth, transform


def dem(city: shapely.Geometry, rivers: list[shapely.LineString], seed: int, cell: float = 30.0):
    """Elevations (m, float32) over the city's box: upland, river valleys, 筑波山."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = city.bounds
    left, bottom = np.floor(x0 / 300) * 300, np.floor(y0 / 300) * 300
    right, top = np.ceil(x1 / 300) * 300, np.ceil(y1 / 300) * 300
    shape = (int((top - bottom) / cell), int((right - left) / cell))
    transform = from_origin(left, top, cell, cell)
    xs, ys = _cell_centres(transform, shape)
    # The upland: ~30 m in the north-west sloping to ~20 m in the south-east, gently rolling.
    upland = 30 - 10 * ((xs - left) / (right - left) + (top - ys) / (top - bottom)) / 2
    upland += 3 * (smooth_noise(rng, shape, coarse=40) - 0.5)
    points = shapely.points(xs.ravel(), ys.ravel())
    distance = np.min([shapely.distance(points, r) for r in rivers], axis=0).reshape(shape)
    floor = 8 + 4 * smooth_noise(rng, shape, coarse=80)  # valley floors 8–12 m
    blend = np.clip((distance - 500) / 1200, 0, 1)  # flat floor, then the slope up to the upland
    height = floor + (upland - floor) * blend**1.5
    dx, dy = (xs - TSUKUBASAN[0]) / 1000, (ys - TSUKUBASAN[1]) / 1000
    mountain = 700 * np.exp(-(dx**2 + dy**2) / (2 * 1.1**2)) + 160 * np.exp(-(dx**2 + dy**2) / (2 * 3.0**2))
    height = np.maximum(height, mountain * 877 / (700 + 160))  # the peak at 877 m
    return np.round(height, 1).astype(np.float32), transform


def aerial_photo(seed: int, size: int = 256, cell: float = 1.0):
    """An invented RGB photograph: fields, a road grid and a few roofs (uint8, 3 bands)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((size, size))
    field = smooth_noise(rng, (size, size), coarse=32)
    red = 90 + 60 * field
    green = 120 + 70 * (1 - field)
    blue = 70 + 30 * field
    road = (rows % 96 < 8) | (cols % 112 < 7)
    roofs = ((rows // 24) % 4 == 1) & ((cols // 20) % 5 == 2)
    for band, road_value, roof_value in ((red, 150, 175), (green, 150, 90), (blue, 150, 80)):
        band[road] = road_value
        band[roofs & ~road] = roof_value
    photo = np.stack([red, green, blue]).astype(np.uint8)
    left = KENKYU_GAKUEN[0] - size * cell / 2
    top = KENKYU_GAKUEN[1] + size * cell / 2
    return photo, from_origin(left, top, cell, cell)


def write_all(sources: Path, city: shapely.Geometry, rivers: list[shapely.LineString], seed: int) -> None:
    """Write every sample raster under ``sources``."""
    flood = pyogrio.read_dataframe(sources / "disaster/flood_sample_6677.gpkg")
    depth, transform = flood_depth(flood, seed + 10)
    _write(sources / "disaster/flood_depth_sample_6677.tif", depth, transform, NODATA, predictor=3)
    heights, transform = dem(city, rivers, seed + 11)
    tiles = sources / "planning/dem_sample"
    for old in tiles.glob("*.tif"):
        old.unlink()
    half_r, half_c = heights.shape[0] // 2, heights.shape[1] // 2
    for name, (r0, r1), (c0, c1) in (
        ("nw", (0, half_r), (0, half_c)),
        ("ne", (0, half_r), (half_c, heights.shape[1])),
        ("sw", (half_r, heights.shape[0]), (0, half_c)),
        ("se", (half_r, heights.shape[0]), (half_c, heights.shape[1])),
    ):
        part = heights[r0:r1, c0:c1]
        offset = transform @ Affine.translation(c0, r0)
        _write(
            tiles / f"dem_sample_6677_{name}.tif",
            part,
            offset,
            None,
            compress="lzw",
            predictor=3,
            tiled=False,
        )
    photo, transform = aerial_photo(seed + 12)
    _write(sources / "planning/aerial_photo_sample_6677.tif", photo, transform, None, photometric="RGB")
    print(f"flood depth {depth.shape}, DEM {heights.shape} in 4 tiles, photo {photo.shape}")
