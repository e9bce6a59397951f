"""The promises of the server's shape: one snapshot per audience, one error body, pygeoapi fenced.

In-process (Starlette's TestClient over ``create_app``): the process boundary is not what is
tested here, the routes' answers are.
"""

import subprocess
import sys
import textwrap

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.auth.settings import AuthSettings
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import Query, open_store

CATALOG = load_catalog(PROJECT_ROOT / "layers")
INTERNAL_LAYERS = [layer for layer in CATALOG.layers.values() if layer.access == "internal"]
STAFF, PASSWORD = "arch-staff", "correct horse battery staple"


@pytest.fixture(scope="module")
def app(sample_settings, tmp_path_factory):
    from server.auth.accounts import open_account_store
    from server.auth.passwords import Passwords

    auth = AuthSettings(accounts=str(tmp_path_factory.mktemp("accounts") / "accounts.sqlite"))
    accounts = open_account_store(auth.accounts_url(sample_settings.data_dir))
    if accounts.get_user(STAFF) is None:
        accounts.add_user(STAFF, "staff", Passwords(auth).hash(PASSWORD))
    return create_app(sample_settings.model_copy(update={"public_url": "http://testserver"}), auth)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def staff(client):
    return (STAFF, PASSWORD)


def _ordered(ids: list[str], among: set[str]) -> list[str]:
    return [i for i in ids if i in among]


@pytest.mark.parametrize("audience", ["public", "internal"])
def test_every_listing_has_the_layers_in_one_order(client, app, staff, audience):
    prefix = "" if audience == "public" else "/internal"
    auth = staff if audience == "internal" else None
    snapshot = app.state.snapshots.get(audience)
    expected = [layer.id for layer in snapshot.layers]
    assert len(expected) > 5
    collections = client.get(f"{prefix}/api/collections", params={"f": "json"}, auth=auth).json()
    ogc = [c["id"] for c in collections["collections"] if c["id"] in set(expected)]
    viewer = list(client.get(f"{prefix}/viewer-config.json", auth=auth).json()["layers"])
    report = client.get(f"{prefix}/point", params={"lat": 36.0828, "lon": 140.1115}, auth=auth).json()
    point = [layer["id"] for layer in report["layers"]]
    tiles = list(snapshot.tilesets)
    search = list(snapshot.search.titles)
    assert ogc == expected and viewer == expected and point == expected
    assert tiles == _ordered(expected, set(tiles)) and search == _ordered(expected, set(search))
    assert search, "no searchable layer: the comparison would be empty"


@pytest.mark.parametrize("audience", ["public", "internal"])
def test_rasters_are_listed_in_the_one_order(client, app, staff, audience):
    prefix = "" if audience == "public" else "/internal"
    auth = staff if audience == "internal" else None
    snapshot = app.state.snapshots.get(audience)
    expected = [raster.id for raster in snapshot.rasters]
    assert len(expected) == (3 if audience == "internal" else 2)
    collections = client.get(f"{prefix}/api/collections", params={"f": "json"}, auth=auth).json()
    assert [c["id"] for c in collections["collections"] if c["id"] in set(expected)] == expected
    viewer = list(client.get(f"{prefix}/viewer-config.json", auth=auth).json()["rasters"])
    report = client.get(f"{prefix}/point", params={"lat": 36.0828, "lon": 140.1115}, auth=auth).json()
    hazards = [r.id for r in snapshot.rasters if r.style.hazard]
    point = [r["id"] for r in report["rasters"]]
    assert viewer == expected and point == hazards + [i for i in expected if i not in hazards]


# One request per router that must fail, and how; every answer has the one body shape.
ERRORS = [
    ("/api/collections/nope?f=json", 404),
    ("/api/collections/shelters/items?limit=x&f=json", 400),
    ("/api/collections/shelters/items/999999999?f=json", 404),
    ("/api/collections/shelters/tiles/WebMercatorQuad/14/x/1", 400),
    ("/api/collections/shelters/tiles/NoSuchTMS", 404),
    ("/api/collections/shelters/tiles/WebMercatorQuad/1/0/0", 404),
    ("/api/tileMatrixSets/NoSuchTMS", 404),
    ("/api/collections/flood_depth_sample/coverage?subset=x(1:x)", 400),
    ("/api/collections/flood_depth_sample/coverage?f=json", 400),
    ("/api/collections/aerial_photo_sample/coverage", 404),
    ("/api/collections/flood_depth_sample/map/tiles/WebMercatorQuad/14/x/1", 400),
    ("/api/collections/flood_depth_sample/map/tiles/NoSuchTMS", 404),
    ("/api/collections/flood_depth_sample/map/tiles/WebMercatorQuad/1/0/0", 404),
    ("/api/collections/flood_depth_sample/legend?f=svg", 400),
    ("/api/collections/shelters/tiles?f=png", 400),
    ("/api/nothing/here?f=json", 404),
    ("/search?q=" + "x" * 101, 400),
    ("/search?q=a&limit=0", 400),
    ("/point", 400),
    ("/point?lat=1&lon=1", 400),
    ("/point?lat=36.08&lon=140.11&f=pdf", 400),
    ("/point?lat=36.08&lon=140.11&lang=fr", 400),
    ("/point?lat=36.08&lon=140.11&f=html&lang=xx", 400),
    ("/search?q=a&lang=fr", 400),
    ("/opendata?lang=fr", 400),
    ("/opendata/files/shelters/nothing.csv", 404),
    ("/internal/api", 401),
    ("/internal/point?lat=36.08&lon=140.11", 401),
    ("/auth/nothing", 404),
    ("/nothing.txt", 404),
]


@pytest.mark.parametrize("path,status", ERRORS)
def test_every_error_has_the_one_ogc_body(client, path, status):
    response = client.get(path)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "type", "description"}, body
    assert body["code"] == body["type"] and body["description"]
    assert "Traceback" not in response.text


def test_writes_on_read_only_routes_have_the_one_body(client):
    for method, path in [("POST", "/opendata"), ("DELETE", "/api/collections"), ("PUT", "/search")]:
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert set(response.json()) == {"code", "type", "description"}


def test_a_store_outage_is_a_503_with_retry_after(sample_settings):
    from liveserver import free_port

    down = f"postgresql://tsukuba@127.0.0.1:{free_port()}/nowhere"  # nothing listens there
    broken = sample_settings.model_copy(update={"store": down, "public_url": "http://testserver"})
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        for path in ("/api/collections?f=json", "/search?q=a", "/point?lat=36.08&lon=140.11"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"] and set(response.json()) == {"code", "type", "description"}
            assert "nowhere" not in response.text  # where the store lives is for the log only


def test_pages_of_unrouted_apis_are_not_served(client):
    """pygeoapi's STAC, EDR and AsyncAPI pages are not routed (their templates are not kept)."""
    for path in (
        "/api/stac",
        "/api/asyncapi",
        "/api/collections/shelters/position?f=html",
        "/api/processes",
        "/api/jobs",
    ):
        assert client.get(path).status_code == 404, path


def _internal_markers(sample_settings) -> set[str]:
    """Internal layers' ids and titles, internal-only field names and labels, and their values."""
    store = open_store(sample_settings.store_url)
    public_names = {f.name for layer in CATALOG.public_layers() for f in layer.public_fields()}
    markers = set()
    for layer in INTERNAL_LAYERS:
        markers |= {layer.id, layer.title.ja, layer.title.en}
        own = [f for f in layer.fields if f.name not in public_names]
        markers |= {f.name for f in own} | {f.label.ja for f in own}
        page = store.query(store.current(layer.id), Query(limit=20, with_count=False))
        markers |= {str(p[f.name]) for p in page.properties for f in own if p.get(f.name)}
    for layer in CATALOG.public_layers():
        hidden = [f for f in layer.fields if f.access == "internal"]
        markers |= {f.label.ja for f in hidden} | {f.label.en for f in hidden}
        page = store.query(store.current(layer.id), Query(limit=20, with_count=False))
        markers |= {str(p[f.name]) for p in page.properties for f in hidden if p.get(f.name)}
    return {m for m in markers if len(m) > 2}


HTML_PAGES = [
    "",
    "/collections",
    "/conformance",
    "/collections/shelters",
    "/collections/flood_sample",
    "/collections/flood_sample/items",
    "/collections/shelters/items",
    "/openapi",
]


def test_staff_pages_rendered_first_leave_nothing_in_public_pages(client, staff, sample_settings):
    """pygeoapi caches a translated config per locale; patches.py turns it off. Render the staff
    pages first, in this process, then the public ones: no internal string may appear."""
    for path in HTML_PAGES + ["/collections/shelters_staff", "/collections/shelters_staff/items"]:
        assert client.get(f"/internal/api{path}", params={"f": "html"}, auth=staff).status_code == 200, path
    # ... and nothing of the staff side's own config: its title, its URLs.
    markers = _internal_markers(sample_settings) | {"（庁内）", "(staff)", "/internal/api"}
    for path in HTML_PAGES:
        for lang in ("ja", "en"):
            page = client.get(f"/api{path}", params={"f": "html", "lang": lang})
            assert page.status_code == 200, path
            found = [m for m in markers if m in page.text]
            assert not found, (path, lang, found)


def test_an_unsupported_pygeoapi_stops_the_server_with_a_clear_message():
    script = textwrap.dedent(
        """
        import pygeoapi
        pygeoapi.__version__ = "0.99.0"
        from server.ogcapi import patches
        try:
            patches.install()
        except patches.UnsupportedPygeoapi as err:
            print("REFUSED", err)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT
    )
    assert result.stdout.startswith("REFUSED"), result.stdout + result.stderr
    assert "pygeoapi 0.99.0 is installed" in result.stdout and "0.24" in result.stdout


def test_a_missing_patch_target_is_named():
    script = textwrap.dedent(
        """
        from pygeoapi import l10n
        del l10n._cfg_cache
        from server.ogcapi import patches
        try:
            patches.install()
        except patches.UnsupportedPygeoapi as err:
            print("REFUSED", err)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT
    )
    assert result.stdout.startswith("REFUSED") and "pygeoapi.l10n._cfg_cache" in result.stdout, result.stdout


def test_client_errors_are_logged_without_a_traceback(client, caplog):
    with caplog.at_level("INFO"):
        assert (
            client.get("/api/collections/shelters/items", params={"limit": "x", "f": "json"}).status_code
            == 400
        )
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not errors, [r.getMessage() for r in errors]
    assert not any(r.exc_info for r in caplog.records if r.name.startswith(("pygeoapi", "server")))
