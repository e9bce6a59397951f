"""Write a Cloud Optimized GeoTIFF with GDAL's COG driver (through rasterio), and check it.

512 x 512 internal tiles, overviews down to one tile, lossless compression with a predictor,
the no-data value kept. A target CRS (only where the definition asks) is applied by the COG
driver itself (TARGET_SRS: GDAL's warper, by blocks), with the definition's resampling.
"""

from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError

from etl.formats import FormatError

BLOCK = 512
_RESAMPLING = {
    "nearest": "NEAREST",
    "bilinear": "BILINEAR",
    "cubic": "CUBIC",
    "average": "AVERAGE",
    "mode": "MODE",
}


def options(resampling: str, compression: str = "DEFLATE", target_crs: str | None = None) -> dict[str, str]:
    """The COG driver's creation options for a layer."""
    opts = {
        "BLOCKSIZE": str(BLOCK),
        "COMPRESS": compression,
        "PREDICTOR": "YES",  # 2 (horizontal) for integers, 3 (floating point) for floats
        "OVERVIEWS": "AUTO",
        "OVERVIEW_RESAMPLING": _RESAMPLING[resampling],
        "BIGTIFF": "IF_SAFER",
        "NUM_THREADS": "ALL_CPUS",
    }
    if target_crs:
        opts.update({"TARGET_SRS": target_crs, "RESAMPLING": _RESAMPLING[resampling]})
    return opts


def write(source: Path, target: Path, opts: dict[str, str], label: str, cache_mb: int) -> None:
    """Copy ``source`` (the mosaic VRT) into a COG at ``target``."""
    try:
        with rasterio.Env(GDAL_CACHEMAX=cache_mb):
            rasterio.shutil.copy(source, target, driver="COG", **opts)
    except RasterioError as err:
        raise FormatError(
            f"{label}: cannot write the COG ({err}); the source is truncated or corrupt"
        ) from None


def check(path: Path) -> dict[str, object]:
    """What makes the file a COG: tiling, overviews, compression, layout; FormatError if not."""
    with rasterio.open(path) as ds:
        structure = ds.tags(ns="IMAGE_STRUCTURE")
        found = {
            "layout": structure.get("LAYOUT"),
            "tiled": ds.profile.get("tiled", False),
            "block": list(ds.block_shapes[0]),
            "overviews": ds.overviews(1),
            "compression": structure.get("COMPRESSION"),
            "predictor": structure.get("PREDICTOR"),
        }
    small = max(found["block"]) >= max(ds.width, ds.height)
    if found["layout"] != "COG" or not found["tiled"] or (not found["overviews"] and not small):
        raise FormatError(f"{path.name}: GDAL did not write a valid COG: {found}")
    return found
