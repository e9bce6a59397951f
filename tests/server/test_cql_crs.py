"""CQL2 filters and CRSs on the real server, on both stores, checked against Python and pyproj.

Every filter's answer is compared with the same condition evaluated in Python (and shapely) on
the whole layer read without a filter; every coordinate in another CRS with pyproj's own.
"""

import json

import httpx
import pyproj
import pytest
import shapely
from shapely.geometry import shape

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BOX = (140.10, 36.07, 140.13, 36.10)  # around Kenkyu-Gakuen and TX Tsukuba
AREA = "POLYGON((140.10 36.07, 140.13 36.07, 140.13 36.10, 140.10 36.10, 140.10 36.07))"


@pytest.fixture(scope="module")
def client(each_live_server):
    with httpx.Client(base_url=each_live_server.url, timeout=60) as client:
        yield client


_WHOLE: dict[tuple[str, str], list[dict]] = {}


def whole(client, collection: str) -> list[dict]:
    """Every feature of a collection, without a filter (kept per server)."""
    key = (str(client.base_url), collection)
    if key not in _WHOLE:
        page = client.get(f"/api/collections/{collection}/items", params={"limit": 10000}).json()
        assert page["numberReturned"] == page["numberMatched"]
        _WHOLE[key] = page["features"]
    return _WHOLE[key]


def filtered(client, collection: str, expression: str, **params) -> list[dict]:
    response = client.get(
        f"/api/collections/{collection}/items", params={"filter": expression, "limit": 10000, **params}
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["numberMatched"] == page["numberReturned"] == len(page["features"])
    return page["features"]


def ids(features) -> list:
    return sorted(f["id"] for f in features)


def props(name):
    return lambda f: f["properties"].get(name)


CASES = [
    ("shelters", "name LIKE '%小学校%'", lambda f: "小学校" in f["properties"]["name"]),
    ("shelters", "name NOT LIKE '%学校'", lambda f: not f["properties"]["name"].endswith("学校")),
    (
        "shelters",
        "name LIKE '_学校'",
        lambda f: len(f["properties"]["name"]) == 3 and f["properties"]["name"][1:] == "学校",
    ),
    (
        "shelters",
        "same_as_emergency_site = true",
        lambda f: f["properties"]["same_as_emergency_site"] is True,
    ),
    ("shelters", "note IS NULL", lambda f: f["properties"]["note"] is None),
    (
        "shelters",
        "NOT (address IS NULL) AND name <> '桜中学校'",
        lambda f: f["properties"]["address"] is not None and f["properties"]["name"] != "桜中学校",
    ),
    (
        "shelters",
        "name IN ('桜中学校', '竹園東小学校', 'none')",
        lambda f: f["properties"]["name"] in ("桜中学校", "竹園東小学校"),
    ),
    ("flood_sample", "depth_rank BETWEEN 2 AND 4", lambda f: 2 <= f["properties"]["depth_rank"] <= 4),
    ("flood_sample", "depth_rank > 2 OR river = 'x'", lambda f: f["properties"]["depth_rank"] > 2),
    ("towns", "CASEI(town) LIKE CASEI('%学園%')", lambda f: "学園" in (f["properties"]["town"] or "")),
    (
        "area_classification",
        "INDate >= DATE('1970-01-01')",
        lambda f: (f["properties"]["INDate"] or "") >= "1970-01-01",
    ),
    (
        "area_classification",
        "INDate < DATE('1970-01-01')",
        lambda f: (f["properties"]["INDate"] or "9") < "1970-01-01",
    ),
]


@pytest.mark.parametrize(("collection", "expression", "python"), CASES, ids=[c[1] for c in CASES])
def test_attribute_filters_match_python(client, collection, expression, python):
    expected = [f for f in whole(client, collection) if python(f)]
    assert ids(filtered(client, collection, expression)) == ids(expected)


SPATIAL = [
    (f"S_INTERSECTS(geometry, {AREA})", "intersects"),
    (f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, BOX))}))", "intersects"),
    (f"S_WITHIN(geometry, {AREA})", "within"),
    (f"S_DISJOINT(geometry, {AREA})", "disjoint"),
    ("S_CONTAINS(geometry, POINT(140.119562 36.077397))", "contains"),
    (f"S_CONTAINS({AREA}, geometry)", "within"),  # the literal first: the converse
]


@pytest.mark.parametrize("collection", ["towns", "shelters", "road_areas"])
@pytest.mark.parametrize(
    ("expression", "predicate"), SPATIAL, ids=[s[1] + str(i) for i, s in enumerate(SPATIAL)]
)
def test_spatial_filters_match_shapely(client, collection, expression, predicate):
    literal = shapely.box(*BOX) if "POINT" not in expression else shapely.Point(140.119562, 36.077397)
    everything = whole(client, collection)
    expected = [f for f in everything if getattr(shapely, predicate)(shape(f["geometry"]), literal)]
    got = filtered(client, collection, expression)
    assert ids(got) == ids(expected)


def test_gdal_like_filter_with_sortby_and_bbox(client):
    everything = whole(client, "towns")
    expected = [
        f
        for f in everything
        if "竹園" in (f["properties"]["town"] or "") and shape(f["geometry"]).intersects(shapely.box(*BOX))
    ]
    got = filtered(client, "towns", "town LIKE '%竹園%'", bbox=",".join(map(str, BOX)), sortby="-town")
    assert [f["id"] for f in got] == [
        f["id"] for f in sorted(expected, key=lambda f: f["properties"]["town"], reverse=True)
    ] or ids(got) == ids(expected)


def test_cql2_json_equals_text(client):
    text = filtered(
        client, "towns", f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, BOX))})) AND town LIKE '%竹園%'"
    )
    document = {
        "op": "and",
        "args": [
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": list(BOX)}]},
            {"op": "like", "args": [{"property": "town"}, "%竹園%"]},
        ],
    }
    as_json = filtered(client, "towns", json.dumps(document), **{"filter-lang": "cql2-json"})
    assert ids(as_json) == ids(text) and text
    between = {"op": "between", "args": [{"property": "depth_rank"}, 2, 4]}
    got = filtered(client, "flood_sample", json.dumps(between), **{"filter-lang": "cql2-json"})
    assert ids(got) == ids(filtered(client, "flood_sample", "depth_rank BETWEEN 2 AND 4"))
    after = {"op": "t_after", "args": [{"property": "INDate"}, {"date": "1970-01-01"}]}
    got = filtered(client, "area_classification", json.dumps(after), **{"filter-lang": "cql2-json"})
    assert ids(got) == ids(filtered(client, "area_classification", "INDate > DATE('1970-01-01')"))


def test_filter_crs_moves_the_literal(client):
    lat_first = f"S_INTERSECTS(geometry, BBOX({BOX[1]}, {BOX[0]}, {BOX[3]}, {BOX[2]}))"
    got = filtered(client, "towns", lat_first, **{"filter-crs": f"{EPSG}4326"})
    assert ids(got) == ids(
        filtered(client, "towns", f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, BOX))}))")
    )
    to_plane = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:6677")
    x, y = to_plane.transform(140.119562, 36.077397)  # X northing, Y easting
    got = filtered(client, "towns", f"S_CONTAINS(geometry, POINT({x} {y}))", **{"filter-crs": f"{EPSG}6677"})
    assert ids(got) == ids(filtered(client, "towns", "S_CONTAINS(geometry, POINT(140.119562 36.077397))"))
    assert len(got) == 1


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"filter": "name LIKE"}, ["line 1, column 6"]),
        ({"filter": "name = = 'x'"}, ["unexpected '='", "line 1, column 8"]),
        ({"filter": "review_status = 'x'"}, ["not a queryable"]),  # an internal field on /api
        ({"filter": "name = 3"}, ["string property"]),
        ({"filter": "depth_rank + 1 = 3"}, ["arithmetic"]),
        ({"filter": '{"op": "like"', "filter-lang": "cql2-json"}, ["not JSON", "character"]),
        ({"filter": '{"op": "nope", "args": []}', "filter-lang": "cql2-json"}, ["not a CQL2 JSON"]),
        ({"filter": "name = 'x'", "filter-lang": "cql-ish"}, ["filter-lang"]),
        ({"filter": "name = 'x'", "filter-crs": "EPSG:9999"}, ["filter-crs"]),
        ({"filter": "S_INTERSECTS(geometry, 'x')"}, ["geometry literal"]),
        ({"filter": "x" * 30000}, ["longer than"]),
    ],
)
def test_bad_filters_say_where_and_why(client, params, words):
    collection = (
        "flood_sample" if "depth_rank" in params["filter"] or "review" in params["filter"] else "shelters"
    )
    response = client.get(f"/api/collections/{collection}/items", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "InvalidParameterValue"
    for word in words:
        assert word in body["description"]
    assert "Traceback" not in response.text


def test_filter_is_declared_and_queryables_have_labels(client):
    conformance = client.get("/api/conformance", params={"f": "json"}).json()["conformsTo"]
    for suffix in ("ogcapi-features-3/1.0/conf/filter", "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/cql2-json"):
        assert f"http://www.opengis.net/spec/{suffix}" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance
    queryables = client.get("/api/collections/shelters/queryables", params={"f": "json", "lang": "en"}).json()
    assert queryables["properties"]["name"]["title"] == "Name"
    assert queryables["properties"]["geometry"]["format"] == "geometry-point"
    ja = client.get("/api/collections/area_classification/queryables", params={"f": "json"}).json()
    assert ja["properties"]["INDate"] == {"title": "当初決定日", "type": "string", "format": "date"}
    assert (
        "review_status"
        not in client.get("/api/collections/flood_sample/queryables", params={"f": "json"}).text
    )


# -- CRS ----------------------------------------------------------------------------------------


def _points(geometry) -> list[tuple[float, float]]:
    return [tuple(c) for c in shapely.get_coordinates(shape(geometry)).tolist()]


@pytest.mark.parametrize(("code", "tolerance"), [(6677, 1e-3), (3857, 1e-3), (4326, 1e-7), (6668, 1e-7)])
@pytest.mark.parametrize("collection", ["shelters", "towns"])
def test_crs_coordinates_equal_pyproj(client, code, tolerance, collection):
    uri = f"{EPSG}{code}"
    params = {"limit": 20, "sortby": "-" + ("name" if collection == "shelters" else "town")}
    plain = client.get(f"/api/collections/{collection}/items", params=params).json()["features"]
    response = client.get(f"/api/collections/{collection}/items", params={**params, "crs": uri})
    assert response.status_code == 200
    assert response.headers["content-crs"] == f"<{uri}>"
    assert response.headers["content-type"] == "application/geo+json"
    moved = response.json()["features"]
    transformer = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")  # the CRS's axis order
    assert [f["id"] for f in moved] == [f["id"] for f in plain]
    for before, after in zip(plain, moved, strict=True):
        for (lon, lat), (a, b) in zip(_points(before["geometry"]), _points(after["geometry"]), strict=True):
            first, second = transformer.transform(lon, lat)
            assert abs(a - first) <= tolerance and abs(b - second) <= tolerance
    if code in (4326, 6668):  # latitude first
        lon, lat = _points(plain[0]["geometry"])[0]
        assert _points(moved[0]["geometry"])[0] == pytest.approx((lat, lon), abs=1e-6)
    if code == 6677:  # X northing (about 9 km north of the zone origin), Y easting
        x, y = _points(moved[0]["geometry"])[0]
        assert 0 < x < 30_000 and 0 < y < 40_000


def test_one_feature_in_6677(client):
    uri = f"{EPSG}6677"
    response = client.get("/api/collections/shelters/items/E0822000021111", params={"crs": uri})
    assert response.status_code == 200 and response.headers["content-crs"] == f"<{uri}>"
    assert response.headers["content-type"] == "application/geo+json"
    x, y = response.json()["geometry"]["coordinates"]
    expected = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:6677").transform(140.129771, 36.098502)
    assert abs(x - expected[0]) < 1e-3 and abs(y - expected[1]) < 1e-3


@pytest.mark.parametrize("code", [4326, 6668, 6677, 3857])
def test_bbox_crs_selects_the_same_features(client, code):
    box = shapely.box(*BOX)
    transformer = pyproj.Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")
    # The CRS84 box as seen in the other CRS, and back: the densified bounds cover the box.
    bounds = transformer.transform_bounds(*BOX, densify_pts=21)
    wide = shapely.box(*pyproj.Transformer.from_crs(f"EPSG:{code}", "OGC:CRS84").transform_bounds(*bounds))
    params = {"bbox": ",".join(map(str, bounds)), "bbox-crs": f"{EPSG}{code}", "limit": 10000}
    got = client.get("/api/collections/towns/items", params=params).json()["features"]
    expected = [f for f in whole(client, "towns") if shape(f["geometry"]).intersects(wide)]
    assert ids(got) == ids(expected)
    assert len(got) >= len([f for f in expected if shape(f["geometry"]).intersects(box)]) > 0


def test_collection_lists_its_crs(client):
    collection = client.get("/api/collections/shelters", params={"f": "json"}).json()
    assert collection["storageCrs"] == CRS84
    assert set(collection["crs"]) == {CRS84, *(f"{EPSG}{c}" for c in (4326, 6668, 6677, 3857))}
    response = client.get("/api/collections/shelters/items", params={"crs": f"{EPSG}2451"})
    assert response.status_code == 400 and "not supported" in response.json()["description"]
