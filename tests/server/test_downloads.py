"""Download what you filtered: items as CSV and GeoPackage for any query, on both stores."""

import csv
import io

import httpx
import pyogrio
import pyproj
import pytest
import shapely

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
FILTER = "name LIKE '%小学校%'"


@pytest.fixture(scope="module")
def client(each_live_server):
    with httpx.Client(base_url=each_live_server.url, timeout=60) as client:
        yield client


def _json(client, collection, **params):
    page = client.get(f"/api/collections/{collection}/items", params={"limit": 10000, **params}).json()
    return page["features"]


def test_csv_is_the_whole_filtered_result(client):
    response = client.get("/api/collections/shelters/items", params={"f": "csv", "filter": FILTER})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="shelters.csv"'
    assert response.content.startswith("\ufeff".encode())  # Japanese Excel reads UTF-8 with a BOM
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    expected = _json(client, "shelters", filter=FILTER)
    assert sorted(r["id"] for r in rows) == sorted(f["id"] for f in expected) and len(rows) > 10
    by_id = {f["id"]: f for f in expected}
    for row in rows:
        point = shapely.from_wkt(row["geometry_wkt"])
        assert point.equals_exact(shapely.geometry.shape(by_id[row["id"]]["geometry"]), 1e-7)
        assert row["name"] == by_id[row["id"]]["properties"]["name"]


def test_whole_layer_beyond_one_page(client):
    response = client.get("/api/collections/road_areas/items", params={"f": "csv", "sortby": "-gml_id"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 463  # more than the default page of 100
    assert [r["gml_id"] for r in rows] == sorted((r["gml_id"] for r in rows), reverse=True)
    cut = client.get("/api/collections/road_areas/items", params={"f": "csv", "limit": 7, "offset": 3})
    assert len(list(csv.DictReader(io.StringIO(cut.content.decode("utf-8-sig"))))) == 7


def test_gpkg_in_plane_rectangular_ix(client, tmp_path):
    params = {"f": "gpkg", "filter": "S_INTERSECTS(geometry, BBOX(140.10, 36.07, 140.13, 36.10))"}
    response = client.get("/api/collections/towns/items", params={**params, "crs": f"{EPSG}6677"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "towns.gpkg"
    path.write_bytes(response.content)
    frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 6677
    expected = {f["id"]: f for f in _json(client, "towns", filter=params["filter"])}
    assert sorted(frame["id"]) == sorted(expected) and len(frame) > 5
    to_plane = pyproj.Transformer.from_crs("OGC:CRS84", "EPSG:6677", always_xy=True)  # GPKG: easting first
    for fid, geom in zip(frame["id"], frame.geometry, strict=True):
        lon, lat = expected[fid]["geometry"]["coordinates"]
        east, north = to_plane.transform(lon, lat)
        x, y = shapely.get_coordinates(geom)[0]
        assert abs(x - east) < 1e-3 and abs(y - north) < 1e-3


def test_empty_result_is_an_empty_layer(client, tmp_path):
    response = client.get(
        "/api/collections/shelters/items", params={"f": "gpkg", "filter": "name = 'どこにもない'"}
    )
    path = tmp_path / "empty.gpkg"
    path.write_bytes(response.content)
    info = pyogrio.read_info(path)
    assert info["features"] == 0 and "name" in list(info["fields"])


def test_downloads_refuse_what_pages_refuse(client):
    for params in ({"f": "csv", "filter": "name LIKE"}, {"f": "gpkg", "properties": "review_status"}):
        response = client.get("/api/collections/flood_sample/items", params=params)
        assert response.status_code == 400 and response.json()["code"] == "InvalidParameterValue"
    internal = client.get("/api/collections/flood_sample/items", params={"f": "csv"}).text
    assert "review_status" not in internal and "depth_rank" in internal
    assert client.get("/api/collections/opendata-catalog/items", params={"f": "csv"}).status_code == 400
