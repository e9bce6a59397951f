"""Each raster format reads right: values at known cells, georeferencing, no data, COG structure."""

import shutil

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from rasters import (
    DEM5A_CELL,
    GSI_PNG,
    GSI_TXT,
    ORIGIN,
    RasterProject,
    fgd_dem_xml,
    fgd_tuples,
    ramp,
    write_tif,
)

from etl.raster import fgd_dem, gsi


@pytest.fixture
def rp(tmp_path) -> RasterProject:
    return RasterProject(tmp_path)


def _load(rp: RasterProject, layer_id: str = "grid"):
    report = rp.run(layer_id)
    result = next(r for r in report.rasters if r.layer_id == layer_id)
    assert result.status == "loaded", result.error
    return result


def test_geotiff_in_zone_ix_keeps_values_and_georeferencing(rp):
    write_tif(rp.sources / "grid.tif", ramp())
    rp.define_raster("grid", {"path": "grid.tif"})
    result = _load(rp)
    with rasterio.open(rp.cog("grid")) as ds:
        assert ds.crs.to_epsg() == 6677 and ds.shape == (40, 30)
        assert ds.transform == from_origin(*ORIGIN, 10, 10)
        data = ds.read(1)
    assert data[0, 0] == 0 and data[7, 5] == pytest.approx(7.05) and data[39, 29] == pytest.approx(39.29)
    # the lon/lat box of the registry encloses the grid's corners through PROJ
    to_lonlat = Transformer.from_crs("EPSG:6677", "EPSG:4326", always_xy=True)
    x0, y0 = ORIGIN
    lons, lats = to_lonlat.transform([x0, x0 + 300, x0, x0 + 300], [y0, y0, y0 - 400, y0 - 400])
    west, south, east, north = min(lons), min(lats), max(lons), max(lats)
    bbox = rp.store().current_raster("grid").bbox
    assert bbox == pytest.approx((west, south, east, north), abs=1e-5)
    assert 140.0 < west < 140.2 and 36.0 < south < 36.1  # Tsukuba
    band = result.bands[0]
    assert (band["min"], band["max"], band["valid_count"]) == (0.0, pytest.approx(39.29), 1200)
    assert band["mean"] == pytest.approx(float(ramp().mean()), rel=1e-6)


def test_cog_is_tiled_with_overviews_and_lossless_compression(rp):
    data = np.tile(ramp(100, 100), (12, 12))  # 1200 x 1200: two overview levels at 512 tiles
    data[:50, :50] = -9999
    write_tif(rp.sources / "grid.tif", data)
    rp.define_raster("grid", {"path": "grid.tif"})
    _load(rp)
    with rasterio.open(rp.cog("grid")) as ds:
        assert ds.profile["tiled"] and ds.block_shapes == [(512, 512)]
        assert ds.overviews(1) == [2, 4]
        structure = ds.tags(ns="IMAGE_STRUCTURE")
        assert structure["LAYOUT"] == "COG" and structure["COMPRESSION"] == "DEFLATE"
        assert structure["PREDICTOR"] == "3" and structure["OVERVIEW_RESAMPLING"] == "BILINEAR"
        assert ds.nodata == -9999
        assert np.array_equal(ds.read(1), data)  # lossless, no data kept


def test_cog_input_and_ascii_grid_with_crs_from_the_definition(rp):
    data = ramp(20, 25)
    write_tif(rp.sources / "src.tif", data)
    rasterio.shutil.copy(rp.sources / "src.tif", rp.sources / "given.cog.tif", driver="COG")
    rasterio.shutil.copy(rp.sources / "src.tif", rp.sources / "grid.asc", driver="AAIGrid")
    (rp.sources / "grid.prj").unlink()  # departments often send the .asc alone
    rp.define_raster("cog", {"path": "given.cog.tif"})
    rp.define_raster("asc", {"path": "grid.asc", "crs": "EPSG:6677"})
    report = rp.run()
    assert report.ok, [(r.layer_id, r.error) for r in report.rasters]
    for layer_id in ("cog", "asc"):
        with rasterio.open(rp.cog(layer_id)) as ds:
            assert ds.crs.to_epsg() == 6677
            assert ds.transform == from_origin(*ORIGIN, 10, 10)
            assert np.allclose(ds.read(1), data, atol=1e-6)
    asc = next(r for r in report.rasters if r.layer_id == "asc")
    assert asc.sources[0]["decisions"]["crs"] == "EPSG:6677 from the definition (the file declares none)"


def test_gsi_png_tile_decodes_the_real_tile():
    heights = gsi.read_png(GSI_PNG, "tile")
    valid = heights != gsi.NODATA
    assert int((~valid).sum()) == 12527  # sea cells, as the tile's PROVENANCE says
    assert heights[valid].min() == pytest.approx(0.01) and heights[valid].max() == pytest.approx(1944.25)
    assert 0 < np.median(heights[valid]) < 1000  # Hidaka foothills and plains
    # the TXT encoding of the same tile holds the same heights
    # GSI rounds the two encodings separately: they agree within one 0.01 m step
    assert np.allclose(gsi.read_txt(GSI_TXT, "tile"), heights, atol=0.0101)


def test_gsi_png_encoding_rules():
    rgb = np.zeros((3, 1, 4), dtype=np.uint8)
    rgb[:, 0, 0] = (0, 0x27, 0x10)  # x = 10000 -> 100.00 m
    rgb[:, 0, 1] = (0x80, 0, 0)  # x = 2^23 -> no data
    rgb[:, 0, 2] = (0xFF, 0xFF, 0xFF)  # x = 2^24 - 1 -> -0.01 m
    rgb[:, 0, 3] = (0, 0, 0)
    assert gsi.decode_png_rgb(rgb).tolist() == [[100.0, gsi.NODATA, pytest.approx(-0.01), 0.0]]


@pytest.mark.parametrize("name", ["gsi-dem-z8-x229-y94.png", "8/229/94.png", "8/229/94.txt"])
def test_gsi_tile_georeferenced_from_its_path(rp, name):
    target = rp.sources / "tiles" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(GSI_TXT if name.endswith(".txt") else GSI_PNG, target)
    rp.define_raster("grid", {"path": f"tiles/{name}"}, value_range={"min": -50, "max": 4000})
    _load(rp)
    record = rp.store().current_raster("grid")
    assert record.crs == "EPSG:3857" and (record.width, record.height) == (256, 256)
    # z8/x229/y94 is 142.03125..143.4375 E, 42.03297..43.06889 N (the tile's PROVENANCE)
    assert record.bbox == pytest.approx((142.03125, 42.03297, 143.4375, 43.06889), abs=1e-4)
    assert record.bands[0].nodata_count == 12527


def test_fgd_dem_start_point_nodata_and_trailing_cells(tmp_path):
    values = np.arange(80, dtype=float).reshape(8, 10)
    tuples = fgd_tuples(values)[13:70]  # starts at x=3, y=1; GSI leaves out the last 10 cells
    tuples[0] = "海水面,-9999."
    tuples[1] = "データなし,-9999."
    tuples[2] = "内水面,12.50"
    path = fgd_dem_xml(tmp_path / "FG-GML-5440-10-00-DEM5A-20161001.xml", tuples, start="3 1")
    grid, bounds, crs, decisions = fgd_dem.read(path, "dem.xml", max_cells=10**6)
    assert crs == "EPSG:6668" and grid.shape == (8, 10)
    assert np.all(grid.ravel()[:15] == fgd_dem.NODATA)  # before the start point, and two no-data tuples
    assert grid[1, 5] == 12.5 and grid[1, 6] == 16.0 and grid[6, 9] == 69.0
    assert np.all(grid.ravel()[70:] == fgd_dem.NODATA)
    # corners written with 6 decimals snap back to the 0.2" grid
    assert bounds == pytest.approx((140.1, 36.1, 140.1 + 10 * DEM5A_CELL, 36.1 + 8 * DEM5A_CELL), abs=1e-12)
    assert "57 tuples" in decisions["grid"] and "10 cells after the last tuple" in decisions["trailing"]
    assert "地表面 54" in decisions["types"] and "海水面 1" in decisions["types"]


def test_fgd_dem_loads_as_a_layer_in_lonlat(rp):
    values = 20 + np.arange(80, dtype=float).reshape(8, 10) / 10
    fgd_dem_xml(rp.sources / "dem/FG-GML-544010-DEM5A.xml", fgd_tuples(values))
    rp.define_raster("grid", {"path": "dem/FG-GML-544010-DEM5A.xml"})
    _load(rp)
    record = rp.store().current_raster("grid")
    assert record.crs == "EPSG:6668" and record.resolution == pytest.approx((DEM5A_CELL, DEM5A_CELL))
    with rasterio.open(rp.cog("grid")) as ds:
        assert ds.read(1)[0, 0] == pytest.approx(20.0) and ds.read(1)[7, 9] == pytest.approx(27.9)
        # row 0 is the north: the cell centre of (0, 0) is just below the upper corner
        lon, lat = ds.xy(0, 0)
        assert lat == pytest.approx(36.1 + 7.5 * DEM5A_CELL) and lon == pytest.approx(
            140.1 + 0.5 * DEM5A_CELL
        )


def test_mosaic_of_four_tiles_equals_the_whole(rp):
    whole = ramp(60, 80)
    transform = from_origin(*ORIGIN, 10, 10)
    write_tif(rp.sources / "whole.tif", whole)
    for name, rows, cols in (
        ("a", (0, 30), (0, 40)),
        ("b", (0, 30), (40, 80)),
        ("c", (30, 60), (0, 40)),
        ("d", (30, 60), (40, 80)),
    ):
        part = whole[rows[0] : rows[1], cols[0] : cols[1]]
        offset = transform @ rasterio.Affine.translation(cols[0], rows[0])
        write_tif(rp.sources / "tiles" / f"{name}.tif", part, transform=offset)
    rp.define_raster("grid", {"path": "tiles/*.tif"})
    rp.define_raster("whole", {"path": "whole.tif"})
    report = rp.run()
    assert report.ok
    mosaic = next(r for r in report.rasters if r.layer_id == "grid")
    assert mosaic.decisions["mosaic"] == "4 files into 80 x 60 cells"
    with rasterio.open(rp.cog("grid")) as a, rasterio.open(rp.cog("whole")) as b:
        assert a.transform == b.transform and a.crs == b.crs
        assert np.array_equal(a.read(), b.read())
    a, b = (rp.store().current_raster(i).bands[0] for i in ("grid", "whole"))
    assert (a.min, a.max, a.valid_count, a.histogram) == (b.min, b.max, b.valid_count, b.histogram)


def test_mosaic_with_a_gap_keeps_nodata(rp):
    write_tif(rp.sources / "tiles/a.tif", ramp(10, 10))
    write_tif(
        rp.sources / "tiles/b.tif",
        ramp(10, 10) + 100,
        transform=from_origin(ORIGIN[0] + 200, ORIGIN[1], 10, 10),
    )
    rp.define_raster("grid", {"path": "tiles/*.tif"})
    _load(rp)
    with rasterio.open(rp.cog("grid")) as ds:
        data = ds.read(1)
    assert data.shape == (10, 30) and np.all(data[:, 10:20] == -9999) and data[0, 20] == 100


def test_target_crs_reprojects_only_when_asked(rp):
    write_tif(rp.sources / "grid.tif", ramp(50, 50))
    rp.define_raster("grid", {"path": "grid.tif"}, target_crs="EPSG:3857")
    result = _load(rp)
    record = rp.store().current_raster("grid")
    assert record.crs == "EPSG:3857"
    assert "EPSG:6677 -> EPSG:3857 (bilinear)" in result.decisions["reprojection"]
    assert 0 <= record.bands[0].min and record.bands[0].max <= 49.49 + 1e-3  # bilinear stays in range


def test_rgb_photo_keeps_its_bands(rp):
    photo = np.stack([np.full((64, 64), v, dtype=np.uint8) for v in (200, 120, 40)])
    write_tif(rp.sources / "photo.tif", photo, nodata=None, photometric="RGB")
    rp.define_raster("grid", {"path": "photo.tif"}, bands=3, resampling="average")
    result = _load(rp)
    with rasterio.open(rp.cog("grid")) as ds:
        assert ds.count == 3 and ds.dtypes[0] == "uint8"
        assert [c.name for c in ds.colorinterp] == ["red", "green", "blue"]
    assert [b["histogram"][v] for b, v in zip(result.bands, (200, 120, 40), strict=True)] == [4096] * 3
