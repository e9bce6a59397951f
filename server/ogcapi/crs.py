"""OGC API - Features Part 2: the CRSs every feature collection is offered in, and the transform.

The store keeps lon/lat (CRS84). Answers can also be in EPSG:4326 and EPSG:6668 (JGD2011
geographic; both latitude first, as those CRSs define), EPSG:6677 (JGD2011 / Japan Plane
Rectangular CS IX, Tsukuba's zone: X northing first, then Y easting, as EPSG defines) and
EPSG:3857. pyproj transforms in each CRS's own axis order (``always_xy=False``); the
transformers are made once per CRS. Vector tiles and open-data downloads are not affected.
"""

from functools import lru_cache

import numpy as np
import pyproj
import shapely

from tsukuba_gis.store import FeaturePage

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
SUPPORTED = [CRS84, f"{EPSG}4326", f"{EPSG}6668", f"{EPSG}6677", f"{EPSG}3857"]
STORAGE = CRS84
# Decimals written per CRS unit: 1e-7 degree is ~1 cm, 1e-4 m is 0.1 mm.
DEGREE_DECIMALS, METRE_DECIMALS = 7, 4


@lru_cache(maxsize=len(SUPPORTED))
def crs_of(uri: str) -> pyproj.CRS:
    """The pyproj CRS of a supported URI."""
    return pyproj.CRS.from_user_input(uri)


@lru_cache(maxsize=2 * len(SUPPORTED))
def from_storage(uri: str, gis_order: bool = False) -> pyproj.Transformer:
    """The transformer from the store's CRS84 to ``uri``: axis order as the CRS defines, or
    ``gis_order`` (easting/longitude first, as GeoPackage and WKT files take it)."""
    return pyproj.Transformer.from_crs(crs_of(STORAGE), crs_of(uri), always_xy=gis_order)


def decimals(uri: str | None) -> int:
    """How many decimals coordinates in ``uri`` are written with."""
    if uri is None or uri == STORAGE:
        return DEGREE_DECIMALS
    return DEGREE_DECIMALS if crs_of(uri).is_geographic else METRE_DECIMALS


def _apply(transformer: pyproj.Transformer, xy: np.ndarray) -> np.ndarray:
    first, second = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([first, second])


def transform_page(page: FeaturePage, uri: str, gis_order: bool = False) -> FeaturePage:
    """The page with its geometries in ``uri`` (one vectorised pyproj call for the page)."""
    present = [i for i, w in enumerate(page.wkb) if w is not None]
    if not present:
        return page
    transformer = from_storage(uri, gis_order)
    geoms = shapely.from_wkb([page.wkb[i] for i in present])
    moved = shapely.transform(geoms, lambda xy: _apply(transformer, xy))
    wkb = list(page.wkb)
    for i, data in zip(present, shapely.to_wkb(moved).tolist(), strict=True):
        wkb[i] = data
    page.wkb = wkb
    return page
