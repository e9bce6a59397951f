"""Open data on a real server: the page, the downloads, DCAT, OGC API - Records, and no leaks."""

import hashlib
import html
import json
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import httpx
import pandas as pd
import pyogrio
import pytest
import rdflib
from owslib.ogcapi.records import Records
from rdflib.namespace import RDF

from etl.publish.manifest import read_manifest
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import open_store

CATALOG = load_catalog(PROJECT_ROOT / "layers")
PUBLIC = sorted(layer.id for layer in CATALOG.public_layers())
# Public rasters publish a COG and a legend (tests/server/test_raster_opendata.py reads them).
PUBLIC_RASTERS = sorted(layer.id for layer in CATALOG.public_rasters())
RASTER_FILES = (".tif", ".png")
INTERNAL = [layer for layer in CATALOG.layers.values() if layer.access == "internal"]
RECORDS = "opendata-catalog"
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")  # rdflib's closed DCAT confuses pytest


@pytest.fixture(scope="module")
def client(app_client):
    return app_client  # in-process (tests/conftest.py AppClient)


@pytest.fixture(scope="module")
def store(sample_settings):
    return open_store(sample_settings.store_url)


class Links(HTMLParser):
    """Every href of a page, and the lang attributes it declares."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.langs: list[str] = []
        self.headings: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if "href" in found:
            self.hrefs.append(found["href"])
        if "lang" in found:
            self.langs.append(found["lang"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(tag)


def _parse(text: str) -> Links:
    links = Links()
    links.feed(text)
    return links


def _downloads(text: str, base: str) -> list[str]:
    """The distinct download links of the page (standard CSVs are linked twice)."""
    return sorted({h for h in _parse(text).hrefs if h.startswith(f"{base}/opendata/files/")})


@pytest.mark.parametrize(
    "params,headers,lang",
    [
        ({}, {}, "ja"),
        ({"lang": "en"}, {}, "en"),
        ({}, {"Accept-Language": "en-US,en;q=0.9,ja;q=0.5"}, "en"),
        ({"lang": "ja"}, {"Accept-Language": "en"}, "ja"),
    ],
)
def test_page_language(client, params, headers, lang):
    response = client.get("/opendata", params=params, headers=headers)
    assert response.status_code == 200 and response.headers["content-language"] == lang
    assert f'<html lang="{lang}">' in response.text
    parsed = _parse(response.text)
    assert parsed.headings.count("h1") == 1 and "h3" in parsed.headings
    for layer_id in PUBLIC:
        layer = CATALOG.layers[layer_id]
        assert f'id="{layer_id}"' in response.text and getattr(layer.title, lang) in response.text


def test_page_shows_license_attribution_samples_and_the_standard(client):
    ja = client.get("/opendata").text
    assert "出典：つくば市「指定避難所」" in ja and "を加工して作成" in ja
    assert "クリエイティブ・コモンズ 表示 4.0 国際" in ja
    sample = ja[ja.index('id="flood_sample"') :]
    assert 'class="badge">サンプル（架空）' in sample[:600]
    assert "082201_evacuation_space.csv" in ja
    assert "指定避難所については標準データセットに様式" in ja
    en = html.unescape(client.get("/opendata", params={"lang": "en"}).text)
    assert 'Source: Tsukuba City, "Designated evacuation shelters"' in en
    assert "SYNTHETIC SAMPLE" in en


def test_page_is_self_contained(client):
    page = client.get("/opendata").text
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?://', page)
    assert "@import" not in page and "url(" not in page


def _read_back(name: str, data: bytes) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        if name.endswith(".parquet"):
            return gpd.read_parquet(path)
        if name.endswith(".csv"):
            encoding = "cp932" if name.endswith("_sjis.csv") else "utf-8-sig"
            return pd.read_csv(path, encoding=encoding)
        if name.endswith("_shp.zip"):
            return pyogrio.read_dataframe(f"/vsizip/{path}/{name.removesuffix('_shp.zip')}.shp")
        return pyogrio.read_dataframe(path)


def test_every_download_works_and_counts_equal_the_store(client, sample_settings, store):
    page = client.get("/opendata").text
    urls = [u for u in _downloads(page, str(client.base_url).rstrip("/")) if not u.endswith(RASTER_FILES)]
    seen = set()
    for url in urls:
        layer_id, name = url.split("/")[-2:]
        entry = next(
            f for f in read_manifest(sample_settings.data_dir, layer_id)["files"] if f["name"] == name
        )
        response = client.get(url, headers={"Accept-Encoding": "identity"})  # the bytes as stored
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(entry["media_type"].split(";")[0])
        assert int(response.headers["content-length"]) == len(response.content) == entry["size"]
        assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]
        frame = _read_back(name, response.content)
        assert len(frame) == store.current(layer_id).feature_count, url
        seen.add(layer_id)
    assert seen == set(PUBLIC)
    listed = [read_manifest(sample_settings.data_dir, i)["files"] for i in PUBLIC]
    assert len(urls) == sum(len(files) for files in listed)


def test_etag_last_modified_and_range(client):
    url = "/opendata/files/shelters/shelters.geojson"
    full = client.get(url)
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    part = client.get(url, headers={"Range": "bytes=10-19", "Accept-Encoding": "identity"})
    assert part.status_code == 206 and part.content == full.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(full.content)}"
    stale = client.get(url, headers={"Range": "bytes=10-19", "If-Range": '"stale"'})
    assert stale.status_code == 200 and stale.content == full.content
    assert client.get(url, headers={"Range": "bytes=99999999-"}).status_code == 416
    head = client.head(url)
    assert head.status_code == 200 and head.headers["etag"] == etag


def _raw_get(live_server, path: str) -> httpx.Response:
    """Send the path exactly as written (httpx would otherwise normalise dot segments)."""
    url = httpx.URL(live_server.url)
    with httpx.Client(timeout=10) as raw:
        request = raw.build_request("GET", url)
        request.url = url.copy_with(raw_path=path.encode())
        return raw.send(request)


@pytest.mark.parametrize(
    "path",
    [
        "/opendata/files/shelters/..%2f..%2fstore.gpkg",
        "/opendata/files/shelters/..%2F..%2Freport.json",
        "/opendata/files/shelters/../../store.gpkg",
        "/opendata/files/..%2fshelters/shelters.geojson",
        "/opendata/files/shelters/%2e%2e%2fmanifest.json",
        "/opendata/files/shelters/manifest.json",
        "/opendata/files/shelters/",
        "/opendata/files/SHELTERS/shelters.geojson",
        "/opendata/files/shelters/shelters.geojson%00.txt",
        "/opendata/files/shelters_staff/shelters_staff.geojson",
        "/opendata/files/shelters_staff/shelters_staff.csv",
        "/opendata/nothing",
    ],
)
def test_unknown_internal_and_crafted_paths_are_the_same_404(live_server, path):
    response = _raw_get(live_server, path)
    assert response.status_code == 404, path
    # The one OGC exception shape of the whole server (server/errors.py): code, type, description.
    assert response.json() == {
        "code": "NotFound",
        "type": "NotFound",
        "description": "no such open-data resource",
    }


def test_bad_requests_are_clear_json(client):
    response = client.get("/opendata", params={"lang": "fr"})
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameterValue"
    response = client.post("/opendata/files/shelters/shelters.geojson")
    assert response.status_code == 405 and response.json()["code"] == "InvalidOperation"


def test_dcat_parses_as_json_ld_with_every_dataset_and_distribution(client, sample_settings):
    response = client.get("/opendata/catalog.jsonld")
    assert response.headers["content-type"].startswith("application/ld+json")
    graph = rdflib.Graph().parse(data=response.text, format="json-ld")
    datasets = set(graph.subjects(RDF.type, DCAT.Dataset))
    distributions = set(graph.subjects(RDF.type, DCAT.Distribution))
    every = PUBLIC + PUBLIC_RASTERS
    files = [f for i in every for f in read_manifest(sample_settings.data_dir, i)["files"]]
    assert len(datasets) == len(every)
    assert len(distributions) == len(files) + len(every)  # the files and one OGC API each
    sizes = {str(s): int(o) for s, o in graph.subject_objects(DCAT.byteSize)}
    assert sorted(sizes.values()) == sorted(f["size"] for f in files)
    shelters = next(d for d in datasets if str(d).endswith("#shelters"))
    assert graph.value(shelters, rdflib.URIRef("http://purl.org/dc/terms/license")) is not None
    assert graph.value(shelters, DCAT.keyword) is not None


def test_records_list_every_public_layer_and_search_works(live_server):
    records = Records(f"{live_server.url}/api")
    assert RECORDS in [c["id"] for c in records.collections()["collections"]]
    items = records.collection_items(RECORDS, limit=100)
    assert sorted(f["id"] for f in items["features"]) == sorted(PUBLIC + PUBLIC_RASTERS)
    found = records.collection_items(RECORDS, q="避難所")
    assert [f["id"] for f in found["features"]] == ["shelters"]
    english = records.collection_items(RECORDS, q="shelter")["features"]
    assert "shelters" in [f["id"] for f in english]
    one = records.collection_item(RECORDS, "emergency_sites")
    hrefs = [link["href"] for link in one["links"]]
    assert f"{live_server.url}/opendata/files/emergency_sites/082201_evacuation_space.csv" in hrefs


@pytest.mark.parametrize(
    "params",
    [
        {"q": "("},
        {"q": "[a-"},
        {"datetime": "2026-01-01T00:00:00Z"},
        {"sortby": "-featureCount"},
        {"sortby": "keywords"},
        {"f": "html"},
        {"bbox": "140,36,140.2,36.2"},
    ],
)
def test_records_queries_never_fail(client, params):
    response = client.get(f"/api/collections/{RECORDS}/items", params=params)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert "code" in response.json()


def _internal_markers(store) -> set[str]:
    """Ids, titles, internal-only field names and labels, and values of internal-only fields."""
    public_names = {f.name for layer in CATALOG.public_layers() for f in layer.public_fields()}
    markers = set()
    for layer in INTERNAL:
        markers |= {layer.id, layer.title.ja, layer.title.en}
        own = [f for f in layer.fields if f.name not in public_names]
        markers |= {f.name for f in own} | {f.label.ja for f in own}
        for frame in store.iter_frames(store.current(layer.id)):
            for field in own:
                markers |= {str(v) for v in frame[field.name].dropna().unique()}
    return markers


def test_nothing_internal_leaks_anywhere_on_the_open_data_side(client, store):
    markers = _internal_markers(store)
    assert any(m.startswith("内線 4") for m in markers)  # the test really looks for values
    bodies = {
        "page ja": client.get("/opendata").text,
        "page en": client.get("/opendata", params={"lang": "en"}).text,
        "dcat": client.get("/opendata/catalog.jsonld").text,
        "records": client.get(f"/api/collections/{RECORDS}/items", params={"limit": 100}).text,
        "records html": client.get(f"/api/collections/{RECORDS}/items", params={"f": "html"}).text,
        "records queryables": client.get(f"/api/collections/{RECORDS}/queryables").text,
    }
    for url in _downloads(bodies["page ja"], str(client.base_url).rstrip("/")):
        response = client.get(url)
        if url.endswith(RASTER_FILES):  # pixels: tests/server/test_leaks.py looks for the photo's
            bodies[url] = json.dumps(dict(response.headers), ensure_ascii=False)
            continue
        bodies[url] = " ".join(
            [
                json.dumps(dict(response.headers), ensure_ascii=False),
                _read_back(url.rsplit("/", 1)[1], response.content).to_csv(),
            ]
        )
    for where, body in bodies.items():
        leaked = sorted(m for m in markers if m in body)
        assert not leaked, f"{where} leaks {leaked}"


def test_crafted_record_requests_find_nothing_internal(client):
    unknown = client.get(f"/api/collections/{RECORDS}/items/no-such-record", params={"f": "json"})
    for layer in INTERNAL:
        item = client.get(f"/api/collections/{RECORDS}/items/{layer.id}", params={"f": "json"})
        assert item.status_code == 404 and item.json() == unknown.json()
        for q in (layer.id, layer.title.ja, layer.title.en, "内線", "extension_number"):
            found = client.get(f"/api/collections/{RECORDS}/items", params={"q": q, "f": "json"})
            assert found.status_code == 200 and found.json()["numberMatched"] == 0, q


@pytest.mark.browser
def test_page_fits_a_phone_and_starts_with_a_skip_link(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/opendata")
        assert page.evaluate("document.documentElement.lang") == "en"  # from Accept-Language
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.getAttribute('href')") == "#page-main"
    finally:
        context.close()
