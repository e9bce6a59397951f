"""read_citygml / read_codelist on the real PLATEAU Tsukuba samples (tests/fixtures/plateau)."""

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from etl.formats import FormatError
from etl.formats.citygml import read_citygml, read_codelist

PLATEAU = Path(__file__).resolve().parents[1] / "fixtures" / "plateau"
URF = PLATEAU / "udx" / "urf"
TRAN = PLATEAU / "udx" / "tran"
CODELISTS = PLATEAU / "codelists"

USE_DISTRICT = URF / "534071_urf_6697_08_op.gml"
AREA_CLASSIFICATION = URF / "534071_urf_6697_07_op.gml"
HEIGHT_AND_SPECIAL_USE = URF / "544000_urf_6697_08_op.gml"
URBAN_PLANNING_AREA = URF / "544010_urf_6697_05_op.gml"
ROADS_1008 = TRAN / "54401008_tran_6697_op.gml"
ROADS_1018 = TRAN / "54401018_tran_6697_op.gml"

# (file, features, feature types, bbox lon/lat from PROVENANCE.md and its precision)
SAMPLES = [
    (URBAN_PLANNING_AREA, 1, {"UrbanPlanningArea"}, (139.99575, 35.94739, 140.17333, 36.23681), 5),
    (USE_DISTRICT, 1, {"UseDistrict"}, (140.12992, 35.98828, 140.13551, 35.99455), 5),
    (AREA_CLASSIFICATION, 1, {"AreaClassification"}, (140.12992, 35.98584, 140.14132, 35.99655), 5),
    (
        HEIGHT_AND_SPECIAL_USE,
        2,
        {"HeightControlDistrict", "SpecialUseDistrict"},
        (140.0918, 36.0720, 140.1109, 36.0779),
        4,
    ),
    (ROADS_1008, 253, {"Road"}, (140.09973, 36.08215, 140.11295, 36.09213), 5),
    (ROADS_1018, 210, {"Road"}, (140.09963, 36.09143, 140.11309, 36.10153), 5),
]


def _one(path: Path) -> pd.Series:
    frame = read_citygml(path, root=PLATEAU)
    assert len(frame) == 1
    return frame.iloc[0]


@pytest.mark.parametrize(
    ("path", "count", "types", "bbox", "digits"), SAMPLES, ids=[s[0].name for s in SAMPLES]
)
def test_counts_types_and_lonlat_bbox(path, count, types, bbox, digits):
    frame = read_citygml(path, root=PLATEAU)
    assert len(frame) == count
    assert set(frame["feature_type"]) == types
    assert frame["_row"].tolist() == list(range(1, count + 1))
    assert frame["gml_id"].notna().all() and frame["gml_id"].is_unique
    assert frame.crs.to_epsg() == 6668
    assert set(frame.geom_type) == {"MultiPolygon"}
    assert not frame.has_z.any()
    # x is the longitude (~140), y the latitude (~36): the bbox is the PROVENANCE one.
    assert [round(float(v), digits) for v in frame.total_bounds] == pytest.approx(bbox, abs=1.5 * 10**-digits)


def test_use_district_codes_numbers_and_placeholders():
    row = _one(USE_DISTRICT)
    assert row["feature_type"] == "UseDistrict"
    assert row["name"] == "第一種低層住居専用地域"
    # function: the code as written, the label from Common_districtsAndZonesType.xml
    assert row["function"] == "1"
    assert row["function_label"] == "第1種低層住居専用地域"
    assert row["function_label"] == read_codelist(CODELISTS / "Common_districtsAndZonesType.xml")["1"]
    assert row["buildingCoverageRate"] == 40 and row["floorAreaRate"] == 80
    assert isinstance(row["buildingCoverageRate"], (int, float, np.number))  # not text
    assert row["buildingHeightLimits"] == 10 and row["buildingHeightLimits_uom"] == "m"
    assert row["areaClassificationType"] == "22"
    assert row["areaClassificationType_label"] == "市街化区域"
    # codes keep leading zeros
    assert (row["prefecture"], row["prefecture_label"]) == ("08", "茨城県")
    assert (row["city"], row["city_label"]) == ("08220", "茨城県つくば市")
    # placeholders: validFrom 0001-01-01 and notificationNumber "Null" are unknown
    assert pd.isna(row["validFrom"])
    assert pd.isna(row["notificationNumber"])
    assert row["finalNotificationDate"] == "2022-03-31"
    assert row["finalNotificationNumber"] == 231
    assert row["custodian"] == "つくば市"
    assert row["creationDate"] == "2023-03-03"
    assert (row["thematicSrcDesc"], row["thematicSrcDesc_label"]) == ("202", "都市計画図書")


def test_area_classification_code_22():
    row = _one(AREA_CLASSIFICATION)
    assert (row["function"], row["function_label"]) == ("22", "市街化区域")
    assert row["validFrom"] == "1973-12-28"
    assert row["nominalArea"] == 5347 and row["nominalArea_uom"] == "ha"


def test_height_control_and_special_use_decode_their_own_code_lists():
    frame = read_citygml(HEIGHT_AND_SPECIAL_USE, root=PLATEAU).set_index("feature_type")
    height = frame.loc["HeightControlDistrict"]
    special = frame.loc["SpecialUseDistrict"]
    assert (height["function"], height["function_label"]) == ("18", "高度地区")
    assert (special["function"], special["function_label"]) == ("14", "特別用途地区")
    # same element name, different code list per feature type (named by each codeSpace)
    assert (
        height["usage_label"] == read_codelist(CODELISTS / "HeightControlDistrict_usage.xml")[height["usage"]]
    )
    assert (
        special["usage_label"] == read_codelist(CODELISTS / "SpecialUseDistrict_usage.xml")[special["usage"]]
    )
    assert height["maximumBuildingHeight"] == 18
    assert pd.isna(special["maximumBuildingHeight"])  # absent on that feature


def test_urban_planning_area_matches_its_nominal_area():
    frame = read_citygml(URBAN_PLANNING_AREA, root=PLATEAU)
    row = frame.iloc[0]
    assert row["name"] == "研究学園都市計画区域"
    assert row["nominalArea"] == 28407 and row["nominalArea_uom"] == "ha"
    area_ha = frame.to_crs(6677).area.iloc[0] / 10_000  # JGD2011 zone IX (Ibaraki)
    assert area_ha == pytest.approx(28407, rel=0.01)


def test_roads_463_with_decoded_codes():
    frames = [read_citygml(ROADS_1008, root=PLATEAU), read_citygml(ROADS_1018, root=PLATEAU)]
    assert [len(f) for f in frames] == [253, 210]
    roads = pd.concat(frames)
    assert len(roads) == 463
    assert roads.is_valid.all()
    unknown = roads[roads["class"] == "9999"]
    assert len(unknown) > 400 and set(unknown["class_label"]) == {"不明"}
    assert set(roads.loc[roads["function"] == "9020", "function_label"]) == {"不明"}
    sections = dict(zip(roads["sectionType"], roads["sectionType_label"], strict=True))
    assert sections["4"] == "交差部"
    # an attribute repeated inside the object comes as a list
    assert frames[0]["thematicSrcDesc"].iloc[0] == ["000", "023"]


def test_nested_traffic_areas_are_neither_rows_nor_columns():
    frame = read_citygml(ROADS_1008, root=PLATEAU)
    assert set(frame["feature_type"]) == {"Road"}
    assert not [c for c in frame.columns if "|" in c]
    road_functions = read_codelist(CODELISTS / "Road_function.xml")
    # TrafficArea's own function codes (1010, 2000) must not leak into the Road's
    assert set(frame["function"]) <= set(road_functions)


@pytest.mark.parametrize("path", [s[0] for s in SAMPLES], ids=[s[0].name for s in SAMPLES])
def test_geometry_equals_gdal_for_urf_and_tran(path, tmp_path):
    # GDAL reads urf/tran geometry correctly (PROVENANCE.md): ours must be the same.
    # A copy, so GDAL's .gfs side file is not written into the fixtures.
    copy = shutil.copy(path, tmp_path / path.name)
    ours = read_citygml(path, root=PLATEAU).set_index("gml_id").geometry
    theirs = []
    for layer, _ in pyogrio.list_layers(copy):
        if layer != "Appearance":
            theirs.append(pyogrio.read_dataframe(copy, layer=layer, WRITE_GFS="NO"))
    gdal = pd.concat(theirs).set_index("gml_id").geometry
    assert sorted(gdal.index) == sorted(ours.index)
    for gml_id, geom in ours.items():
        assert geom.equals_exact(shapely.force_2d(gdal[gml_id]), 1e-12), gml_id


def test_read_codelist():
    codes = read_codelist(CODELISTS / "Common_districtsAndZonesType.xml")
    assert codes["0"] == "用途地域の指定をしない区域"
    assert codes["1"] == "第1種低層住居専用地域"
    assert codes["13"] == "工業専用地域"
    assert read_codelist(CODELISTS / "Common_areaClassificationType.xml")["22"] == "市街化区域"


def test_codelist_dir_looks_lists_up_by_file_name(tmp_path):
    (tmp_path / "udx/urf").mkdir(parents=True)
    copy = shutil.copy(USE_DISTRICT, tmp_path / "udx/urf" / USE_DISTRICT.name)  # ../../codelists is gone
    row = read_citygml(copy, codelist_dir=CODELISTS).iloc[0]
    assert row["function_label"] == "第1種低層住居専用地域"
    with pytest.warns(UserWarning, match="code lists not found.*Common_districtsAndZonesType"):
        row = read_citygml(copy, root=tmp_path).iloc[0]
    assert row["function"] == "1" and pd.isna(row["function_label"])


def test_unknown_code_gives_no_label(tmp_path):
    text = USE_DISTRICT.read_text(encoding="utf-8").replace(
        'Common_districtsAndZonesType.xml">1<', 'Common_districtsAndZonesType.xml">999<'
    )
    copy = tmp_path / USE_DISTRICT.name
    copy.write_text(text, encoding="utf-8")
    row = read_citygml(copy, codelist_dir=CODELISTS).iloc[0]
    assert row["function"] == "999" and pd.isna(row["function_label"])


def test_truncated_file_raises_format_error_with_file_and_line(tmp_path):
    broken = tmp_path / "broken_urf.gml"
    broken.write_bytes(ROADS_1008.read_bytes()[:300_000])
    with pytest.raises(FormatError, match=r"broken_urf\.gml: line \d+") as err:
        read_citygml(broken, codelist_dir=CODELISTS)
    assert int(re.search(r"line (\d+)", str(err.value)).group(1)) > 1


def test_bad_coordinates_raise_format_error_naming_the_element(tmp_path):
    text = USE_DISTRICT.read_text(encoding="utf-8")
    copy = tmp_path / "bad_coords.gml"
    copy.write_text(
        text.replace("35.9888975782979 140.1347702548087 0 ", "35.9888975782979 140.1347702548087 ", 1),
        encoding="utf-8",
    )
    with pytest.raises(FormatError, match=r"bad_coords\.gml: line 30: <posList>"):
        read_citygml(copy, codelist_dir=CODELISTS)


def test_not_citygml_raises_format_error(tmp_path):
    other = tmp_path / "other.gml"
    other.write_text('<?xml version="1.0"?>\n<Dataset/>\n', encoding="utf-8")
    with pytest.raises(FormatError, match=r"other\.gml: line 2: <Dataset>: not a CityGML"):
        read_citygml(other)


def test_plane_rectangular_srs_is_read_in_its_own_axis_order(tmp_path):
    # EPSG:6677 (JGD2011 zone IX) lists northing (X) before easting (Y), like 6697 lists lat
    # before lon: rewrite the UseDistrict in it and expect the same lon/lat polygon back.
    to_plane = pyproj.Transformer.from_crs(6668, 6677)  # authority order in and out

    def rewrite(match: re.Match) -> str:
        lat_lon_h = np.array(match.group(1).split(), dtype=float).reshape(-1, 3)
        north, east = to_plane.transform(lat_lon_h[:, 0], lat_lon_h[:, 1])
        return (
            "<gml:posList>"
            + " ".join(f"{n:.4f} {e:.4f}" for n, e in zip(north, east, strict=True))
            + "</gml:posList>"
        )

    text = re.sub(r"<gml:posList>(.*?)</gml:posList>", rewrite, USE_DISTRICT.read_text(encoding="utf-8"))
    text = text.replace('EPSG/0/6697" srsDimension="3"', 'EPSG/0/6677" srsDimension="2"')
    copy = tmp_path / "plane.gml"
    copy.write_text(text, encoding="utf-8")
    plane = read_citygml(copy, codelist_dir=CODELISTS).geometry.iloc[0]
    assert plane.equals_exact(read_citygml(USE_DISTRICT, root=PLATEAU).geometry.iloc[0], 1e-8)  # ~1 mm


# ---------------------------------------------------------------- confinement (issue 18)


def _handover(tmp_path: Path, code_space: str) -> Path:
    """The UseDistrict sample in a sources folder, its codeSpace replaced by ``code_space``."""
    sources = tmp_path / "sources"
    (sources / "udx/urf").mkdir(parents=True)
    shutil.copytree(CODELISTS, sources / "codelists")
    text = USE_DISTRICT.read_text(encoding="utf-8")
    text = text.replace("../../codelists/Common_districtsAndZonesType.xml", code_space)
    copy = sources / "udx/urf" / USE_DISTRICT.name
    copy.write_text(text, encoding="utf-8")
    return copy


def _secret_codelist(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    secret = where / "secret.xml"
    secret.write_text(
        (CODELISTS / "Common_districtsAndZonesType.xml")
        .read_text(encoding="utf-8")
        .replace("第1種低層住居専用地域", "SECRET-LABEL"),
        encoding="utf-8",
    )
    return secret


@pytest.mark.parametrize("form", ["relative", "absolute", "file-url", "symlink"])
def test_code_space_outside_the_sources_folder_is_refused(tmp_path, form):
    secret = _secret_codelist(tmp_path / "elsewhere")
    names = {
        "relative": "../../../elsewhere/secret.xml",
        "absolute": str(secret),
        "file-url": secret.as_uri(),
        "symlink": "../../codelists/link.xml",
    }
    copy = _handover(tmp_path, names[form])
    (tmp_path / "sources/codelists/link.xml").symlink_to(secret)
    with pytest.raises(FormatError, match="codeSpace .* points outside the sources folder") as err:
        read_citygml(copy, root=tmp_path / "sources")
    assert "SECRET" not in str(err.value)


def test_the_refusal_does_not_tell_whether_a_file_exists(tmp_path):
    answers = []
    for name in ("/etc/passwd", "/etc/no-such-file-here", "../../../../../../etc/passwd"):
        copy = _handover(tmp_path / str(len(answers)), name)
        with pytest.raises(FormatError) as err:
            read_citygml(copy, root=copy.parents[2])
        answers.append(str(err.value).replace(name, "NAME").replace(str(copy), "FILE"))
    assert len(set(answers)) == 1, answers


def test_code_space_inside_the_sources_folder_still_labels(tmp_path):
    copy = _handover(tmp_path, "../../codelists/Common_districtsAndZonesType.xml")
    row = read_citygml(copy, root=tmp_path / "sources").iloc[0]
    assert row["function_label"] == "第1種低層住居専用地域"
    web = _handover(tmp_path / "web", "https://www.geospatial.jp/iur/codelists/3.1/x.xml")
    row = read_citygml(web, root=tmp_path / "web/sources").iloc[0]  # nothing fetched: no label
    assert row["function"] == "1" and pd.isna(row["function_label"])


XXE = '<!DOCTYPE core:CityModel [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>\n'


@pytest.mark.parametrize(
    "doctype",
    [XXE, '<!DOCTYPE core:CityModel SYSTEM "/etc/x.dtd">\n', "<!DOCTYPE core:CityModel [<!ENTITY a 'b'>]>\n"],
)
def test_doctype_and_entities_are_refused_naming_the_file(tmp_path, doctype):
    text = USE_DISTRICT.read_text(encoding="utf-8")
    head, _, rest = text.partition("?>\n")
    copy = tmp_path / "xxe.gml"
    copy.write_text(
        f"{head}?>\n{doctype}{rest}".replace("<gml:name>", "<gml:name>&xxe;", 1), encoding="utf-8"
    )
    with pytest.raises(FormatError, match=r"xxe\.gml: has a DOCTYPE .*refused"):
        read_citygml(copy, codelist_dir=CODELISTS)


def test_a_code_list_with_entities_is_refused(tmp_path):
    codelist = tmp_path / "list.xml"
    text = (CODELISTS / "Road_class.xml").read_text(encoding="utf-8")
    head, _, rest = text.partition("?>")
    codelist.write_text(f"{head}?>{XXE}{rest}", encoding="utf-8")
    with pytest.raises(FormatError, match=r"list\.xml: has a DOCTYPE"):
        read_codelist(codelist)
