"""Every format departments hand over loads through the whole pipeline, where it should land."""

import shutil

import geopandas as gpd
import pyogrio
import pytest
import shapely
from handover import (
    NAMES,
    POINTS,
    SAKURA,
    distance_m,
    entry,
    field,
    loaded_points,
    point_feature,
    shapefile_bytes,
    site_features,
    sites_frame,
    write_csv,
    write_geojson,
    write_shapefile,
    zip_files,
)

from etl.formats.citygml import read_codelist
from tsukuba_gis.settings import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


def _assert_sites(project, layer_id="sites", tolerance_m=0.01):
    points = loaded_points(project, layer_id)
    assert sorted(points) == ["1", "2", "3"]
    for i, sid in enumerate(["1", "2", "3"]):
        assert distance_m(*points[sid], *POINTS[i]) < tolerance_m, (sid, points[sid])
    page = project.store().query(project.store().current(layer_id), _all())
    assert sorted(p["name"] for p in page.properties) == sorted(NAMES)


def _all():
    from tsukuba_gis.store import Query

    return Query(limit=100)


def _loaded(report, layer_id="sites"):
    result = entry(report, layer_id)
    assert result.status == "loaded", result.error
    return result


# --- shapefile ------------------------------------------------------------------------


def test_shapefile_cp932_without_cpg_uses_the_declared_encoding(project):
    write_shapefile(sites_frame("EPSG:6677"), project.sources / "sites.shp")
    project.define("sites", {"path": "sites.shp", "encoding": "cp932"})
    result = _loaded(project.run("sites"))
    why = result.sources[0]["decisions"]["encoding"]
    assert why == "cp932, from the layer definition (no .cpg)"
    _assert_sites(project)


def test_shapefile_cpg_wins_over_the_definition(project):
    write_shapefile(sites_frame("EPSG:6677"), project.sources / "sites.shp", encoding="utf-8", cpg=True)
    project.define("sites", {"path": "sites.shp", "encoding": "cp932"})
    result = _loaded(project.run("sites"))
    why = result.sources[0]["decisions"]["encoding"]
    assert why.startswith("utf-8, from the .cpg file") and "the file wins" in why
    _assert_sites(project)


def test_shapefile_encoding_detected_and_reason_reported(project):
    write_shapefile(sites_frame("EPSG:6677"), project.sources / "sites.shp")
    project.define("sites", {"path": "sites.shp"})
    result = _loaded(project.run("sites"))
    why = result.sources[0]["decisions"]["encoding"]
    assert why.startswith("cp932, detected: every byte decodes as cp932") and "no .cpg" in why
    _assert_sites(project)


def test_zipped_shapefile_is_read_in_place(project, tmp_path):
    shp = write_shapefile(sites_frame("EPSG:6677"), tmp_path / "避難所.shp")
    members = {f"data/{name}": data for name, data in shapefile_bytes(shp).items()}
    zip_files(project.sources / "sites.zip", members)
    project.define("sites", {"path": "sites.zip", "encoding": "cp932"})
    result = _loaded(project.run("sites"))
    assert "data/避難所.shp" in result.sources[0]["decisions"]["archive"]
    _assert_sites(project)
    assert sorted(p.name for p in project.sources.iterdir()) == ["sites.zip"]  # nothing extracted


def test_zip_with_several_shapefiles_picks_the_named_layer(project, tmp_path):
    members = {}
    for name, crs in (("a", "EPSG:6677"), ("b", "EPSG:6668")):
        members.update(shapefile_bytes(write_shapefile(sites_frame(crs), tmp_path / f"{name}.shp")))
    zip_files(project.sources / "both.zip", members)
    project.define("sites", {"path": "both.zip", "layer": "b", "encoding": "cp932"})
    _loaded(project.run("sites"))
    _assert_sites(project)


# --- GeoJSON ---------------------------------------------------------------------------


def test_geojson_rfc7946(project):
    write_geojson(project.sources / "sites.geojson", site_features())
    project.define("sites", {"path": "sites.geojson"})
    _loaded(project.run("sites"))
    _assert_sites(project)


def test_old_geojson_with_a_projected_crs_member(project):
    plane = sites_frame("EPSG:6677")
    features = [
        point_feature(g.x, g.y, 番号=i, 名称=n, 区分="学校")
        for g, i, n in zip(plane.geometry, plane["番号"], plane["名称"], strict=True)
    ]
    write_geojson(project.sources / "sites.geojson", features, crs="EPSG:6677")
    project.define("sites", {"path": "sites.geojson"})
    result = _loaded(project.run("sites"))
    assert "EPSG:6677" in result.sources[0]["decisions"]["crs"]
    _assert_sites(project)


def test_old_geojson_with_an_urn_geographic_crs_keeps_lon_lat_order(project):
    # GeoJSON (2008 and RFC 7946) is always x=lon, y=lat, even when the crs member names a
    # CRS whose EPSG axis order is lat, lon: nothing may be swapped.
    write_geojson(project.sources / "sites.geojson", site_features(), crs="urn:ogc:def:crs:EPSG::6668")
    project.define("sites", {"path": "sites.geojson"})
    _loaded(project.run("sites"))
    _assert_sites(project)


# --- GeoPackage, KML, GML -------------------------------------------------------------


def test_geopackage_layer_by_name(project):
    path = project.sources / "multi.gpkg"
    pyogrio.write_dataframe(sites_frame("EPSG:6677").iloc[:1], path, layer="other")
    pyogrio.write_dataframe(sites_frame("EPSG:6677"), path, layer="避難所", append=False)
    project.define("sites", {"path": "multi.gpkg", "layer": "避難所"})
    _loaded(project.run("sites"))
    _assert_sites(project)


def test_kml_with_multigeometry(project):
    polygons = "".join(
        f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{x},{y} {x + 0.01},{y} {x + 0.01},"
        f"{y + 0.01} {x},{y}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
        for x, y in ((140.10, 36.10), (140.12, 36.10))
    )
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        "<Document><Placemark><name>公園</name><description>二つの区画</description>"
        f"<MultiGeometry>{polygons}</MultiGeometry></Placemark></Document></kml>"
    )
    (project.sources / "parks.kml").write_text(kml, encoding="utf-8")
    project.define(
        "parks",
        {"path": "parks.kml"},
        geometry="polygon",
        fields=[field("name", "Name", required=True), field("note", "description")],
    )
    result = _loaded(project.run("parks"), "parks")
    assert result.warnings == []  # LIBKML's structural fields are not "unmapped by accident"
    frame = next(project.store().iter_frames(project.store().current("parks")))
    assert frame["name"].tolist() == ["公園"]
    assert frame.geometry[frame.index[0]].geom_type == "MultiPolygon"
    assert len(frame.geometry.iloc[0].geoms) == 2


def test_gml_with_urn_srsname_in_lat_lon_order(project):
    members = "".join(
        f'<ogr:featureMember><ogr:site gml:id="s{i}"><ogr:geometryProperty><gml:Point'
        f' srsName="urn:ogc:def:crs:EPSG::6668"><gml:pos>{lat} {lon}</gml:pos></gml:Point>'
        f"</ogr:geometryProperty><ogr:番号>{i + 1}</ogr:番号><ogr:名称>{NAMES[i]}</ogr:名称>"
        f"<ogr:区分>学校</ogr:区分></ogr:site></ogr:featureMember>"
        for i, (lon, lat) in enumerate(POINTS)
    )
    gml = (
        '<?xml version="1.0" encoding="UTF-8"?><ogr:FeatureCollection xmlns:ogr='
        '"http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml/3.2">'
        f"{members}</ogr:FeatureCollection>"
    )
    (project.sources / "sites.gml").write_text(gml, encoding="utf-8")
    project.define("sites", {"path": "sites.gml"}, drop=["gml_id"])
    result = _loaded(project.run("sites"))
    assert "EPSG:6668" in result.sources[0]["decisions"]["crs"]
    _assert_sites(project)
    assert not list(project.sources.glob("*.gfs"))  # GDAL left no side file in the hand-over


def test_gsi_fgd_gml(project):
    shutil.copy(FIXTURES / "fgd" / "BldA.xml", project.sources / "BldA.xml")
    project.define(
        "buildings",
        {"path": "BldA.xml"},
        geometry="polygon",
        fields=[field("fgd_id", "fid", required=True), field("kind", "type")],
        drop=["gml_id", "feature_type", "lfSpanFr", "devDate", "orgGILvl", "*"],
    )
    result = _loaded(project.run("buildings"), "buildings")
    assert (result.read, result.loaded) == (3, 3)
    assert "FGD GML" in result.sources[0]["decisions"]["crs"]
    record = project.store().current("buildings")
    x0, y0, x1, y1 = record.bbox
    assert 139.70 < x0 < x1 < 139.72 and 35.67 < y0 < y1 < 35.75  # lon/lat, not swapped


def test_plateau_citygml_codes_become_labels(project):
    shutil.copytree(FIXTURES / "plateau", project.sources / "plateau")
    project.define(
        "roads",
        {"path": "plateau/udx/tran/54401008_tran_6697_op.gml", "format": "citygml"},
        geometry="polygon",
        id_field="gml_id",
        fields=[
            field("gml_id", required=True),
            field("road_class", "class_label"),
            field("class_code", "class"),
        ],
        drop=["*"],
    )
    result = _loaded(project.run("roads"), "roads")
    assert result.loaded == 253
    frame = next(project.store().iter_frames(project.store().current("roads")))
    codes = read_codelist(FIXTURES / "plateau" / "codelists" / "Road_class.xml")
    labelled = frame.dropna(subset=["class_code"])
    assert len(labelled) == 253
    assert [codes[c] for c in labelled["class_code"]] == labelled["road_class"].tolist()
    assert set(labelled["road_class"]) == {"不明", "road traffic"}
    x0, y0, x1, y1 = project.store().current("roads").bbox
    assert 140.0 < x0 < x1 < 140.2 and 36.0 < y0 < y1 < 36.2  # lat/lon order handled


# --- CSV --------------------------------------------------------------------------------


CSV_HEADER = ["番号", "名称", "区分", "緯度", "経度"]


def _csv_rows(swap_xy=False):
    return [CSV_HEADER] + [[str(i + 1), NAMES[i], "学校", lat, lon] for i, (lon, lat) in enumerate(POINTS)]


@pytest.mark.parametrize(
    "encoding, bom, newline", [("cp932", False, "\r\n"), ("utf-8", True, "\r\n"), ("utf-8", False, "\n")]
)
def test_csv_lat_lon_in_every_encoding(project, encoding, bom, newline):
    write_csv(project.sources / "sites.csv", _csv_rows(), encoding, newline, bom)
    project.define("sites", {"path": "sites.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度"})
    result = _loaded(project.run("sites"))
    why = result.sources[0]["decisions"]["encoding"]
    assert why.startswith(
        {("cp932", False): "cp932", ("utf-8", True): "utf-8-sig", ("utf-8", False): "utf-8"}[(encoding, bom)]
    ), why
    _assert_sites(project)


def test_csv_declared_utf8_with_excel_bom(project):
    write_csv(project.sources / "sites.csv", _csv_rows(), "utf-8", bom=True)
    project.define(
        "sites", {"path": "sites.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度", "encoding": "utf-8"}
    )
    result = _loaded(project.run("sites"))
    assert result.sources[0]["decisions"]["encoding"].startswith("utf-8-sig")
    _assert_sites(project)


def test_csv_plane_xy_survey_convention(project):
    plane = sites_frame("EPSG:6677")
    rows = [["番号", "名称", "区分", "X座標", "Y座標"]] + [
        [i, n, "学校", f"{g.y:.3f}", f"{g.x:.3f}"]  # X = northing, Y = easting
        for i, n, g in zip(plane["番号"], plane["名称"], plane.geometry, strict=True)
    ]
    write_csv(project.sources / "sites.csv", rows)
    project.define(
        "sites", {"path": "sites.csv", "crs": "EPSG:6677", "x": "X座標", "y": "Y座標", "encoding": "cp932"}
    )
    result = _loaded(project.run("sites"))
    assert "X=X座標 is the northing" in result.sources[0]["decisions"]["axes"]
    _assert_sites(project)


def test_csv_full_width_digits_in_coordinates(project):
    rows = _csv_rows()
    rows[1][3] = str(rows[1][3]).translate(str.maketrans("0123456789.", "０１２３４５６７８９．"))
    write_csv(project.sources / "sites.csv", rows)
    project.define("sites", {"path": "sites.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度"})
    _loaded(project.run("sites"))
    _assert_sites(project)


def test_several_sources_in_one_layer(project):
    write_geojson(project.sources / "a.geojson", site_features(2))
    write_geojson(
        project.sources / "b.geojson", [point_feature(*POINTS[2], 番号="3", 名称=NAMES[2], 区分="学校")]
    )
    project.define("sites", [{"path": "a.geojson"}, {"path": "b.geojson"}])
    result = _loaded(project.run("sites"))
    assert [s["read"] for s in result.sources] == [2, 1]
    _assert_sites(project)


def test_points_land_on_gsi_published_position(project):
    # GSI publishes 桜中学校 at 140.129771 E, 36.098502 N; handed over in zone IX.
    write_shapefile(sites_frame("EPSG:6677").iloc[:1], project.sources / "one.shp")
    project.define("one", {"path": "one.shp", "encoding": "cp932"})
    _loaded(project.run("one"), "one")
    assert distance_m(*loaded_points(project, "one")["1"], *SAKURA) < 0.01


def test_polygon_shapefile_is_promoted_to_multi(project):
    frame = gpd.GeoDataFrame(
        {"番号": ["1"], "名称": ["区画"], "区分": ["x"]},
        geometry=[shapely.box(140.1, 36.1, 140.11, 36.11)],
        crs="EPSG:6668",
    )
    write_shapefile(frame, project.sources / "area.shp")
    project.define("area", {"path": "area.shp", "encoding": "cp932"}, geometry="polygon")
    _loaded(project.run("area"), "area")
    geom = next(project.store().iter_frames(project.store().current("area"))).geometry.iloc[0]
    assert geom.geom_type == "MultiPolygon"
