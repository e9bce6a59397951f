"""CRS from the file or the definition, every Japanese datum, the Tokyo Datum trap: end to end."""

import json

import geopandas as gpd
import pyproj
import pytest
import shapely
from handover import SAKURA, distance_m, entry, loaded_points, write_csv, write_shapefile

from etl import datum

# GSI Tsukuba triangulation point: Tokyo Datum lon/lat, and its JGD2000 position by GSI's
# TKY2JGD as the tky2jgd package README states it (the oracle of tests/etl/test_datum.py).
TOKYO = (140.091149167, 36.100578889)
TOKYO_IN_JGD = (140.08787082896106, 36.10377077065109)


def _one_point(x: float, y: float, crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"番号": ["1"], "名称": ["点"], "区分": ["x"]}, geometry=[shapely.Point(x, y)], crs=crs
    )


def _in(crs: str, lon: float, lat: float, geographic_of: str) -> tuple[float, float]:
    """(lon, lat) in ``geographic_of`` expressed in ``crs`` (a pure projection, same datum)."""
    return pyproj.Transformer.from_crs(geographic_of, crs, always_xy=True).transform(lon, lat)


@pytest.mark.parametrize(
    "code, geographic, expected",
    [
        ("EPSG:6668", "EPSG:6668", SAKURA),
        ("EPSG:6677", "EPSG:6668", SAKURA),  # JGD2011
        ("EPSG:4612", "EPSG:4612", SAKURA),
        ("EPSG:2451", "EPSG:4612", SAKURA),  # JGD2000
        ("EPSG:4301", "EPSG:4301", TOKYO_IN_JGD),
        ("EPSG:30169", "EPSG:4301", TOKYO_IN_JGD),  # Tokyo
    ],
)
def test_each_japanese_datum_lands_where_gsi_says(project, code, geographic, expected):
    start = TOKYO if geographic == "EPSG:4301" else SAKURA
    x, y = _in(code, *start, geographic)
    write_shapefile(_one_point(x, y, code), project.sources / "p.shp")
    project.define("p", {"path": "p.shp", "encoding": "cp932"})
    result = entry(project.run("p"), "p")
    assert result.status == "loaded", result.error
    assert distance_m(*loaded_points(project, "p")["1"], *expected) < 0.1
    transform = result.transforms[0]
    assert transform["method"] == ("tky2jgd" if geographic == "EPSG:4301" else "proj")
    # The registry keeps the transform and its accuracy with the version.
    record = project.store().current("p")
    assert record.crs["transforms"] == [transform]
    assert record.crs["transforms"][0]["accuracy_m"] is not None


def test_prj_without_epsg_code_is_identified(project):
    # GDAL writes ESRI WKT (PROJCS["JGD_2011_Japan_Zone_9",...]) with no AUTHORITY: the
    # usual .prj of a department.
    path = write_shapefile(
        _one_point(*_in("EPSG:6677", *SAKURA, "EPSG:6668"), "EPSG:6677"), project.sources / "p.shp"
    )
    assert "AUTHORITY" not in path.with_suffix(".prj").read_text()
    project.define("p", {"path": "p.shp", "encoding": "cp932"})
    result = entry(project.run("p"), "p")
    assert result.transforms[0]["source_crs"] == "EPSG:6677"
    assert distance_m(*loaded_points(project, "p")["1"], *SAKURA) < 0.01


def test_prj_with_epsg_code(project):
    path = write_shapefile(
        _one_point(*_in("EPSG:6677", *SAKURA, "EPSG:6668"), "EPSG:6677"), project.sources / "p.shp"
    )
    path.with_suffix(".prj").write_text(pyproj.CRS("EPSG:6677").to_wkt("WKT1_GDAL"))
    project.define("p", {"path": "p.shp", "encoding": "cp932"})
    result = entry(project.run("p"), "p")
    assert result.status == "loaded", result.error
    assert distance_m(*loaded_points(project, "p")["1"], *SAKURA) < 0.01


def test_crs_from_the_definition_when_the_file_has_none(project):
    write_shapefile(
        _one_point(*_in("EPSG:6677", *SAKURA, "EPSG:6668"), "EPSG:6677"), project.sources / "p.shp", prj=False
    )
    project.define("p", {"path": "p.shp", "encoding": "cp932", "crs": "EPSG:6677"})
    result = entry(project.run("p"), "p")
    assert result.sources[0]["decisions"]["crs"].startswith("EPSG:6677, from the layer definition")
    assert distance_m(*loaded_points(project, "p")["1"], *SAKURA) < 0.01


# --- Tokyo Datum through the whole pipeline ----------------------------------------------


def _tokyo_checks(project, layer_id: str) -> dict:
    report = project.run(layer_id)
    result = entry(report, layer_id)
    assert result.status == "loaded", result.error
    lon, lat = loaded_points(project, layer_id)["1"]
    # Where GSI's TKY2JGD puts it (JGD2000 = JGD2011 here, PatchJGD not applied) ...
    assert distance_m(lon, lat, *TOKYO_IN_JGD) < 0.1
    # ... and about 1 m from where PROJ's offline Helmert shift (EPSG:15483) would.
    proj_only = pyproj.Transformer.from_crs("EPSG:4301", "EPSG:6668", always_xy=True)
    helmert = proj_only.transform(*TOKYO)
    assert 0.5 < distance_m(lon, lat, *helmert) < 1.5
    # The report says which transform and how accurate, in words staff can read.
    saved = json.loads((project.settings.data_dir / "report.json").read_text(encoding="utf-8"))
    transform = entry(report, layer_id).transforms[0]
    assert saved["layers"][0]["transforms"] == [transform]
    assert transform["method"] == "tky2jgd" and transform["accuracy_m"] > 0
    assert any("TKY2JGD" in step for step in transform["steps"])
    assert any("PatchJGD" in step and "NOT applied" in step for step in transform["steps"])
    html = (project.settings.data_dir / "report.html").read_text(encoding="utf-8")
    assert "GSI TKY2JGD grid" in html and f"{transform['accuracy_m']} m" in html
    return transform


def test_tokyo_datum_shapefile_end_to_end(project):
    write_shapefile(
        _one_point(*_in("EPSG:30169", *TOKYO, "EPSG:4301"), "EPSG:30169"), project.sources / "old.shp"
    )
    project.define("old", {"path": "old.shp", "encoding": "cp932"})
    transform = _tokyo_checks(project, "old")
    assert transform["source_crs"] == "EPSG:30169"


def test_tokyo_datum_csv_end_to_end(project):
    write_csv(
        project.sources / "old.csv",
        [["番号", "名称", "区分", "緯度", "経度"], ["1", "点", "x", TOKYO[1], TOKYO[0]]],
    )
    project.define("old", {"path": "old.csv", "crs": "EPSG:4301", "lat": "緯度", "lon": "経度"})
    transform = _tokyo_checks(project, "old")
    assert transform["source_crs"] == "EPSG:4301"


def test_tokyo_point_off_the_grid_is_quarantined_not_fatal(project):
    rows = [
        ["番号", "名称", "区分", "緯度", "経度"],
        ["1", "点", "x", TOKYO[1], TOKYO[0]],
        ["2", "海", "x", 35.0, 141.5],
    ]  # in the Pacific: TKY2JGD has no parameters there
    write_csv(project.sources / "old.csv", rows)
    project.define("old", {"path": "old.csv", "crs": "EPSG:4301", "lat": "緯度", "lon": "経度"})
    result = entry(project.run("old"), "old")
    assert (result.status, result.loaded, result.rejected) == ("loaded", 1, 1)
    (reject,) = project.store().rejects("old", result.version)
    assert reject.row == 2 and reject.reason == datum.OUTSIDE_MESH_REASON
    assert reject.attributes["緯度"] == "35.0" and reject.attributes["経度"] == "141.5"
    shown = shapely.from_wkt(reject.geometry_wkt)  # in lon/lat, via PROJ's Helmert shift
    assert distance_m(shown.x, shown.y, 141.5, 35.0) < 1000
