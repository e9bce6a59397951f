"""The server against a hostile network (issue 18): hosts, headers, /vendor, slow connections.

On a real ``tsukuba-gis serve`` (the protocol and its deadlines live in the process); raw
sockets for what an HTTP client library would not send. Every wait is bounded.
"""

import socket
import time

import httpx
import pytest

from server.security import _host_of

HTML_PAGES = [
    "/",
    "/opendata",
    "/api?f=html",
    "/api/collections/shelters/items?f=html",
    "/api/openapi?f=html",
]


@pytest.fixture(scope="module")
def server(sample_data_dir):
    from liveserver import LiveServer

    env = {
        "TSUKUBA_GIS_HEADER_TIMEOUT_S": "1.5",
        "TSUKUBA_GIS_ALLOWED_HOSTS": "gis.example.jp,*.city.example",
    }
    live = LiveServer(sample_data_dir, env)
    yield live
    live.stop()


def test_host_header_parsing():
    assert _host_of("[::1]:8000") == "::1" and _host_of("Example.JP:80") == "example.jp"
    assert _host_of("127.0.0.1") == "127.0.0.1" and _host_of("") == ""


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "", "gis.example.jp.evil"])
def test_other_hosts_get_a_400_ogc_error(server, host):
    response = httpx.get(f"{server.url}/api", headers={"Host": host})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameterValue"


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost:8000", "gis.example.jp", "a.city.example", "[::1]:1"]
)
def test_own_hosts_are_answered(server, host):
    assert httpx.get(f"{server.url}/health", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("path", HTML_PAGES + ["/point?lat=36.0828&lon=140.1115&f=html"])
def test_html_pages_have_csp_and_cannot_be_framed(server, path):
    response = httpx.get(f"{server.url}{path}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src" in csp or "default-src 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_our_pages_run_no_inline_script(server):
    assert "script-src 'self';" in httpx.get(f"{server.url}/").headers["content-security-policy"] + ";"
    assert (
        "'unsafe-inline'"
        not in httpx.get(f"{server.url}/").headers["content-security-policy"].split("script-src")[1]
    )


def test_json_is_nosniff(server):
    response = httpx.get(f"{server.url}/api/collections?f=json")
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/.package-lock.json",
        "/vendor/leaflet/package.json",
        "/vendor/leaflet/src/Leaflet.js",
        "/vendor/bootstrap/README.md",
        "/vendor/../package.json",
        "/vendor/leaflet/dist/../package.json",
    ],
)
def test_vendor_serves_nothing_but_what_the_pages_load(server, path):
    response = httpx.get(f"{server.url}{path}")
    assert response.status_code == 404, path
    assert "lockfileVersion" not in response.text and '"version"' not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/leaflet/dist/leaflet.js",
        "/vendor/leaflet/dist/leaflet.css",
        "/vendor/leaflet/dist/images/marker-icon-2x.png",
        "/vendor/bootstrap/dist/css/bootstrap.min.css",
        "/vendor/swagger-ui-dist/swagger-ui-bundle.js",
    ],
)
def test_vendor_serves_what_the_pages_load(server, path):
    assert httpx.get(f"{server.url}{path}").status_code == 200


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection, None if it stayed open ``seconds``."""
    started = time.monotonic()
    sock.settimeout(0.25)
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - started
    return None


def test_idle_and_half_sent_connections_are_closed(server):
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
        for _ in range(3):  # a byte now and then does not keep it open
            time.sleep(0.3)
            slow.sendall(b"X")
        assert _closed_within(idle, 5) is not None
        assert _closed_within(slow, 5) is not None
    finally:
        idle.close()
        slow.close()
    # A normal request (and keep-alive) still works.
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/health").status_code == 200 and client.get("/health").status_code == 200


def test_an_oversized_request_head_is_refused(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(20):
                sock.sendall(b"X-Filler: " + b"a" * 8000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _closed_within(sock, 5) is not None
