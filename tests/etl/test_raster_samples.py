"""The repo's sample rasters load on both stores and say what they should."""

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import open_store

RANK_DEPTHS = {1: (0.0, 0.5), 2: (0.5, 3.0), 3: (3.0, 5.0)}


@pytest.fixture(scope="module")
def store(each_sample_settings):
    return open_store(each_sample_settings.store_url)


def _cog(settings, store, layer_id):
    return store.current_raster(layer_id).path(settings.rasters_path)


def test_every_raster_loads(each_sample_settings, each_sample_report, store):
    report = each_sample_report
    catalog = load_catalog(PROJECT_ROOT / "layers")
    assert {r["layer_id"] for r in report["rasters"]} == set(catalog.rasters)
    assert all(r["status"] == "loaded" for r in report["rasters"])
    assert {r.layer_id for r in store.rasters()} == set(catalog.rasters)
    for record in store.rasters():
        assert record.path(each_sample_settings.rasters_path).stat().st_size == record.size_bytes
        assert record.crs == "EPSG:6677"
    dem = next(r for r in report["rasters"] if r["layer_id"] == "dem_sample")
    assert dem["decisions"]["mosaic"] == "4 files into 550 x 1080 cells"


def test_flood_depth_matches_the_flood_sample_bands(each_sample_settings, store):
    bands = pyogrio.read_dataframe(PROJECT_ROOT / "sources/disaster/flood_sample_6677.gpkg")
    rng = np.random.default_rng(7)
    with rasterio.open(_cog(each_sample_settings, store, "flood_depth_sample")) as ds:
        for shape, rank in zip(bands.geometry, bands["浸水深ランク"], strict=True):
            inner = shape.buffer(-20)  # keep clear of cells the edge cuts
            x0, y0, x1, y1 = inner.bounds
            points = shapely.points(rng.uniform(x0, x1, 4000), rng.uniform(y0, y1, 4000))
            inside = [(p.x, p.y) for p in points[shapely.contains(inner, points)]][:300]
            assert len(inside) > 50
            depths = np.array([v[0] for v in ds.sample(inside)])
            low, high = RANK_DEPTHS[int(rank)]
            assert np.all((depths >= low) & (depths < high)), (rank, depths.min(), depths.max())
        outside = ds.sample([(ds.bounds.left + 5, ds.bounds.top - 5)])
        assert next(outside)[0] == ds.nodata
    stats = store.current_raster("flood_depth_sample").bands[0]
    assert 0 < stats.min < 0.5 and 3.0 < stats.max < 5.0
    assert stats.edges[:6] == (0.0, 0.5, 3.0, 5.0, 10.0, 20.0) and sum(stats.histogram) == stats.valid_count
    assert stats.histogram[3:] == (0, 0, 0)  # nothing deeper than 5 m in the sample bands


def test_dem_is_plausible_for_tsukuba(each_sample_settings, store):
    with rasterio.open(_cog(each_sample_settings, store, "dem_sample")) as ds:
        tsukubasan = next(ds.sample([(24575.0, 25031.7)]))[0]
        kenkyu_gakuen = next(ds.sample([(22521.3, 9137.8)]))[0]
    assert 850 < tsukubasan <= 877 and 15 < kenkyu_gakuen < 35
    stats = store.current_raster("dem_sample").bands[0]
    assert stats.max == pytest.approx(877, abs=1) and 5 <= stats.min < 15 and stats.nodata_count == 0


def test_the_photo_is_internal_rgb(store):
    record = store.current_raster("aerial_photo_sample")
    assert (record.band_count, record.dtype) == (3, "uint8")
    assert load_catalog(PROJECT_ROOT / "layers").rasters["aerial_photo_sample"].access == "internal"
