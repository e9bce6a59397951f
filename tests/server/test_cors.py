"""CORS: the public routes answer any origin (GET/HEAD, preflight); the staff side answers none.

The browser test loads a page from another loopback port (another origin) and fetches from the
real server, as a web app of another site would.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

ORIGIN = "http://127.0.0.1:9"  # any other origin: the server never contacts it
PUBLIC = [
    "/api",
    "/api/collections?f=json",
    "/api/collections/shelters/items?limit=1",
    "/opendata/catalog.jsonld",
]
PUBLIC += ["/search?q=つくば", "/point?lon=140.11&lat=36.08"]
STAFF = ["/internal/api", "/internal/api/collections?f=json", "/auth/me", "/internal/"]


@pytest.fixture(scope="module")
def client(live_server):
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("path", PUBLIC)
def test_public_routes_answer_any_origin(client, path):
    response = client.get(path, headers={"Origin": ORIGIN})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    assert "Content-Crs" in response.headers["access-control-expose-headers"]


@pytest.mark.parametrize("path", ["/api/collections/shelters/items", "/opendata/catalog.jsonld"])
def test_public_preflight(client, path):
    response = client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "accept-language",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.headers["access-control-allow-methods"].split(", ")) == {"GET", "HEAD"}
    assert "accept-language" in response.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in response.headers


def test_public_preflight_refuses_writes(client):
    response = client.options(
        "/api/collections/shelters/items",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "POST" not in response.headers.get("access-control-allow-methods", "")


@pytest.mark.parametrize("path", STAFF)
def test_staff_routes_send_no_cors_headers(client, path):
    response = client.get(path, headers={"Origin": ORIGIN})
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    preflight = client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code != 200 or "access-control-allow-origin" not in preflight.headers
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]


class _Page(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>another site</title><p>another origin</p>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def other_origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


FETCH = """async ([url, headers]) => {
  try {
    const r = await fetch(url, {headers});
    const text = (await r.text()).slice(0, 200);
    return {ok: true, status: r.status, crs: r.headers.get('content-crs'), text};
  } catch (e) { return {ok: false, error: String(e)}; }
}"""


@pytest.mark.browser
def test_cross_origin_fetch_in_chromium(page, live_server, other_origin):
    page.goto(other_origin)
    assert page.evaluate("location.origin") != live_server.url
    items = page.evaluate(
        FETCH, [f"{live_server.url}/api/collections/shelters/items?limit=1", {"Accept-Language": "en"}]
    )
    assert items["ok"] and items["status"] == 200 and "FeatureCollection" in items["text"]
    assert items["crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    staff = page.evaluate(FETCH, [f"{live_server.url}/internal/api/collections?f=json", {}])
    assert not staff["ok"] and "Failed to fetch" in staff["error"]
    # A token header makes a preflight, which the staff side never grants.
    token = page.evaluate(
        FETCH, [f"{live_server.url}/internal/api/collections?f=json", {"Authorization": "Bearer x"}]
    )
    assert not token["ok"]
