"""OWSLib (``owslib.ogcapi``) reads the public API of a real server, on both stores.

OWSLib 0.36 has Features, Records and Coverages clients (no OGC API - Tiles client); each is
used as a Python GIS user would, and its answers are checked against the layer definitions.
"""

import httpx
import pytest
import rasterio
from owslib.ogcapi.coverages import Coverages
from owslib.ogcapi.features import Features
from owslib.ogcapi.records import Records

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT

CATALOG = load_catalog(PROJECT_ROOT / "layers")
PUBLIC = sorted(layer.id for layer in CATALOG.public_layers())
PUBLIC_RASTERS = sorted(layer.id for layer in CATALOG.public_rasters())
FEATURES = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


@pytest.fixture(scope="module")
def api_url(each_live_server) -> str:
    return f"{each_live_server.url}/api"


def test_owslib_features_reads_collections_items_and_the_openapi(api_url):
    features = Features(api_url)
    assert FEATURES in features.conformance()["conformsTo"]
    assert set(PUBLIC) <= {c["id"] for c in features.collections()["collections"]}
    assert set(features.feature_collections()) >= set(PUBLIC)
    assert "/collections/shelters/items" in features.api()["paths"]

    shelters = features.collection("shelters")
    assert shelters["title"] == "指定避難所"
    queryables = features.collection_queryables("shelters")["properties"]
    assert "name" in queryables

    total = httpx.get(f"{api_url}/collections/shelters/items", params={"limit": 1}).json()["numberMatched"]
    page = features.collection_items("shelters", limit=1000)
    assert page["numberMatched"] == total == len(page["features"]) > 0
    one = page["features"][0]
    again = features.collection_item("shelters", str(one["id"]))
    assert again["properties"] == one["properties"]

    west, south, east, north = 140.08, 36.05, 140.13, 36.10
    boxed = features.collection_items("shelters", bbox=[west, south, east, north], limit=1000)
    assert 0 < len(boxed["features"]) < total
    for feature in boxed["features"]:
        x, y = feature["geometry"]["coordinates"]
        assert west <= x <= east and south <= y <= north

    filtered = features.collection_items("shelters", filter="name LIKE '%小学校%'", limit=1000)
    assert filtered["features"] and all("小学校" in f["properties"]["name"] for f in filtered["features"])


def test_owslib_records_lists_every_public_layer(api_url):
    records = Records(api_url)
    catalogue = records.records()
    assert catalogue and all(isinstance(c, str) for c in catalogue)
    items = records.collection_items(catalogue[0], limit=100)
    assert sorted(f["id"] for f in items["features"]) == sorted(PUBLIC + PUBLIC_RASTERS)
    assert [f["id"] for f in records.collection_items(catalogue[0], q="避難所")["features"]] == ["shelters"]


def test_owslib_coverages_reads_a_geotiff(api_url, tmp_path):
    coverages = Coverages(api_url)
    assert sorted(coverages.coverages()) == PUBLIC_RASTERS
    layer = PUBLIC_RASTERS[0]
    west, south, east, north = coverages.collection(layer)["extent"]["spatial"]["bbox"][0]
    box = [west, south, (west + east) / 2, (south + north) / 2]
    data = coverages.coverage(layer, bbox=box)
    path = tmp_path / f"{layer}.tif"
    path.write_bytes(data.read())
    with rasterio.open(path) as raster:
        assert raster.count >= 1 and raster.width > 0 and raster.height > 0
        assert raster.crs is not None
