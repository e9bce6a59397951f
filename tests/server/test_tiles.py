"""OGC API - Tiles on a real server, on both stores: documents, MVT content, budgets, caching, errors.

The GeoPackage store serves the MBTiles the ETL pre-built with GDAL; the PostGIS store makes the
same tiles with ST_AsMVT on demand. Tiles are decoded with mapbox-vector-tile's decoder.
"""

import gzip

import httpx
import mapbox_vector_tile
import morecantile
import pytest

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.tiles.rules import MAX_SIZE

CATALOG = load_catalog(PROJECT_ROOT / "layers")
TMS = morecantile.tms.get("WebMercatorQuad")
MVT = "application/vnd.mapbox-vector-tile"
KENKYU_GAKUEN = (140.1063, 36.0885)  # the sample PLATEAU road tiles are around this station


@pytest.fixture(scope="module")
def client(each_app_client):
    return each_app_client  # in-process (tests/conftest.py AppClient)


def tile_url(layer_id: str, z: int, x: int, y: int) -> str:
    return f"/api/collections/{layer_id}/tiles/WebMercatorQuad/{z}/{y}/{x}"


def decode(response: httpx.Response) -> dict:
    """The decoded MVT of a 200 answer ({} for 204); httpx undoes the Content-Encoding."""
    if response.status_code == 204:
        return {}
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == MVT
    return mapbox_vector_tile.decode(response.content)


def every_tile(tileset: dict, zooms: range | None = None):
    """(z, x, y) of every tile in a tileset's limits."""
    for limit in tileset["tileMatrixSetLimits"]:
        z = int(limit["tileMatrix"])
        if zooms is not None and z not in zooms:
            continue
        for y in range(limit["minTileRow"], limit["maxTileRow"] + 1):
            for x in range(limit["minTileCol"], limit["maxTileCol"] + 1):
                yield z, x, y


def test_documents_have_the_ogc_and_tilejson_shapes(client):
    base = str(client.base_url).rstrip("/")
    collection = client.get("/api/collections/flood_sample", params={"f": "json"}).json()
    rels = {link["rel"] for link in collection["links"]}
    assert "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector" in rels
    listing = client.get("/api/collections/flood_sample/tiles").json()
    (entry,) = listing["tilesets"]
    assert entry["dataType"] == "vector" and entry["crs"].endswith("/3857")
    tileset = client.get(next(link["href"] for link in entry["links"] if link["rel"] == "self")).json()
    for key in ("dataType", "crs", "links", "tileMatrixSetURI", "tileMatrixSetLimits", "layers"):
        assert key in tileset, key
    links = {link["rel"]: link["href"] for link in tileset["links"]}
    assert (
        links["http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"]
        == f"{base}/api/tileMatrixSets/WebMercatorQuad"
    )
    assert (
        links["item"] == f"{base}/api/collections/flood_sample/tiles/WebMercatorQuad"
        "/{tileMatrix}/{tileRow}/{tileCol}"
    )
    for limit in tileset["tileMatrixSetLimits"]:
        assert {"tileMatrix", "minTileRow", "maxTileRow", "minTileCol", "maxTileCol"} <= set(limit)
    (layer,) = tileset["layers"]
    assert layer["id"] == "flood_sample" and layer["geometryDimension"] == 2
    assert set(layer["propertiesSchema"]["properties"]) == {"fid", "depth", "depth_rank"}
    tilejson = client.get(links["alternate"]).json()
    assert tilejson["tilejson"] == "3.0.0" and "overzoom" in tilejson["description"]
    template = f"{base}/api/collections/flood_sample/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    assert tilejson["tiles"] == [template]
    assert tilejson["vector_layers"][0]["fields"] == {
        "fid": "Number",
        "depth": "String",
        "depth_rank": "Number",
    }
    assert (tilejson["minzoom"], tilejson["maxzoom"]) == (layer_min_max(tileset))
    scheme = client.get(links["http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"]).json()
    morecantile.TileMatrixSet.model_validate(scheme)
    sets = client.get("/api/tileMatrixSets").json()["tileMatrixSets"]
    assert [s["id"] for s in sets] == ["WebMercatorQuad"]


def layer_min_max(tileset: dict) -> tuple[int, int]:
    (layer,) = tileset["layers"]
    return int(layer["minTileMatrix"]), int(layer["maxTileMatrix"])


def test_landing_conformance_and_openapi_name_the_tiles(client):
    conformance = client.get("/api/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt" in conformance
    assert "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset" in conformance
    paths = client.get("/api/openapi", params={"f": "json"}).json()["paths"]
    for path in (
        "/tileMatrixSets",
        "/collections/road_areas/tiles",
        "/collections/road_areas/tiles/{tileMatrixSetId}",
        "/collections/road_areas/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    ):
        assert path in paths, path
    landing = client.get("/api", params={"f": "json"}).json()
    schemes = [link["href"] for link in landing["links"] if link["rel"].endswith("tiling-schemes")]
    assert schemes and all(client.get(href).status_code == 200 for href in schemes)


def test_a_dense_tile_decodes_within_the_budget(client):
    x, y, _ = TMS.tile(*KENKYU_GAKUEN, 15)
    response = client.get(tile_url("road_areas", 15, x, y), headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) <= MAX_SIZE
    layers = decode(response)
    assert list(layers) == ["road_areas"]
    features = layers["road_areas"]["features"]
    assert 20 < len(features) <= 463
    # the id and the style's category field (the roads department's closures are drawn in red)
    assert all(set(f["properties"]) == {"gml_id", "traffic"} for f in features)
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)


def test_public_tiles_never_carry_an_internal_field(client):
    internal = {f.name for f in CATALOG.layers["flood_sample"].fields if f.access == "internal"}
    assert internal == {"review_status"}
    tileset = client.get("/api/collections/flood_sample/tiles/WebMercatorQuad").json()
    seen = 0
    for z, x, y in every_tile(tileset, range(8, 13)):
        response = client.get(tile_url("flood_sample", z, x, y))
        assert b"review_status" not in response.content  # httpx undid the gzip
        for feature in decode(response).get("flood_sample", {}).get("features", []):
            assert not internal & set(feature["properties"])
            seen += 1
    assert seen > 6  # the six areas, cut by tile edges
    hidden = client.get("/api/collections/shelters_staff/tiles/WebMercatorQuad/12/1606/3640")
    assert hidden.status_code == 404 and hidden.json()["code"] == "NotFound"


@pytest.mark.parametrize("layer_id", ["shelters", "emergency_sites"])
def test_empty_tiles_are_204_and_revalidation_is_304(client, layer_id):
    tileset = client.get(f"/api/collections/{layer_id}/tiles/WebMercatorQuad").json()
    statuses = {}
    for z, x, y in every_tile(tileset, range(14, 15)):
        response = client.get(tile_url(layer_id, z, x, y))
        statuses.setdefault(response.status_code, response)
        if len(statuses) == 2:
            break
    assert set(statuses) == {200, 204}
    empty, full = statuses[204], statuses[200]
    assert empty.content == b"" and empty.headers["etag"]
    if CATALOG.layers[layer_id].editable:  # staff edit it live: caches ask again every time
        assert full.headers["cache-control"] == "public, no-cache"
    else:
        assert full.headers["cache-control"].startswith("public, max-age=")
        assert "stale-while-revalidate" in full.headers["cache-control"]
    assert full.headers["last-modified"].endswith("GMT")
    again = client.get(full.request.url, headers={"If-None-Match": full.headers["etag"]})
    assert again.status_code == 304 and again.headers["etag"] == full.headers["etag"]


def test_gzip_is_negotiated_and_never_doubled(client):
    x, y, _ = TMS.tile(*KENKYU_GAKUEN, 14)
    url = tile_url("road_areas", 14, x, y)
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        body = b"".join(response.iter_raw())  # the bytes as sent, not decoded by httpx
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == plain.content  # one layer of gzip, not two
    assert mapbox_vector_tile.decode(plain.content)["road_areas"]["features"]


@pytest.mark.parametrize(
    "path,status",
    [
        ("/api/collections/road_areas/tiles/WebMercatorQuad/x/1/1", 400),
        ("/api/collections/road_areas/tiles/WebMercatorQuad/14/-1/3", 400),
        ("/api/collections/road_areas/tiles/WebMercatorQuad/3/8/1", 400),
        ("/api/collections/road_areas/tiles/WebMercatorQuad/99/1/1", 400),
        ("/api/collections/road_areas/tiles/WebMercatorQuad/14/0/0", 404),
        ("/api/collections/road_areas/tiles/WebMercatorQuad/3/1/1", 404),
        ("/api/collections/road_areas/tiles/WorldCRS84Quad/14/1/1", 404),
        ("/api/collections/road_areas/tiles/NoSuchSet", 404),
        ("/api/collections/no_such_layer/tiles", 404),
        ("/api/collections/no_such_layer/tiles/WebMercatorQuad/14/1/1", 404),
        ("/api/tileMatrixSets/NoSuchSet", 404),
        ("/api/collections/road_areas/tiles/WebMercatorQuad/14/6429/14568?f=png", 400),
        ("/api/collections/road_areas/tiles/WebMercatorQuad?f=xml", 400),
    ],
)
def test_bad_tile_requests_are_ogc_json(client, path, status):
    response = client.get(path)
    assert response.status_code == status, path
    body = response.json()
    assert body["code"] and body["description"]


# -- staff side, reloads ---------------------------------------------------------------------

STAFF_PASSWORD = "tsukuba tiles 2026"


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def small_city(request, tmp_path_factory):
    """Three layers loaded into a fresh store, a staff account, and a server on them, per module:
    the staff test reads them, then the reload test (defined after it) loads towns again."""
    from click.testing import CliRunner
    from liveserver import LiveServer

    from etl.runner import run_etl
    from tsukuba_gis.cli.main import cli
    from tsukuba_gis.settings import Settings

    tmp_path = tmp_path_factory.mktemp(f"small-city-{request.param}")
    db = request.getfixturevalue("postgis_test_db") if request.param == "postgis" else None
    store = f"{db}?schema=test_small_city" if db else None
    settings = Settings(data_dir=tmp_path, store=store)
    assert run_etl(settings, ["shelters", "shelters_staff", "towns"], quiet=True).ok
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(tmp_path),
        "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
        "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "8",
        "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
        **({"TSUKUBA_GIS_STORE": store} if store else {}),
    }
    result = CliRunner().invoke(
        cli, ["users", "add", "sato", "--password-stdin"], env=env, input=STAFF_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    server = LiveServer(tmp_path, env)
    yield settings, server
    server.stop()


def test_staff_tiles_need_auth_and_carry_what_staff_may_see(small_city):
    _, server = small_city
    x, y, _ = TMS.tile(140.1115, 36.0828, 12)
    staff_url = f"{server.url}/internal/api/collections/shelters_staff/tiles/WebMercatorQuad"
    assert httpx.get(f"{staff_url}/12/{y}/{x}").status_code == 401
    auth = httpx.BasicAuth("sato", STAFF_PASSWORD)
    tileset = httpx.get(staff_url, auth=auth).json()
    assert tileset["links"][0]["href"].startswith(f"{server.url}/internal/api/")
    response = httpx.get(f"{staff_url}/12/{y}/{x}", auth=auth)
    assert response.headers["cache-control"] == "private, no-store"
    features = decode(response)["shelters_staff"]["features"]
    assert features and all(set(f["properties"]) == {"common_id", "name"} for f in features)
    public = httpx.get(f"{server.url}/api/collections/shelters_staff/tiles/WebMercatorQuad")
    assert public.status_code == 404


def test_an_etl_reload_changes_the_etags_of_exactly_that_layer(small_city):
    import time

    from etl.runner import run_etl

    settings, server = small_city
    x, y, _ = TMS.tile(140.1115, 36.0828, 12)
    urls = {layer: f"{server.url}{tile_url(layer, 12, x, y)}" for layer in ("towns", "shelters")}
    before = {layer: httpx.get(url).headers["etag"] for layer, url in urls.items()}
    assert run_etl(settings, ["towns"], force=True, quiet=True).ok
    deadline = time.monotonic() + 10
    while httpx.get(urls["towns"]).headers["etag"] == before["towns"]:
        assert time.monotonic() < deadline, "the server never served the new version's tiles"
        time.sleep(0.2)
    after = httpx.get(urls["towns"])
    assert decode(after)["towns"]["features"]
    assert httpx.get(urls["shelters"]).headers["etag"] == before["shelters"]
    stale = httpx.get(urls["towns"], headers={"If-None-Match": before["towns"]})
    assert stale.status_code == 200


# -- the two stores answer the same ----------------------------------------------------------

PARITY_TILES = [
    ("flood_sample", range(8, 12)),
    ("road_areas", range(14, 16)),
    ("shelters", range(11, 12)),
    ("urban_planning_area", range(10, 12)),
]


@pytest.fixture(scope="module")
def both(live_server, postgis_live_server):
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as gpkg,
        httpx.Client(base_url=postgis_live_server.url, timeout=30) as postgis,
    ):
        yield gpkg, postgis


def _area(feature: dict) -> float:
    import shapely.geometry

    return shapely.geometry.shape(feature["geometry"]).area


def test_postgis_serves_the_tiles_the_etl_prebuilt(both, postgis_sample_settings):
    from tsukuba_gis.store import open_store

    cache = open_store(postgis_sample_settings.store).tile_cache()
    tileset = both[0].get("/api/collections/flood_sample/tiles/WebMercatorQuad").json()
    for z, x, y in every_tile(tileset, range(8, 12)):
        gpkg, postgis = (c.get(tile_url("flood_sample", z, x, y)) for c in both)
        assert gpkg.status_code == postgis.status_code and gpkg.content == postgis.content
    from tsukuba_gis.tiles.rules import tile_spec

    spec = tile_spec(CATALOG.layers["flood_sample"], cache.store.current("flood_sample"), "public")
    assert cache.prebuilt("flood_sample", spec.version, spec.cache_variant)


@pytest.mark.parametrize("layer_id,zooms", PARITY_TILES)
def test_both_stores_serve_the_same_tiles(both, postgis_sample_settings, layer_id, zooms):
    """GDAL's pre-built tiles (GeoPackage server) and ST_AsMVT's (PostGIS, its cache emptied)."""
    from tsukuba_gis.store import open_store
    from tsukuba_gis.tiles.rules import tile_spec

    gpkg, _ = both
    path = f"/api/collections/{layer_id}/tiles/WebMercatorQuad"
    documents = [c.get(path).text.replace(str(c.base_url).rstrip("/"), "") for c in both]
    assert documents[0] == documents[1]
    store = open_store(postgis_sample_settings.store)
    store.tile_cache().clear(layer_id)
    # Straight from the store: no tile of this layer in the database, so ST_AsMVT makes them.
    record = store.current(layer_id)
    spec = tile_spec(CATALOG.layers[layer_id], record, "public")
    tileset = gpkg.get(path).json()
    for z, x, y in every_tile(tileset, zooms):
        made = store.tile(record, spec, z, x, y)
        a = decode(gpkg.get(tile_url(layer_id, z, x, y)))
        b = mapbox_vector_tile.decode(gzip.decompress(made)) if made else {}
        fa, fb = (t.get(layer_id, {}).get("features", []) for t in (a, b))
        assert sorted(map(str, (f["properties"] for f in fa))) == sorted(
            map(str, (f["properties"] for f in fb))
        ), (z, x, y)
        area_a, area_b = sum(map(_area, fa)), sum(map(_area, fb))
        assert area_a == pytest.approx(area_b, rel=0.02, abs=50), (z, x, y)


# GeoPackage only: on PostGIS a missing tile is made by ST_AsMVT (the parity test covers it).
@pytest.mark.parametrize("small_city", ["gpkg"], indirect=True)
def test_missing_prebuilt_tiles_are_built_by_the_server(small_city):
    import shutil
    import time

    settings, server = small_city
    # z13: a tile no earlier test asked for (one served before stays in the workers' memory)
    x, y, _ = TMS.tile(140.1115, 36.0828, 13)
    url = f"{server.url}{tile_url('towns', 13, x, y)}"
    shutil.rmtree(settings.data_dir / "tiles" / "towns")  # e.g. a store copied with --no-tiles
    response = httpx.get(url)
    assert response.status_code == 503
    deadline = time.monotonic() + 20
    while response.status_code == 503:
        assert response.headers["retry-after"] and response.json()["code"] == "ServiceUnavailable"
        assert time.monotonic() < deadline, "the server never built the missing tiles"
        time.sleep(0.3)
        response = httpx.get(url)
    assert response.status_code == 200 and decode(response)["towns"]["features"]
    assert list((settings.data_dir / "tiles" / "towns").glob("*.mbtiles"))
    assert not list((settings.data_dir / "tiles" / "towns").glob("*.building"))
