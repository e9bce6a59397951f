"""Open data of the raster layers, on both stores: the COG (the stored version's very bytes) and
the legend PNG with a manifest, on the /opendata page, in DCAT and in OGC API - Records; the
staff-only photograph nowhere."""

import hashlib
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from server.app import create_app
from tsukuba_gis.opendata import read_manifest
from tsukuba_gis.store import open_store

FLOOD, DEM, PHOTO = "flood_depth_sample", "dem_sample", "aerial_photo_sample"


@pytest.fixture(scope="module")
def client(each_sample_settings):
    app = create_app(each_sample_settings.model_copy(update={"public_url": "http://testserver"}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_public_rasters_are_published_as_cog_and_legend(client, each_sample_settings):
    store = open_store(each_sample_settings.store_url)
    for layer_id in (FLOOD, DEM):
        manifest = read_manifest(each_sample_settings.data_dir, layer_id)
        record = store.current_raster(layer_id)
        assert manifest["kind"] == "raster" and manifest["version"] == record.version
        names = [f["name"] for f in manifest["files"]]
        assert names == [f"{layer_id}.tif", f"{layer_id}_legend.png"]
        cog = client.get(f"/opendata/files/{layer_id}/{layer_id}.tif")
        assert cog.status_code == 200 and cog.headers["content-type"].startswith("image/tiff")
        assert hashlib.sha256(cog.content).hexdigest() == record.checksum  # the stored COG itself
        legend = client.get(f"/opendata/files/{layer_id}/{layer_id}_legend.png")
        assert Image.open(io.BytesIO(legend.content)).format == "PNG"
    assert read_manifest(each_sample_settings.data_dir, PHOTO) is None
    assert not (each_sample_settings.data_dir / "opendata" / PHOTO).exists()


def test_rasters_are_on_the_page_in_dcat_and_in_records(client):
    page = client.get("/opendata").text
    assert f'id="{FLOOD}"' in page and "1,500 × 1,910 セル（10 m メッシュ、EPSG:6677）" in page
    assert "0.5〜3.0m" in page and PHOTO not in page
    english = client.get("/opendata", params={"lang": "en"}).text
    assert "1,500 × 1,910 cells (10 m cells, EPSG:6677)" in english
    catalog = client.get("/opendata/catalog.jsonld").json()
    (flood,) = [d for d in catalog["dcat:dataset"] if d["@id"].endswith(f"#{FLOOD}")]
    formats = {d["dct:format"]: d for d in flood["dcat:distribution"]}
    assert formats["GeoTIFF (COG)"]["dct:conformsTo"]["@id"].endswith("cloud-optimized")
    assert (
        formats["OGC API - Coverages"]["dcat:accessURL"]["@id"]
        == f"http://testserver/api/collections/{FLOOD}"
    )
    assert not [d for d in catalog["dcat:dataset"] if PHOTO in d["@id"]]
    records = client.get("/api/collections/opendata-catalog/items", params={"f": "json"}).json()
    (record,) = [r for r in records["features"] if r["id"] == FLOOD]
    assert any(link["title"] == "OGC API - Coverages" for link in record["links"])
