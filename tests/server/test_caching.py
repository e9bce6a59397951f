"""HTTP caching of the OGC API: validators from the layer version, 304s, Cache-Control."""

import math
import time
from email.utils import formatdate, parsedate_to_datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from liveserver import LiveServer
from minicity import MiniCity

from server import caching
from server.app import ogc_api
from server.snapshot import Snapshots
from tsukuba_gis.store import open_store

ITEMS = "/api/collections/shelters/items"
RESOURCES = [
    (ITEMS, {"limit": 5, "f": "json"}),
    (ITEMS, {"bbox": "140.10,36.07,140.13,36.10", "f": "json"}),
    (ITEMS, {"limit": 3, "f": "html"}),
    ("/api/collections/shelters", {"f": "json"}),
    ("/api/collections", {"f": "json"}),
    ("/api", {"f": "json"}),
]


@pytest.fixture(scope="module")
def client(app_client):
    return app_client  # in-process (tests/conftest.py AppClient)


@pytest.fixture(scope="module")
def mini_city(tmp_path_factory):
    """A one-layer city loaded once, and a server on it: (city, server). Each test using it loads
    a new version of its own and asks only whether the answers follow it."""
    city = MiniCity(tmp_path_factory.mktemp("caching") / "city")
    city.hand_over(50, "first")
    city.etl()
    server = LiveServer(city.data_dir, city.env)
    yield city, server
    server.stop()


def _wait_for(check, what: str, seconds: float = 10):
    """Poll ``check`` until it is true; servers notice a new version within about a second."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} after {seconds} s"
        time.sleep(0.2)


def _first_id(client: httpx.Client) -> str:
    return client.get(ITEMS, params={"limit": 1, "f": "json"}).json()["features"][0]["id"]


@pytest.mark.parametrize(("path", "params"), RESOURCES)
def test_public_documents_carry_validators_and_a_cdn_friendly_cache_control(client, path, params):
    response = client.get(path, params=params)
    assert response.status_code == 200
    assert response.headers["etag"].startswith('W/"')
    # The shelters are edited live (issue 13): their collection and items are revalidated on every use.
    expected = caching.PUBLIC_LIVE if path.startswith("/api/collections/shelters") else caching.PUBLIC
    assert response.headers["cache-control"] == expected
    assert "max-age=60" in caching.PUBLIC and "public" in caching.PUBLIC
    assert "Accept" in response.headers["vary"] and "Accept-Language" in response.headers["vary"]
    loaded = parsedate_to_datetime(response.headers["last-modified"]).timestamp()
    assert loaded <= time.time()


@pytest.mark.parametrize(("path", "params"), RESOURCES)
def test_if_none_match_answers_304_without_a_body(client, path, params):
    first = client.get(path, params=params)
    again = client.get(path, params=params, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    for name in ("etag", "cache-control", "last-modified"):
        assert again.headers[name] == first.headers[name], name
    # Vary: the same, but for the Accept-Encoding that GZipMiddleware adds to large bodies only.
    # (CORS appends Origin after it: compared as sets.)
    varies = [{v.strip() for v in r.headers["vary"].split(",")} - {"Accept-Encoding"} for r in (first, again)]
    assert varies[0] == varies[1]
    # A list of tags, one of them ours, strong or weak, also matches; another tag does not.
    listed = f'"other", {first.headers["etag"].removeprefix("W/")}'
    assert client.get(path, params=params, headers={"If-None-Match": listed}).status_code == 304
    assert client.get(path, params=params, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(path, params=params, headers={"If-None-Match": "*"}).status_code == 304


def test_if_modified_since_answers_304_until_the_layer_changes(client):
    first = client.get(ITEMS, params={"limit": 5, "f": "json"})
    last = first.headers["last-modified"]
    assert (
        client.get(ITEMS, params={"limit": 5, "f": "json"}, headers={"If-Modified-Since": last}).status_code
        == 304
    )
    earlier = formatdate(parsedate_to_datetime(last).timestamp() - 10, usegmt=True)
    assert (
        client.get(
            ITEMS, params={"limit": 5, "f": "json"}, headers={"If-Modified-Since": earlier}
        ).status_code
        == 200
    )
    # If-None-Match wins: a stale tag gets the document even with a matching date.
    both = {"If-Modified-Since": last, "If-None-Match": '"stale"'}
    assert client.get(ITEMS, params={"limit": 5, "f": "json"}, headers=both).status_code == 200
    garbage = {"If-Modified-Since": "yesterday-ish"}
    assert client.get(ITEMS, params={"limit": 5}, headers=garbage).status_code == 200


def test_single_feature_revalidates(client):
    path = f"{ITEMS}/{_first_id(client)}"
    first = client.get(path, params={"f": "json"})
    assert first.status_code == 200 and first.headers["etag"].startswith('W/"')
    assert (
        client.get(path, params={"f": "json"}, headers={"If-None-Match": first.headers["etag"]}).status_code
        == 304
    )


def test_representations_of_one_url_have_their_own_tags(client):
    as_json = client.get(ITEMS, params={"limit": 2}, headers={"Accept": "application/json"})
    as_html = client.get(ITEMS, params={"limit": 2}, headers={"Accept": "text/html"})
    english = client.get(ITEMS, params={"limit": 2, "f": "json"}, headers={"Accept-Language": "en"})
    japanese = client.get(ITEMS, params={"limit": 2, "f": "json"}, headers={"Accept-Language": "ja"})
    assert as_json.headers["content-type"] != as_html.headers["content-type"]
    tags = {r.headers["etag"] for r in (as_json, as_html, english, japanese)}
    assert len(tags) == 4
    # A tag of one representation does not revalidate the other.
    assert (
        client.get(
            ITEMS,
            params={"limit": 2},
            headers={"Accept": "text/html", "If-None-Match": as_json.headers["etag"]},
        ).status_code
        == 200
    )


def test_layers_have_their_own_tags_and_errors_have_none(client):
    shelters = client.get(ITEMS, params={"limit": 1, "f": "json"}).headers["etag"]
    towns = client.get("/api/collections/towns/items", params={"limit": 1, "f": "json"})
    assert towns.headers["etag"] != shelters
    missing = client.get("/api/collections/nope/items", params={"f": "json"})
    assert missing.status_code == 404 and "etag" not in missing.headers
    bad = client.get(ITEMS, params={"limit": "x", "f": "json"})
    assert bad.status_code == 400 and "etag" not in bad.headers


def test_staff_documents_are_never_stored(sample_settings):
    settings = sample_settings.model_copy(update={"public_url": "http://testserver"})
    store = open_store(settings.store_url)
    with TestClient(ogc_api(Snapshots(settings, store), "internal")) as staff:
        response = staff.get("/collections/shelters_staff/items", params={"f": "json"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["etag"].startswith('W/"')


@pytest.mark.live
def test_a_new_version_changes_the_tag_at_once(mini_city):
    city, server = mini_city
    items = f"{server.url}/api/collections/sites/items"
    first = httpx.get(items, params={"f": "json"})
    old = first.headers["etag"]
    assert httpx.get(items, params={"f": "json"}, headers={"If-None-Match": old}).status_code == 304
    city.hand_over(60, "second")
    city.etl()
    _wait_for(
        lambda: httpx.get(items, params={"f": "json"}, headers={"If-None-Match": old}).status_code == 200,
        "the old tag still revalidated",
    )
    fresh = httpx.get(items, params={"f": "json"})
    assert fresh.headers["etag"] != old
    assert {f["properties"]["edition"] for f in fresh.json()["features"]} == {"second"}


def test_validators_unit():
    tag = caching.Validators('W/"abc"', 0.0)
    assert caching.not_modified({"if-none-match": '"abc"'}, tag)
    assert caching.not_modified({"if-none-match": 'W/"x", W/"abc"'}, tag)
    assert not caching.not_modified({"if-none-match": '"abcd"'}, tag)
    assert not caching.not_modified({}, tag)
    assert caching.not_modified({"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"}, tag)
    assert not caching.not_modified(
        {"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"}, caching.Validators('"t"', 5.0)
    )
    assert caching.headers(tag, public=False)["Cache-Control"] == "private, no-store"
    kept = caching.not_modified_response({"ETag": '"t"', "Content-Type": "x", "Vary": "Accept"})
    assert kept.status_code == 304 and "content-type" not in kept.headers
    assert kept.headers["vary"] == "Accept"


def test_tiles_revalidate_through_the_same_helper(client):
    """Tiles (server/tiles) use server/caching.py too: If-None-Match and If-Modified-Since."""
    tilejson = client.get("/api/collections/shelters/tiles/WebMercatorQuad", params={"f": "tilejson"}).json()
    feature = client.get(ITEMS, params={"limit": 1, "f": "json"}).json()["features"][0]
    lon, lat = feature["geometry"]["coordinates"]
    z = tilejson["minzoom"]
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    url = f"/api/collections/shelters/tiles/WebMercatorQuad/{z}/{y}/{x}"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["etag"].startswith('"')
    assert first.headers["cache-control"].startswith("public")
    for condition in (
        {"If-None-Match": first.headers["etag"]},
        {"If-Modified-Since": first.headers["last-modified"]},
    ):
        again = client.get(url, headers=condition)
        assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]


@pytest.mark.live
def test_kept_documents_follow_a_new_version(mini_city):
    """/collections and the collection document are kept per build, and rebuilt with the data."""
    city, server = mini_city
    url = f"{server.url}/api/collections/sites"
    first = httpx.get(url, params={"f": "json"}).json()
    assert httpx.get(url, params={"f": "json"}).json() == first  # the kept answer
    assert httpx.get(url, params={"f": "json", "lang": "en"}).json()["title"] == "Test sites"
    assert httpx.get(url, params={"f": "json", "lang": "ja"}).json()["title"] == "テスト地点"
    city.hand_over(400, "second")  # other random points: another extent
    city.etl()
    _wait_for(
        lambda: httpx.get(url, params={"f": "json"}).json()["extent"] != first["extent"],
        "the collection document still showed the old extent",
    )
