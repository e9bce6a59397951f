"""read_fgd_gml on the real GSI 基盤地図情報 GML samples (tests/fixtures/fgd)."""

import shutil
from pathlib import Path

import pyogrio
import pytest

from etl.formats import FormatError
from etl.formats.fgd import read_fgd_gml

FGD = Path(__file__).resolve().parents[1] / "fixtures" / "fgd"
BLDA = FGD / "BldA.xml"
RDCOMPT = FGD / "RdCompt.xml"
BLDA_SOURCE = FGD / "BldA_source.xml"


def _inside(frame, bbox, tol=1e-5):
    x0, y0, x1, y1 = frame.total_bounds
    return bbox[0] - tol <= x0 and x1 <= bbox[2] + tol and bbox[1] - tol <= y0 and y1 <= bbox[3] + tol


def test_blda_three_building_polygons():
    frame = read_fgd_gml(BLDA)
    assert len(frame) == 3
    assert frame.crs.to_epsg() == 6668
    assert frame["_row"].tolist() == [1, 2, 3]
    assert set(frame["feature_type"]) == {"BldA"}
    assert frame.geom_type.tolist() == ["Polygon"] * 3
    assert frame.is_valid.all()
    first = frame.iloc[0]
    assert first["gml_id"] == "K17_5026512840_298334"
    assert first["fid"] == "20161209-50295-12846-s-11705"
    assert (first["lfSpanFr"], first["devDate"]) == ("2016-12-09", "2016-12-10")
    assert first["orgGILvl"] == "2500"  # a schema enumeration value, kept as text
    assert frame["type"].tolist() == ["堅ろう建物", "普通建物", "普通建物"]
    # posList "35.688618 139.708789472" is lat lon: x must be the longitude
    assert first.geometry.exterior.coords[0] == (139.708789472, 35.688618)
    assert _inside(frame, (139.70168, 35.67348, 139.71211, 35.74416))


def test_rdcompt_two_lines_with_attributes():
    frame = read_fgd_gml(RDCOMPT)
    assert len(frame) == 2
    assert frame.geom_type.tolist() == ["LineString", "LineString"]
    assert frame["vis"].tolist() == ["表示", "非表示"]
    assert set(frame["type"]) == {"分離帯"} and set(frame["admOffice"]) == {"不明"}
    assert frame["fid"].tolist() == ["50265-12870-s-11690", "50265-12870-s-11691"]
    assert [len(g.coords) for g in frame.geometry] == [56, 2]
    assert list(frame.geometry.iloc[1].coords) == [
        (139.625454944, 35.757679611),
        (139.625469639, 35.757650722),
    ]
    assert _inside(frame, (139.62545, 35.75658, 139.62659, 35.75768))


def test_synthetic_blda_source():
    frame = read_fgd_gml(BLDA_SOURCE)
    assert len(frame) == 1 and frame.geom_type.iloc[0] == "Polygon"
    assert _inside(frame, (139.71844, 35.69522, 139.71855, 35.69535))


@pytest.mark.parametrize("path", [BLDA, RDCOMPT, BLDA_SOURCE], ids=lambda p: p.name)
def test_geometry_equals_gdal(path, tmp_path):
    # GDAL's GML registry reads FGD correctly: same coordinates (to float parsing noise).
    copy = shutil.copy(path, tmp_path / path.name)
    gdal = pyogrio.read_dataframe(copy, WRITE_GFS="NO")
    ours = read_fgd_gml(path)
    assert gdal["gml_id"].tolist() == ours["gml_id"].tolist()
    for a, b in zip(ours.geometry, gdal.geometry, strict=True):
        assert a.equals_exact(b, 1e-12)
    for column in ("fid", "lfSpanFr", "devDate", "orgGILvl", "type"):
        assert ours[column].tolist() == gdal[column].tolist()


@pytest.mark.parametrize(("srs_name", "epsg"), [("fguuid:jgd2000.bl", 4612), ("fguuid:jgd2024.bl", 6668)])
def test_other_geographic_srs_names(tmp_path, srs_name, epsg):
    copy = tmp_path / "BldA.xml"
    copy.write_text(BLDA.read_text(encoding="utf-8").replace("fguuid:jgd2011.bl", srs_name), encoding="utf-8")
    frame = read_fgd_gml(copy)
    assert frame.crs.to_epsg() == epsg
    assert frame.geometry.iloc[0].exterior.coords[0] == (139.708789472, 35.688618)


def test_unknown_srs_name_raises(tmp_path):
    copy = tmp_path / "BldA_xy.xml"
    copy.write_text(
        BLDA.read_text(encoding="utf-8").replace("fguuid:jgd2011.bl", "fguuid:jgd2011.xy.9"), encoding="utf-8"
    )
    with pytest.raises(FormatError, match=r"BldA_xy\.xml: line \d+: <posList>: unknown srsName"):
        read_fgd_gml(copy)


def test_mixed_crs_in_one_file_raises(tmp_path):
    copy = tmp_path / "BldA_mixed.xml"
    copy.write_text(
        BLDA.read_text(encoding="utf-8").replace("fguuid:jgd2011.bl", "fguuid:jgd2000.bl", 1),
        encoding="utf-8",
    )
    with pytest.raises(FormatError, match="one file must have one CRS"):
        read_fgd_gml(copy)


def test_truncated_file_raises_format_error_with_file_and_line(tmp_path):
    broken = tmp_path / "broken_BldA.xml"
    broken.write_bytes(BLDA.read_bytes()[:2000])
    with pytest.raises(FormatError, match=r"broken_BldA\.xml: line \d+: malformed XML"):
        read_fgd_gml(broken)


def test_not_fgd_raises(tmp_path):
    with pytest.raises(FormatError, match="not an FGD GML Dataset"):
        read_fgd_gml(
            shutil.copy(
                FGD.parent / "plateau" / "udx" / "urf" / "534071_urf_6697_08_op.gml", tmp_path / "urf.gml"
            )
        )


ELEVPT = """<?xml version="1.0" encoding="utf-8"?>
<Dataset xmlns:gml="http://www.opengis.net/gml/3.2" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema"
  gml:id="Dataset1">
<ElevPt gml:id="K1_1">
<fid>fgoid:10-00200-11-4571-123</fid>
<lfSpanFr gml:id="K1_1-1"><gml:timePosition>2019-05-21</gml:timePosition></lfSpanFr>
<devDate gml:id="K1_1-2"><gml:timePosition>2019-05-21</gml:timePosition></devDate>
<orgGILvl>2500</orgGILvl>
<vis>表示</vis>
<pos><gml:Point gml:id="K1_1-g" srsName="fguuid:jgd2011.bl">
<gml:pos>36.082500 140.111000</gml:pos></gml:Point></pos>
<type>標高点（測点）</type>
<alti>{alti}</alti>
</ElevPt>
</Dataset>
"""


def test_point_feature_and_numeric_property(tmp_path):
    # Schema-shaped ElevPt (no real sample in the repo): a point and a typed number.
    path = tmp_path / "ElevPt.xml"
    path.write_text(ELEVPT.format(alti="25.3"), encoding="utf-8")
    row = read_fgd_gml(path).iloc[0]
    assert row["feature_type"] == "ElevPt"
    assert row.geometry.geom_type == "Point"
    assert (row.geometry.x, row.geometry.y) == (140.111, 36.0825)
    assert row["alti"] == 25.3 and row["lfSpanFr"] == "2019-05-21"
    path.write_text(ELEVPT.format(alti="abc"), encoding="utf-8")
    with pytest.raises(FormatError, match=r"ElevPt\.xml: line 13: <alti>: 'abc' is not a number"):
        read_fgd_gml(path)
