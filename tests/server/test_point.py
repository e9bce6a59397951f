"""/point on a real server: what applies at a point, nearby features, nearest shelters, reports."""

import csv
import io
import math
import re
import statistics
import time

import pytest
import shapely

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import Query, open_store

CATALOG = load_catalog(PROJECT_ROOT / "layers")
PUBLIC = {layer.id for layer in CATALOG.public_layers()}
INTERNAL = [layer for layer in CATALOG.layers.values() if layer.access == "internal"]
# Inside the PLATEAU UseDistrict 第1種低層住居専用地域 (BCR 40 / FAR 80), checked below.
ZONED = {"lat": 35.9909, "lon": 140.13296}


@pytest.fixture(scope="module")
def client(app_client):
    return app_client  # in-process (tests/conftest.py AppClient)


@pytest.fixture(scope="module")
def report(client):
    response = client.get("/point", params=ZONED)
    assert response.status_code == 200, response.text
    return response.json()


def layer(report, layer_id):
    return next(entry for entry in report["layers"] if entry["id"] == layer_id)


def values(feature):
    return {p["name"]: p["value"] for p in feature["properties"]}


def test_the_point_is_inside_the_zoning_polygon(sample_settings):
    store = open_store(sample_settings.store_url)
    page = store.query(store.current("zoning"), Query(limit=10))
    polygon = shapely.from_wkb(page.wkb[0])
    assert polygon.contains(shapely.Point(ZONED["lon"], ZONED["lat"]))
    assert shapely.Point(ZONED["lon"], ZONED["lat"]).distance(polygon.boundary) > 0.0006  # ~70 m


def test_zoning_with_bcr_and_far(report):
    zoning = layer(report, "zoning")
    assert len(zoning["here"]) == 1
    props = values(zoning["here"][0])
    assert zoning["here"][0]["name"] == props["YoutoName"] == "第1種低層住居専用地域"
    assert props["BCR"] == 40 and props["FAR"] == 80
    labels = {p["name"]: p["label"]["ja"] for p in zoning["here"][0]["properties"]}
    assert labels["BCR"] == "建蔽率（%）" and labels["FAR"] == "容積率（%）"
    assert zoning["here"][0]["distance_m"] == 0


def test_every_public_layer_is_answered_and_nothing_else(report):
    assert {entry["id"] for entry in report["layers"]} == PUBLIC
    assert layer(report, "area_classification")["here"][0]["name"] == "市街化区域"
    assert layer(report, "urban_planning_area")["here"]
    # Layers whose data does not reach the point say so (not "none").
    assert layer(report, "road_areas")["coverage"] == "outside"
    flood = layer(report, "flood_sample")
    assert flood["synthetic"] is True and "サンプル（架空）" in flood["title"]["ja"]


def test_nearest_shelters_and_emergency_sites_with_straight_line_distance(report):
    groups = {group["layer"]: group["features"] for group in report["nearest"]}
    assert set(groups) == {"shelters", "emergency_sites"}
    for features in groups.values():
        assert len(features) == 3
        distances = [f["distance_m"] for f in features]
        assert distances == sorted(distances) and distances[0] > 0
        for feature in features:
            assert feature["walk_min"] == -(-feature["distance_m"] // 80)
            assert feature["name"] and "lat" in feature and "lon" in feature
    assert report["distance"] == "straight-line" and report["walk_m_per_min"] == 80


def test_nearest_is_really_the_nearest(client, sample_settings, report):
    store = open_store(sample_settings.store_url)
    page = store.query(store.current("shelters"), Query(limit=1000))
    points = shapely.from_wkb(page.wkb)
    # Local metres, as the server computes them (equirectangular around the point).
    ky = math.radians(6_371_008.8)
    kx = ky * math.cos(math.radians(ZONED["lat"]))
    dist = sorted(math.hypot((p.x - ZONED["lon"]) * kx, (p.y - ZONED["lat"]) * ky) for p in points)
    got = next(g for g in report["nearest"] if g["layer"] == "shelters")["features"]
    assert all(abs(f["distance_m"] - d) <= 1 for f, d in zip(got, dist[:3], strict=True))


def test_radius_lists_what_is_near_a_boundary(client, sample_settings):
    """Just outside the zoning polygon the zoning is listed as nearby, with its distance."""
    store = open_store(sample_settings.store_url)
    polygon = shapely.from_wkb(store.query(store.current("zoning"), Query(limit=1)).wkb[0])
    west = polygon.bounds[0]
    y = polygon.centroid.y
    # The westernmost boundary crossing at the centroid's latitude, then ~40 m further west.
    line = shapely.LineString([(west - 0.01, y), (polygon.centroid.x, y)])
    edge = min(shapely.get_coordinates(line.intersection(polygon.boundary))[:, 0])
    body = client.get("/point", params={"lat": y, "lon": edge - 0.00045, "radius": 100}).json()
    zoning = layer(body, "zoning")
    assert zoning["here"] == []
    assert zoning["nearby"] and 20 < zoning["nearby"][0]["distance_m"] < 60
    body = client.get("/point", params={"lat": y, "lon": edge - 0.00045, "radius": 10}).json()
    assert layer(body, "zoning")["nearby"] == []


def test_csv_report(client):
    response = client.get("/point", params={**ZONED, "f": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "地名" and rows[0][1].endswith("丁目")  # the place first
    assert rows[2][:5] == ["区分", "レイヤ", "名称", "項目", "値"]
    expected = ["この地点", "用途地域", "第1種低層住居専用地域", "建蔽率（%）", "40"]
    assert expected in [r[:5] for r in rows]
    assert any(r[0] == "最寄り" and r[6] for r in rows)
    assert any("直線距離" in r[0] for r in rows[-4:])
    english = client.get("/point", params={**ZONED, "f": "csv", "lang": "en"}).text
    assert "Building coverage ratio (%)" in english and "Nearest" in english


def test_html_report(client):
    response = client.get("/point", params={**ZONED, "f": "html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    text = response.text
    assert "この地点の情報" in text and "第1種低層住居専用地域" in text and "直線距離" in text
    # Nothing to fetch: no script, no link or source outside the page (credits name URLs as text).
    assert "<script" not in text and not re.search(r"""(src|href)=["']?https?:""", text)
    assert "default-src 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "MissingParameterValue"),
        ({"lat": "36.08"}, "MissingParameterValue"),
        ({"lat": "abc", "lon": "140.11"}, "InvalidParameterValue"),
        ({"lat": "nan", "lon": "140.11"}, "InvalidParameterValue"),
        ({"lat": "inf", "lon": "140.11"}, "InvalidParameterValue"),
        ({"lat": "95", "lon": "140.11"}, "InvalidParameterValue"),
        ({"lat": "35.68", "lon": "139.76"}, "InvalidParameterValue"),  # Tokyo: outside Tsukuba
        ({"lat": "140.11", "lon": "36.08"}, "InvalidParameterValue"),  # swapped
        ({**ZONED, "radius": "-1"}, "InvalidParameterValue"),
        ({**ZONED, "radius": "5000"}, "InvalidParameterValue"),
        ({**ZONED, "nearest": "2.5"}, "InvalidParameterValue"),
        ({**ZONED, "f": "xml"}, "InvalidParameterValue"),
        ({**ZONED, "lang": "fr"}, "InvalidParameterValue"),
    ],
)
def test_bad_input_is_400_never_500(client, params, code):
    response = client.get("/point", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == code and body["description"]


def test_nothing_internal_leaks(client, sample_settings, report):
    store = open_store(sample_settings.store_url)
    text = client.get("/point", params={**ZONED, "radius": 500, "nearest": 10}).text
    csv_text = client.get("/point", params={**ZONED, "f": "csv", "nearest": 10}).text
    for internal in INTERNAL:
        assert internal.id not in text and internal.title.ja not in text
        public_fields = {f.name for f in CATALOG.layers["shelters"].fields}
        for field in internal.fields:
            if field.name not in public_fields:
                assert f'"{field.name}"' not in text and field.label.ja not in csv_text
        page = store.query(store.current(internal.id), Query(limit=1000))
        secret = {
            str(props[f.name])
            for props in page.properties
            for f in internal.fields
            if f.name not in public_fields and props.get(f.name)
        }
        assert secret and not any(value in text or value in csv_text for value in secret)


def test_answers_in_milliseconds(client):
    took = []
    for i in range(20):
        params = {"lat": 36.0 + i * 0.01, "lon": 140.05 + i * 0.003}
        body = client.get("/point", params=params).json()
        took.append(body["took_ms"])
    started = time.perf_counter()
    client.get("/point", params=ZONED)
    assert (time.perf_counter() - started) < 1
    assert statistics.median(took) < 50, took
