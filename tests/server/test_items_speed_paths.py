"""The fast paths of items (issue 6) give exactly what the plain paths give, on both stores.

- GeoJSON answers carry numpy coordinate arrays that orjson writes; HTML, JSON-LD and CSV get
  plain lists. The same request through both paths gives the same bytes (but the timeStamp).
- A bbox without filters is counted and paged from the R-tree alone (GeoPackage).
- pygeoapi's bbox transform is skipped for CRS84 only, its offset warning is dropped.
- pygeoapi's CRSs are built once per URI (issue 19) and a bad URI is still refused every time;
  the items routes are tried first, and the staff side's feature GET is still its own; one
  store provider per provider definition, a new definition gets a new one.
"""

import dataclasses
import logging
import random
import re

import numpy as np
import orjson
import pytest
import shapely
from fastapi.testclient import TestClient

from server.app import ogc_api
from server.ogcapi import geojson, patches, provider
from server.snapshot import Snapshots
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import Query, gpkg_query, open_store

# The residents' reports layer starts empty: no feature to encode either way.
PUBLIC = [
    layer.id for layer in load_catalog(PROJECT_ROOT / "layers").public_layers() if layer.id != "reports"
]
QUERIES = [
    {"limit": 100},
    {"limit": 7, "offset": 3},
    {"bbox": "140.10,36.07,140.13,36.10", "limit": 1000},
    {"bbox": "140.12,36.08,140.121,36.081"},
    {"skipGeometry": "true", "limit": 5},
    {"resulttype": "hits"},
]
STAMP = re.compile(rb',"timeStamp":"[^"]*"')


@pytest.fixture(scope="module")
def api_client(each_sample_settings):
    settings = each_sample_settings.model_copy(update={"public_url": "http://testserver"})
    store = open_store(settings.store_url)
    with TestClient(ogc_api(Snapshots(settings, store), "public")) as client:
        yield client


def _both_paths(client, monkeypatch, path: str, params: dict) -> tuple[bytes, bytes]:
    fast = client.get(path, params=params, headers={"accept-encoding": "identity"})
    with monkeypatch.context() as patch:
        patch.setattr(provider, "json_out", lambda: False)
        plain = client.get(path, params=params, headers={"accept-encoding": "identity"})
    assert fast.status_code == plain.status_code == 200, fast.text[:300]
    return STAMP.sub(b"", fast.content), STAMP.sub(b"", plain.content)


@pytest.mark.parametrize("layer_id", PUBLIC)
def test_numpy_path_gives_the_same_bytes_as_plain_dicts(api_client, monkeypatch, layer_id):
    for params in QUERIES:
        fast, plain = _both_paths(
            api_client, monkeypatch, f"/collections/{layer_id}/items", {**params, "f": "json"}
        )
        assert fast == plain, (layer_id, params)
        body = orjson.loads(fast)
        assert set(body) == {"type", "features", "numberMatched", "numberReturned", "links"}
    first = orjson.loads(fast)  # resulttype=hits: no features; take one from a page
    page = api_client.get(f"/collections/{layer_id}/items", params={"limit": 1, "f": "json"})
    feature_id = page.json()["features"][0]["id"]
    fast, plain = _both_paths(
        api_client, monkeypatch, f"/collections/{layer_id}/items/{feature_id}", {"f": "json"}
    )
    assert fast == plain and first["numberReturned"] == 0


def test_other_formats_still_get_dicts(api_client):
    html = api_client.get("/collections/shelters/items", params={"limit": 3, "f": "html"})
    assert html.status_code == 200 and "Fragment" not in html.text
    jsonld = api_client.get("/collections/shelters/items", params={"limit": 3, "f": "jsonld"})
    assert jsonld.status_code == 200 and jsonld.json()["@context"]
    csv = api_client.get("/collections/shelters/items", params={"limit": 3, "f": "csv"})
    assert csv.status_code == 200 and csv.text.count("\n") >= 3 and "Fragment" not in csv.text


def test_coordinates_are_rounded_to_seven_decimals(api_client):
    body = api_client.get("/collections/road_areas/items", params={"limit": 20, "f": "json"}).json()
    numbers = re.findall(r"-?\d+\.(\d+)", orjson.dumps([f["geometry"] for f in body["features"]]).decode())
    assert numbers and max(len(digits) for digits in numbers) <= geojson.DECIMALS


def test_numpy_coordinates_are_written_like_floats_with_utf8_and_escaped_brackets():
    coords = np.array([[140.1, 36.0], [35.988133500000004, -0.0], [1e-7, 123456.1234567]])
    text = patches.to_json({"c": [coords[:2], coords[2]], "n": "<避難所>"})
    assert text == patches.to_json({"c": [coords[:2].tolist(), coords[2].tolist()], "n": "<避難所>"})
    assert '"n":"\\u003c避難所\\u003e"' in text and "[140.1,36.0]" in text


def test_rtree_page_equals_the_general_bbox_path(sample_settings):
    store = open_store(sample_settings.store_url)
    con = store._reader()
    rnd = random.Random(6)
    for record in store.layers():
        for _ in range(40):
            x, y = rnd.uniform(140.0, 140.2), rnd.uniform(35.95, 36.2)
            half = rnd.choice([1e-4, 1e-3, 1e-2, 0.1])
            query = Query(
                bbox=(x - half, y - half, x + half, y + half),
                offset=rnd.choice([0, 0, 3, 50]),
                limit=rnd.choice([0, 1, 10, 1000]),
            )
            ids = gpkg_query._bbox_ids(con, record, query)
            page, matched = gpkg_query._rtree_page(con, record, query)
            assert matched == len(ids), record.layer_id
            assert page == (ids[query.offset : query.offset + query.limit] if query.limit else [])


def test_only_the_crs84_identity_skips_pyproj(api_client):
    crs84 = patches.crs.DEFAULT_CRS
    assert patches.transform_bbox([1.0, 2.0, 3.0, 4.0], crs84, crs84) == [1.0, 2.0, 3.0, 4.0]
    mercator = patches.transform_bbox(
        [140.0, 36.0, 140.1, 36.1], crs84, "http://www.opengis.net/def/crs/EPSG/0/3857"
    )
    assert 15_584_000 < mercator[0] < 15_585_000 and 4_300_000 < mercator[1] < 4_305_000
    # A bbox-crs the collections do not offer (JGD2000 zone IX) is refused before any transform.
    refused = api_client.get(
        "/collections/shelters/items",
        params={
            "bbox": "140.10,36.07,140.13,36.10",
            "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/2451",
        },
    )
    assert refused.status_code == 400


def test_crs_of_a_uri_is_built_once_and_a_bad_one_still_refused(api_client):
    from pygeoapi.provider import base

    assert patches.crs.get_crs is patches.get_crs and base.get_crs is patches.get_crs
    uri = "http://www.opengis.net/def/crs/EPSG/0/6677"
    first = patches.crs.get_crs(uri)
    assert first is patches.crs.get_crs(uri) and first.to_epsg() == 6677
    assert patches.crs.get_crs(first) is first
    for _ in range(2):  # an exception is never kept in place of a CRS
        with pytest.raises(patches.crs.CRSError):
            patches.crs.get_crs("http://www.opengis.net/def/crs/EPSG/0/999999999")
    # Through the API: an unknown crs= is a 400, twice.
    for _ in range(2):
        bad = api_client.get(
            "/collections/shelters/items", params={"crs": "http://www.opengis.net/def/crs/EPSG/0/1"}
        )
        assert bad.status_code == 400


def test_items_routes_are_tried_first_and_extensions_keep_theirs(each_sample_settings):
    from starlette.routing import Route

    from server.ogcapi.adapter import Publication, ogcapi_app

    def mine(request):  # pragma: no cover - never called
        raise AssertionError

    ext = [
        Route("/collections/{collection_id}/tiles", mine),
        Route("/collections/{collection_id}/items/{item_id}", mine),
    ]
    settings = each_sample_settings.model_copy(update={"public_url": "http://testserver"})
    snapshots = Snapshots(settings, open_store(settings.store_url))
    app = ogcapi_app(Publication("public", snapshots), extensions=ext)
    paths = [(getattr(r, "path", ""), getattr(r, "endpoint", None)) for r in app.router.routes]
    assert [p for p, _ in paths[:3]] == [
        "/collections/{collection_id}/items/{item_id}",
        "/collections/{collection_id}/items",
        "/collections/{collection_id}/items/{item_id}",
    ]
    assert paths[0][1] is mine  # the extension's feature route answers before the core's
    assert paths[3] == ("/collections/{collection_id}/tiles", mine)


def test_one_store_provider_per_provider_definition(each_sample_settings):
    settings = each_sample_settings.model_copy(update={"public_url": "http://testserver"})
    snapshots = Snapshots(settings, open_store(settings.store_url))
    resources = snapshots.get("public").api.api.config["resources"]
    definition = resources["shelters"]["providers"][0]
    from pygeoapi.api import itemtypes

    load = itemtypes.load_plugin
    first = load("provider", definition)
    assert isinstance(first, provider.StoreProvider) and load("provider", definition) is first
    copied = {**definition}  # a new snapshot's config: new dicts, a new provider
    assert load("provider", copied) is not first
    broken = {**definition, "data": "nowhere://store"}
    for _ in range(2):  # a provider that cannot be made is refused every time, never kept
        with pytest.raises(Exception, match="nowhere"):
            load("provider", broken)


def test_items_without_offset_log_no_warning(api_client, caplog):
    with caplog.at_level(logging.WARNING, logger="pygeoapi"):
        assert api_client.get("/collections/shelters/items", params={"f": "json"}).status_code == 200
    assert not [r for r in caplog.records if r.name.startswith("pygeoapi")]


def test_points_just_outside_a_bbox_edge_stay_out(each_sample_settings):
    """The shortcuts (R-tree inside test, PostGIS ``@`` on float4 boxes) never admit a miss."""
    store = open_store(each_sample_settings.store_url)
    record = store.current("shelters")
    page = store.query(record, Query(limit=50))
    for wkb in page.wkb:
        x, y = shapely.get_coordinates(shapely.from_wkb(wkb))[0]
        for dx in (1e-7, 1e-6):
            outside = (x - 0.01, y - 0.01, x - dx, y + 0.01)  # east edge just west of the point
            inside = (x - 0.01, y - 0.01, x + dx, y + 0.01)
            found_out = store.query(record, Query(bbox=outside, limit=1000))
            found_in = store.query(record, Query(bbox=inside, limit=1000))
            assert found_in.number_matched == found_out.number_matched + len(
                set(found_in.ids) - set(found_out.ids)
            )
            assert set(found_out.ids) < set(found_in.ids)


def test_a_pruned_known_version_is_read_again_from_the_registry(each_sample_settings):
    """Providers use the records the publication was built from; a pruned one is re-read."""
    settings = each_sample_settings.model_copy(update={"public_url": "http://testserver"})
    store = open_store(settings.store_url)
    definition = (
        Snapshots(settings, store).get("public").api.api.config["resources"]["shelters"]["providers"][0]
    )
    record = store.current("shelters")
    gone = dataclasses.replace(record, version=record.version + 100, table="l_shelters_v999")
    shelters = provider.StoreProvider(definition)
    expected = shelters.query(limit=5)
    token = provider.RECORDS.set({"shelters": gone})
    try:
        assert shelters.query(limit=5) == expected
        assert shelters.get(expected["features"][0]["id"])["id"] == expected["features"][0]["id"]
    finally:
        provider.RECORDS.reset(token)
