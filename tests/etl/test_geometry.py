"""Each geometry rule of etl/geometry.py on its own, then through the pipeline."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from handover import entry, field, write_geojson

from etl import geometry
from etl.source import ROW

BOX = shapely.box(140.10, 36.10, 140.11, 36.11)
BOWTIE = shapely.Polygon([(140.10, 36.10), (140.11, 36.11), (140.11, 36.10), (140.10, 36.11)])


def _frame(geoms, crs="EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"f{i}" for i in range(len(geoms))], ROW: np.arange(1, len(geoms) + 1)},
        geometry=list(geoms),
        crs=crs,
    )


def _clean(geoms, kind="polygon"):
    return geometry.clean(_frame(geoms), kind, "test.geojson")


def test_make_valid_keeps_the_layer_type():
    result = _clean([BOWTIE])
    (geom,) = result.frame.geometry
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    assert geom.area == pytest.approx(
        BOWTIE.buffer(0).area + BOWTIE.reverse().buffer(0).area, rel=0.5
    )  # both lobes kept, not one
    assert result.repaired_count == 1
    assert result.repaired[0]["row"] == 1 and "Self-intersection" in result.repaired[0]["reason"]


def test_polygon_that_collapses_to_a_line_is_rejected_not_changed_into_a_line():
    flat = shapely.Polygon([(140.1, 36.1), (140.2, 36.1), (140.15, 36.1), (140.1, 36.1)])
    result = _clean([flat, BOX])
    assert len(result.frame) == 1
    (reject,) = result.rejects
    assert reject.row == 1 and "cannot be repaired into a valid polygon" in reject.reason


def test_promote_to_multi_and_rfc7946_winding():
    clockwise_with_hole = shapely.Polygon(
        shapely.box(140.10, 36.10, 140.13, 36.13).exterior.coords[::-1],
        [shapely.box(140.11, 36.11, 140.12, 36.12).exterior.coords],
    )
    assert clockwise_with_hole.exterior.is_ccw is False
    (geom,) = _clean([clockwise_with_hole]).frame.geometry
    assert geom.geom_type == "MultiPolygon"
    polygon = geom.geoms[0]
    assert polygon.exterior.is_ccw and not polygon.interiors[0].is_ccw


def test_lines_are_promoted_too():
    line = shapely.LineString([(140.1, 36.1), (140.2, 36.2)])
    (geom,) = _clean([line], "line").frame.geometry
    assert geom.geom_type == "MultiLineString"


def test_single_point_multipoint_is_unwrapped_and_a_real_multipoint_rejected():
    one = shapely.MultiPoint([(140.1, 36.1)])
    two = shapely.MultiPoint([(140.1, 36.1), (140.2, 36.2)])
    result = _clean([one, two], "point")
    assert result.frame.geometry.iloc[0].geom_type == "Point"
    assert "a MultiPoint cannot go into a point layer" in result.rejects[0].reason


def test_drop_z_before_reprojection():
    frame = _frame([shapely.Point(140.1, 36.1, 25.0)])
    kept, rejects = geometry.drop_missing(frame, "x")
    assert not rejects and not shapely.has_z(kept.geometry.iloc[0])


def test_empty_and_null_are_rejected_with_reason():
    frame = _frame([None, shapely.Polygon(), BOX])
    kept, rejects = geometry.drop_missing(frame, "x.shp")
    assert len(kept) == 1
    assert [r.row for r in rejects] == [1, 2]
    assert all(r.reason.startswith("no geometry") and r.source == "x.shp" for r in rejects)
    assert rejects[0].attributes == {"name": "f0"}


def test_out_of_japan_names_swapped_axes():
    swapped = shapely.Point(36.1, 140.1)  # lat, lon
    abroad = shapely.Point(2.35, 48.85)  # Paris
    result = _clean([swapped, abroad, shapely.Point(140.1, 36.1)], "point")
    assert len(result.frame) == 1
    assert "look swapped" in result.rejects[0].reason
    paris = result.rejects[1].reason
    assert "swapped" not in paris and "check the coordinates" in paris


def test_non_finite_coordinates_are_outside_japan():
    result = _clean([shapely.Point(np.inf, 36.1)], "point")
    assert len(result.frame) == 0 and "outside Japan" in result.rejects[0].reason


def test_swapped_lat_lon_recognised_before_reprojection():
    frame = _frame([shapely.Point(36.1, 140.1), shapely.Point(140.1, 36.1)], crs="EPSG:6668")
    kept, rejects = geometry.check_source_extent(frame, "x.csv")
    assert len(kept) == 1 and "look swapped" in rejects[0].reason and rejects[0].row == 1


def test_projected_source_is_not_checked_before_reprojection():
    frame = _frame([shapely.Point(0, 0)], crs="EPSG:6677")
    kept, rejects = geometry.check_source_extent(frame, "x.shp")
    assert len(kept) == 1 and not rejects


def test_collection_of_the_right_parts_is_flattened_and_mixed_one_rejected():
    good = shapely.GeometryCollection([BOX, shapely.box(140.2, 36.2, 140.21, 36.21)])
    mixed = shapely.GeometryCollection([BOX, shapely.Point(140.3, 36.3)])
    result = _clean([good, mixed])
    assert result.frame.geometry.iloc[0].geom_type == "MultiPolygon"
    assert "a GeometryCollection cannot go into a polygon layer" in result.rejects[0].reason


def test_wrong_dimension_is_rejected():
    result = _clean([shapely.Point(140.1, 36.1)])
    assert "a Point cannot go into a polygon layer" in result.rejects[0].reason


def test_pipeline_counts_repaired_and_shows_them(project):
    features = [
        {
            "type": "Feature",
            "properties": {"番号": str(i), "名称": "区画", "区分": "x"},
            "geometry": shapely.geometry.mapping(g),
        }
        for i, g in enumerate([BOWTIE, BOX])
    ]
    write_geojson(project.sources / "area.geojson", features)
    project.define(
        "area",
        {"path": "area.geojson"},
        geometry="polygon",
        fields=[field("site_id", "番号"), field("name", "名称"), field("kind", "区分")],
    )
    result = entry(project.run("area"), "area")
    assert (result.status, result.read, result.loaded, result.repaired, result.rejected) == (
        "loaded",
        2,
        2,
        1,
        0,
    )
    assert result.repaired_examples == [
        {"file": "area.geojson", "row": 1, "reason": result.repaired_examples[0]["reason"]}
    ]
    html = (project.settings.data_dir / "report.html").read_text(encoding="utf-8")
    assert "/ repaired (1)" in html  # a layer of the QA map highlights it
