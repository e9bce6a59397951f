"""Proof, not hope: nothing internal appears anywhere on the public side.

The test collects every public route it can find (the OpenAPI document, the landing pages, the
viewer config, the open data page and catalog, search, point query, health, auth status) and
crawls the links of what they return, then adds crafted requests (internal ids, internal field
names in every parameter, path tricks, case and encoding variants). Every body, header and error
message is searched for the internal layer's id, titles, internal field names, labels and values
(read from the staff layer itself, so a new internal value is covered without editing the test).

Add every new public endpoint to SEEDS (or make it reachable by a link) as the product grows.
"""

import re
from collections import deque
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import morecantile
import pytest

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import Query, open_store

CATALOG = load_catalog(PROJECT_ROOT / "layers")
PUBLIC_LAYERS = [layer.id for layer in CATALOG.public_layers()]
INTERNAL_LAYERS = [layer for layer in CATALOG.layers.values() if layer.access == "internal"]
PUBLIC_RASTERS = [layer.id for layer in CATALOG.public_rasters()]
INTERNAL_RASTERS = [layer for layer in CATALOG.rasters.values() if layer.access == "internal"]
MAX_URLS = 1200  # the crawl's cap: every layer adds its pages, files and tiles (reports, issue 17)
TMS = morecantile.tms.get("WebMercatorQuad")
NEVER_FOLLOW = ("/internal", "/auth/logout", "/vendor/", "/build/", "/api/static/", "/api/schemas/")

SEEDS = [
    "/",
    "/viewer-config.json",
    "/health",
    "/live.json",
    "/metrics",  # 404 for anyone not staff nor allow-listed
    "/auth/me",
    "/auth/methods",
    "/auth/oidc/login",  # 404 here (no SSO); tests/server/test_sso.py has its refusals
    "/auth/oidc/callback?code=x&state=y",
    "/api",
    "/api?f=html",
    "/api?f=jsonld",
    "/api/conformance",
    "/api/conformance?f=html",
    "/api/openapi?f=json",
    "/api/openapi?f=html",
    "/api/collections?f=json",
    "/api/collections?f=html",
    "/api/collections?f=jsonld",
    "/opendata",
    "/opendata?lang=en",
    "/opendata/catalog.jsonld",
    "/api/collections/opendata-catalog/items?f=json",
    "/api/collections/opendata-catalog/items?f=html",
    "/search?q=避難",
    "/search?q=つくば",
    "/search?q=36.08,140.11",
    "/point?lat=36.0828&lon=140.1115",
    "/point?lat=36.0828&lon=140.1115&f=csv",
    "/point?lat=36.0828&lon=140.1115&f=html",
    "/point?lat=35.9912&lon=140.1327&radius=500",
    "/point?lat=36.10835&lon=140.1556&f=html&lang=en",
    "/point?lat=36.10835&lon=140.1556&lang=ko&nearest=10",
    "/point?lat=36.0828&lon=140.1115&f=html&lang=ja-x-easy",
    "/search?q=たけぞの",
    "/search?q=Takezono&lang=vi",
    "/search?q=竹苑",
    "/search?q=吾妻1-2-3&lang=pt",
    "/opendata?lang=zh-Hant",
    "/api/tileMatrixSets",
    "/api/TileMatrixSets?f=html",
    "/api/tileMatrixSets/WebMercatorQuad",
    "/api/tileMatrixSets/WebMercatorQuad?f=html",
    "/api/collections/flood_sample/tiles/WebMercatorQuad?f=html",
    "/api/collections/shelters_staff/tiles/WebMercatorQuad?f=html",  # internal: a 404 that names nothing
    "/api/styles",
    "/api/styles/city?f=mapbox",
    "/api/styles/city/metadata",
    "/api/collections/flood_sample/styles",
    "/api/collections/flood_sample/styles/default?f=mapbox",
    "/api/collections/flood_sample/styles/default?f=sld10",
    "/api/collections/flood_sample/styles/default?f=qml",
    "/api/collections/flood_sample/styles/default/metadata",
    "/api/collections/shelters_staff/styles/default?f=qml",  # internal: a 404 that names nothing
    "/api/collections/flood_sample/items?f=csv",
    "/api/collections/flood_sample/items?f=gpkg",
    "/api/collections/flood_sample/items?filter=review_status%20%3D%20%27x%27",
    "/api/collections/flood_sample/queryables?f=json",
    # change feeds (issue 16); tests/server/test_feeds.py crawls them over real changes too
    "/feeds/changes.atom",
    "/feeds/changes.json?lang=en",
    "/feeds/changes.atom?layer=shelters&limit=5",
    "/feeds/changes.json?lat=36.0828&lon=140.1115&radius=2000",
    "/feeds/changes.atom?town=竹園一丁目",
    "/feeds/changes.json?bbox=140.0,36.0,140.2,36.2",
    "/feeds/changes.json?layer=shelters_staff",  # internal: a 400 that names nothing
    # e-mail subscriptions (issue 16): forged links are a 404 naming nothing; GET of the POST route a 405
    "/subscriptions",
    "/subscriptions/confirm?token=forged",
    "/subscriptions/unsubscribe?token=1.forged",
    "/subscriptions/unsubscribe",
    # residents' reports (issue 17); tests/server/test_reports.py seeds personal markers too
    "/open311/v2/services.json",
    "/open311/v2/services/road_damage.json?lang=en",
    "/open311/v2/requests.json",
    "/open311/v2/requests.json?service_code=shelters_staff",
    "/open311/v2/requests/shelters_staff.json",
    "/open311/v2/challenge.json",
    "/reports/not-a-status-token",
    "/reports/photos/shelters_staff.jpg",
]
TILES_PER_LAYER = 8  # MVTs fetched per public layer (from its tileset's limits, lowest zooms first)
RASTER_TILES = 6  # map tiles per public raster at its lowest zooms, plus those over the staff photo


PUBLIC_FIELDS = {f.name for layer in CATALOG.public_layers() for f in layer.public_fields()}
PUBLIC_LABELS = {
    t for layer in CATALOG.public_layers() for f in layer.public_fields() for t in (f.label.ja, f.label.en)
}


def _hidden_fields(layer) -> list:
    """Fields only staff may see (a staff layer's fields that no public layer also publishes)."""
    if layer.access == "internal":
        return [f for f in layer.fields if f.name not in PUBLIC_FIELDS]
    return [f for f in layer.fields if f.access == "internal"]


def _distinctive(text: str) -> bool:
    # Japanese words are distinctive at two characters; short English words are not.
    return not text.isascii() or len(text) >= 4


@pytest.fixture(scope="module")
def secrets(sample_settings) -> set[str]:
    store = open_store(sample_settings.store_url)
    found: set[str] = set()
    for layer in INTERNAL_LAYERS + INTERNAL_RASTERS:
        found |= {layer.id, layer.title.ja, layer.title.en, layer.description.ja, layer.description.en}
    for layer in INTERNAL_RASTERS:  # what names its files: the checksum and the file name
        record = store.current_raster(layer.id)
        found |= {record.checksum, record.checksum[:12], record.file.rsplit("/", 1)[-1], record.etag}
    for layer in CATALOG.layers.values():
        hidden = _hidden_fields(layer)
        if not hidden:
            continue
        found |= {f.name for f in hidden} | {f'"{f.name}"' for f in hidden}
        found |= {t for f in hidden for t in (f.label.ja, f.label.en)} - PUBLIC_LABELS
        query = Query(limit=100_000, select=tuple(f.name for f in hidden), skip_geometry=True)
        page = store.query(store.current(layer.id), query)
        found |= {v for row in page.properties for v in row.values() if isinstance(v, str)}
    return {s for s in found if _distinctive(s)}


@pytest.fixture(scope="module")
def raster_bytes(sample_settings) -> dict[str, bytes]:
    """Pixel-derived markers of every staff-only raster: raw cells of its most varied row (as an
    uncompressed GeoTIFF or array would carry them, pixel- and band-interleaved) and a slice of
    its COG's compressed blocks (as any copy of the file would)."""
    import numpy as np
    import rasterio

    store = open_store(sample_settings.store_url)
    found = {}
    for layer in INTERNAL_RASTERS:
        path = store.current_raster(layer.id).path(sample_settings.rasters_path)
        with rasterio.open(path) as ds:
            data = ds.read()
        row = max(range(data.shape[1]), key=lambda r: len(np.unique(data[:, r, :])))
        found[f"{layer.id} pixels"] = np.ascontiguousarray(data[:, row, :64].T).tobytes()
        found[f"{layer.id} band row"] = data[0, row, :96].tobytes()
        found[f"{layer.id} COG blocks"] = _varied_slice(path.read_bytes())
        # The markers would catch a leak: a plain GeoTIFF of the cells carries the first two.
        with rasterio.MemoryFile() as memory:
            with memory.open(driver="GTiff", width=ds.width, height=ds.height, count=ds.count,
                             dtype=ds.dtypes[0], interleave="pixel") as out:  # fmt: skip
                out.write(data)
            plain = memory.read()
        assert found[f"{layer.id} pixels"] in plain
        assert len(set(found[f"{layer.id} COG blocks"])) > 32
    return found


def _varied_slice(data: bytes, size: int = 64) -> bytes:
    """The ``size`` bytes of the file's second half with the most distinct values (compressed
    cells, not padding or a header any GeoTIFF shares)."""
    start = len(data) // 2
    best = max(range(start, len(data) - size, 8), key=lambda i: len(set(data[i : i + size])))
    return data[best : best + size]


def _raster_urls(client: httpx.Client, sample_settings) -> list[str]:
    """Every public raster's documents, coverage and map tiles, also over the staff photo."""
    store = open_store(sample_settings.store_url)
    photo_boxes = [store.current_raster(layer.id).bbox for layer in INTERNAL_RASTERS]
    urls = []
    for layer_id in PUBLIC_RASTERS:
        base = f"/api/collections/{layer_id}"
        urls += [
            f"{base}/coverage/domainset",
            f"{base}/coverage/rangetype",
            f"{base}/legend",
            f"{base}/legend?f=json",
            f"{base}/map/tiles",
            f"{base}/map/tiles/WebMercatorQuad",
            f"{base}/map/tiles/WebMercatorQuad?f=tilejson",
        ]
        tileset = client.get(f"{base}/map/tiles/WebMercatorQuad").json()
        lowest = tileset["tileMatrixSetLimits"][0]
        urls += [
            f"{base}/map/tiles/WebMercatorQuad/{lowest['tileMatrix']}/{row}/{col}"
            for row in range(lowest["minTileRow"], lowest["maxTileRow"] + 1)
            for col in range(lowest["minTileCol"], lowest["maxTileCol"] + 1)
        ][:RASTER_TILES]
        maxzoom = int(tileset["tileMatrixSetLimits"][-1]["tileMatrix"])
        for west, south, east, north in photo_boxes:
            box = f"{west},{south},{east},{north}"
            urls += [f"{base}/coverage?bbox={box}", f"{base}/coverage?bbox={box}&f=tif"]
            for z in (maxzoom - 2, maxzoom):
                tile = TMS.tile((west + east) / 2, (south + north) / 2, z)
                urls += [
                    f"{base}/map/tiles/WebMercatorQuad/{z}/{tile.y}/{tile.x}",
                    f"{base}/map/tiles/WebMercatorQuad/{z}/{tile.y}/{tile.x}?f=webp",
                ]
    for west, south, east, north in photo_boxes:
        lat, lon = (south + north) / 2, (west + east) / 2
        urls += [f"/point?lat={lat}&lon={lon}{extra}" for extra in ("", "&f=csv", "&f=html&lang=en")]
    for layer in INTERNAL_RASTERS:
        internal = layer.id
        for suffix in (
            "",
            "/coverage",
            "/coverage?f=GTiff",
            "/coverage/domainset",
            "/coverage/rangetype",
            "/legend",
            "/schema?f=json",
            "/map/tiles",
            "/map/tiles/WebMercatorQuad?f=tilejson",
            "/map/tiles/WebMercatorQuad/19/0/0",
        ):
            urls.append(f"/api/collections/{internal}{suffix}")
        urls += [
            f"/opendata/files/{internal}/{internal}.tif",
            f"/opendata/files/{internal}/{internal}_legend.png",
        ]
    return urls


def _crafted(collection: str, internal: str, fields: list[str]) -> list[str]:
    base = f"/api/collections/{collection}"
    urls = [
        f"{base}/items?properties={','.join(fields)}",
        f"{base}/items?sortby={fields[0]}",
        f"{base}/items?filter={fields[0]}='x'",
        f"{base}/items?{fields[0]}=1",
        f"{base}/items?q={internal}",
        f"{base}/items/{internal}",
        f"{base}/queryables?f=json",
        f"{base}/schema?f=json",
        f"{base}/items?f=jsonld&limit=5",
    ]
    variants = [
        internal,
        internal.upper(),
        internal.replace("_", "%5F"),
        f"{internal}%2F",
        f"..%2f{internal}",
        f"%2e%2e%2finternal%2fapi%2fcollections%2f{internal}",
        f"{collection}%2f..%2f{internal}",
        internal.title(),
    ]
    for v in variants:
        urls += [
            f"/api/collections/{v}",
            f"/api/collections/{v}/items",
            f"/api/collections/{v}/items?f=html",
            f"/opendata/files/{v}/{v}.geojson",
            f"/search?q={v}",
        ]
    return urls


def _path_tricks(internal: str) -> list[str]:
    return [
        "/internal%2fapi/collections",
        "//internal/api/collections",
        "/Internal/api/collections",
        "/api/../internal/api/collections",
        f"/api/%2e%2e/internal/api/collections/{internal}/items",
        "/vendor/../data/store.gpkg",
        "/vendor/..%2f..%2fdata%2fstore.gpkg",
        "/build/..%2f..%2f..%2fdata/store.gpkg",
        "/opendata/files/..%2f..%2fstore.gpkg",
        "/api/static/..%2f..%2f..%2fdata%2fstore.gpkg",
        "/api/schemas/..%2f..%2fprovider.py",
        "/data/store.gpkg",
        "/data/accounts.sqlite",
        "/data/generated/pygeoapi-internal.yml",
        "/.env",
    ]


def _links(response: httpx.Response, base: str) -> list[str]:
    text = response.text
    found = re.findall(r"""(?:href|src)=["']([^"'#]+)""", text)
    found += re.findall(r'"(?:href|downloadURL|accessURL|@id|url)"\s*:\s*"([^"]+)"', text)
    urls = []
    for link in found:
        absolute = urljoin(base + response.request.url.path, link.replace("&amp;", "&"))
        parts = urlsplit(absolute)
        if absolute.startswith(base) and not parts.path.startswith(NEVER_FOLLOW):
            urls.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return urls


def _crawl(client: httpx.Client, base: str, start: list[str]) -> dict[str, httpx.Response]:
    seen: dict[str, httpx.Response] = {}
    queue = deque(start)
    while queue and len(seen) < MAX_URLS:
        url = queue.popleft()
        if url in seen:
            continue
        # Absolute URLs, so a path like //internal/... stays a path and never becomes a host.
        seen[url] = response = client.get(base + url)
        if "text" in response.headers.get("content-type", "") or "json" in response.headers.get(
            "content-type", ""
        ):
            queue.extend(u for u in _links(response, base) if u not in seen)
    return seen


def _openapi_urls(client: httpx.Client) -> list[str]:
    paths = client.get("/api/openapi", params={"f": "json"}).json()["paths"]
    urls = []
    for template in paths:
        for collection in PUBLIC_LAYERS + PUBLIC_RASTERS + ["opendata-catalog"]:
            url = template.replace("{collectionId}", collection).replace("{featureId}", "1")
            url = re.sub(r"\{[^}]+\}", "x", url)
            urls += [f"/api{url}", f"/api{url}?f=html"]
    return sorted(set(urls))


def _tile_urls(client: httpx.Client) -> list[str]:
    """Tile documents and MVTs of every public layer (an MVT's string table is in its bytes)."""
    urls = []
    for layer_id in PUBLIC_LAYERS:
        base = f"/api/collections/{layer_id}/tiles"
        urls += [
            base,
            f"{base}?f=html",
            f"{base}/WebMercatorQuad",
            f"{base}/WebMercatorQuad?f=tilejson",
            f"{base}/WebMercatorQuad/metadata",
        ]
        tileset = client.get(f"{base}/WebMercatorQuad").json()
        tiles = [
            f"{base}/WebMercatorQuad/{lim['tileMatrix']}/{row}/{col}"
            for lim in tileset["tileMatrixSetLimits"]
            for row in range(lim["minTileRow"], lim["maxTileRow"] + 1)
            for col in range(lim["minTileCol"], lim["maxTileCol"] + 1)
        ]
        urls += tiles[:TILES_PER_LAYER]
    return urls


@pytest.fixture(scope="module")
def responses(live_server, sample_settings) -> dict[str, httpx.Response]:
    internal = INTERNAL_LAYERS[0].id
    fields = [f.name for f in INTERNAL_LAYERS[0].fields] + ["review_status"]
    with httpx.Client(base_url=live_server.url, timeout=30, follow_redirects=False) as client:
        start = SEEDS + _openapi_urls(client) + _tile_urls(client) + _path_tricks(internal)
        start += _raster_urls(client, sample_settings)
        for collection in PUBLIC_LAYERS:
            start += _crafted(collection, internal, fields)
        return _crawl(client, live_server.url, start)


def test_the_crawl_reached_every_public_surface(responses):
    paths = {urlsplit(u).path for u in responses}
    for layer_id in PUBLIC_LAYERS:
        assert f"/api/collections/{layer_id}/items" in paths
        assert any(p.startswith(f"/opendata/files/{layer_id}/") for p in paths), layer_id
    for layer_id in PUBLIC_RASTERS:
        assert f"/api/collections/{layer_id}/coverage" in paths
        assert any(p.startswith(f"/opendata/files/{layer_id}/") for p in paths), layer_id
    assert {"/search", "/point", "/opendata", "/opendata/catalog.jsonld", "/viewer-config.json"} <= paths
    assert len(responses) > 300


def test_nothing_internal_in_any_body_or_header(responses, secrets):
    assert "河川課 確認済（サンプル）" in secrets and "shelters_staff" in secrets
    for url, response in responses.items():
        body = response.content
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        # What the client itself sent may come back (a search box shows its query); the rest
        # must not, and the other tests show that a guessed name answers like any unknown one.
        sent = unquote(url)
        for secret in (s for s in secrets if s not in sent):
            encoded = {secret.encode("utf-8"), secret.encode("cp932", "ignore")} - {b""}
            assert not any(e in body for e in encoded), f"{secret!r} in the body of {url}"
            assert secret not in headers, f"{secret!r} in the headers of {url}"


def test_no_pixel_of_a_staff_raster_in_any_public_answer(responses, raster_bytes):
    rasters = [u for u in responses if "/map/tiles/WebMercatorQuad/" in u or "/coverage?" in u]
    assert len(rasters) >= 2 * len(PUBLIC_RASTERS) * RASTER_TILES // 2, rasters
    assert any(r.headers.get("content-type", "").startswith("image/tiff") for r in responses.values())
    for url, response in responses.items():
        for name, marker in raster_bytes.items():
            assert marker not in response.content, f"{name} in the body of {url}"
    for layer in INTERNAL_RASTERS:
        for url, response in responses.items():
            if layer.id in url and url.startswith(("/api/", "/opendata/")):
                assert response.status_code == 404, (url, response.status_code)


def test_public_tiles_decode_to_public_fields_only(responses):
    import mapbox_vector_tile

    allowed = PUBLIC_FIELDS | {"fid"}  # fid: the OGC API id of layers without an id field
    tiles = [
        r for r in responses.values() if r.headers.get("content-type") == "application/vnd.mapbox-vector-tile"
    ]
    assert len(tiles) > 3 * len(PUBLIC_LAYERS)
    for response in tiles:
        for name, layer in mapbox_vector_tile.decode(response.content).items():
            assert name in PUBLIC_LAYERS, response.url
            for feature in layer["features"]:
                assert set(feature["properties"]) <= allowed, response.url


def test_no_server_errors_and_errors_are_ogc_json(responses):
    for url, response in responses.items():
        assert response.status_code < 500, (url, response.status_code)
        if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
            body = response.json()
            assert "code" in body and "description" in body, url
            assert "Traceback" not in response.text, url


def test_internal_collection_is_indistinguishable_from_an_unknown_one(live_server):
    internal = INTERNAL_LAYERS[0].id
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for suffix in ("", "/items", "/items/1", "/queryables", "/schema"):
            hidden = client.get(f"/api/collections/{internal}{suffix}")
            unknown = client.get(f"/api/collections/no_such_layer{suffix}")
            assert hidden.status_code == unknown.status_code == 404
            assert hidden.json()["description"].replace(internal, "X") == unknown.json()[
                "description"
            ].replace("no_such_layer", "X")


def test_files_outside_the_served_directories_are_unreachable(responses):
    for url in _path_tricks(INTERNAL_LAYERS[0].id):
        response = responses[url]
        assert response.status_code in (301, 302, 307, 308, 400, 401, 404), (url, response.status_code)
        assert b"SQLite format 3" not in response.content, url
