"""The public OGC API on a real server: walk it as a GIS client would."""

import httpx
import pytest

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT

INTERNAL_LAYER = "shelters_staff"


@pytest.fixture(scope="module")
def client(each_app_client):
    return each_app_client  # in-process (tests/conftest.py AppClient)


def _link(document: dict, rel: str) -> str | None:
    return next((link["href"] for link in document["links"] if link["rel"] == rel), None)


def test_landing_page_links_are_right_behind_the_mount(each_live_server):
    live_server = each_live_server  # a real server: the links carry its own address
    for path in ("/api", "/api/"):
        response = httpx.get(f"{live_server.url}{path}", params={"f": "json"}, timeout=30)
        assert response.status_code == 200
        landing = response.json()
        assert _link(landing, "data") == f"{live_server.url}/api/collections"
        assert _link(landing, "conformance") == f"{live_server.url}/api/conformance"
        assert _link(landing, "service-desc").startswith(f"{live_server.url}/api/openapi")


def test_japanese_text_is_utf8_json(client):
    response = client.get("/api/collections/shelters/items", params={"limit": 5})
    assert response.headers["content-type"].startswith("application/")
    assert "桜中学校" in response.content.decode("utf-8")  # raw UTF-8, not \\u escapes
    assert "\\u" not in response.text


def test_walk_collections_and_page_through_every_item(client):
    catalog = load_catalog(PROJECT_ROOT / "layers")
    collections = client.get("/api/collections", params={"f": "json"}).json()["collections"]
    ids = {
        c["id"] for c in collections if c.get("itemType") == "feature"
    }  # not the records catalog, nor coverages
    assert ids == {layer.id for layer in catalog.public_layers()}
    url = next(
        link["href"]
        for link in next(c for c in collections if c["id"] == "towns")["links"]
        if link["rel"] == "items" and "json" in link["type"]
    )
    seen, pages = [], 0
    url = f"{url}&limit=50" if "?" in url else f"{url}?limit=50"
    while url and pages < 50:
        page = client.get(url).json()
        assert page["numberMatched"] == 311
        seen += [f["id"] for f in page["features"]]
        url, pages = _link(page, "next"), pages + 1
    assert len(seen) == len(set(seen)) == 311


def test_bbox_filters_by_geometry(client):
    bbox = "140.10,36.07,140.13,36.10"  # around Kenkyu-Gakuen and TX Tsukuba
    page = client.get("/api/collections/shelters/items", params={"bbox": bbox, "limit": 500}).json()
    assert 0 < page["numberMatched"] < 114
    for feature in page["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert 140.10 <= lon <= 140.13 and 36.07 <= lat <= 36.10
    roads = client.get("/api/collections/road_areas/items", params={"bbox": bbox, "limit": 1}).json()
    assert roads["numberMatched"] > 0 and roads["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_one_item_and_queryables(client):
    item = client.get("/api/collections/shelters/items/E0822000021111").json()
    assert item["properties"]["name"] == "桜中学校"
    queryables = client.get("/api/collections/shelters/queryables", params={"f": "json"}).json()
    assert "name" in queryables["properties"]
    filtered = client.get("/api/collections/shelters/items", params={"name": "桜中学校"}).json()
    assert [f["id"] for f in filtered["features"]] == ["E0822000021111"]


@pytest.mark.parametrize(
    "path,params,status",
    [
        ("/api/collections/shelters/items", {"bbox": "1,2,3"}, 400),
        ("/api/collections/shelters/items", {"bbox": "a,b,c,d"}, 400),
        ("/api/collections/shelters/items", {"limit": "-1"}, 400),
        ("/api/collections/shelters/items", {"limit": "abc"}, 400),
        ("/api/collections/shelters/items", {"offset": "-5"}, 400),
        ("/api/collections/shelters/items", {"limit": "100000"}, 400),
        ("/api/collections/shelters/items", {"sortby": "nonexistent"}, 400),
        ("/api/collections/shelters/items", {"f": "xml"}, 400),
        ("/api/collections/nope", {}, 404),
        ("/api/collections/nope/items", {}, 404),
        ("/api/collections/shelters/items/NOPE", {}, 404),
        ("/api/no/such/path", {}, 404),
    ],
)
def test_malformed_requests_get_ogc_json_errors(client, path, params, status):
    response = client.get(path, params=params)
    assert response.status_code == status
    body = response.json()
    assert body["code"] and body["description"]
    assert "Traceback" not in response.text


def test_internal_layer_and_fields_appear_nowhere(client):
    catalog = load_catalog(PROJECT_ROOT / "layers")
    internal = catalog.get(INTERNAL_LAYER)
    staff_only = [f for f in internal.fields if f.name not in {"common_id", "name", "address", "note"}]
    # Field names are plain words ("section"), so look for them as JSON keys; labels and the
    # invented values ("内線 4123") are distinctive as they are.
    secrets = {INTERNAL_LAYER, internal.title.ja, internal.title.en, "内線 4", "鍵の保管"}
    secrets |= {f'"{f.name}"' for f in staff_only} | {f.label.ja for f in staff_only}
    bodies = [
        client.get("/api/collections", params={"f": "json"}).text,
        client.get("/api/collections", params={"f": "html"}).text,
        client.get("/api", params={"f": "html"}).text,
        client.get("/api/openapi", params={"f": "json"}).text,
        client.get("/viewer-config.json").text,
    ]
    for collection in ("shelters", "towns", "flood_sample"):
        bodies.append(client.get(f"/api/collections/{collection}/items", params={"f": "json"}).text)
        bodies.append(client.get(f"/api/collections/{collection}/items", params={"f": "html"}).text)
    for body in bodies:
        for secret in secrets:
            assert secret not in body
    unknown = client.get("/api/collections/definitely_unknown/items")
    hidden = client.get(f"/api/collections/{INTERNAL_LAYER}/items")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["description"] == unknown.json()["description"]


def test_health(client):
    assert client.get("/health").json()["status"] == "ok"
