"""bench/serve.py asks every server the same honest questions: tiles within the tileset's
bounds, and a peer's next link followed on the server under test."""

import math

import pytest


@pytest.fixture(scope="module")
def serve(load_bench):
    return load_bench("serve")


def _lonlat_box(z, x, y):
    n = 2**z
    lat = [math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v / n)))) for v in (y + 1, y)]
    return x / n * 360 - 180, lat[0], (x + 1) / n * 360 - 180, lat[1]


def test_tile_blocks_keep_only_tiles_that_reach_into_the_bounds():
    from bench import scenarios

    bounds = (140.0062, 35.9598, 140.1776, 36.2298)  # the bench buildings' tileset
    assert len(scenarios.tiles(10, 2)) == 4
    kept = scenarios.tiles(10, 2, bounds)
    assert kept == [(10, 910, 401)]
    for z, side in ((12, 3), (14, 5)):
        block, inside = scenarios.tiles(z, side), scenarios.tiles(z, side, bounds)
        for tile in block:
            w, s, e, n = _lonlat_box(*tile)
            reaches = w < bounds[2] and e > bounds[0] and s < bounds[3] and n > bounds[1]
            assert (tile in inside) == reaches, tile
    assert len(scenarios.tiles(12, 3, bounds)) == 6
    paths = scenarios.tile_paths("ours", 10, 2, bounds)
    assert paths == ["/api/collections/buildings/tiles/WebMercatorQuad/10/401/910"]
    assert scenarios.tile_paths("tipg", 10, 2, bounds)[0].endswith("/10/910/401")


def test_next_page_is_asked_of_the_server_under_test(serve):
    base = "http://127.0.0.1:40001"
    peer = {
        "links": [
            {"rel": "self", "href": "x"},
            {"rel": "next", "href": "http://localhost/mapserv/o?offset=1000&limit=1000"},
        ]
    }
    assert serve._next_page(base, peer) == base + "/mapserv/o?offset=1000&limit=1000"
    ours = {"links": [{"rel": "next", "href": "/api/collections/f/items?offset=1000"}]}
    assert serve._next_page(base, ours) == base + "/api/collections/f/items?offset=1000"
    assert serve._next_page(base, {"links": [{"rel": "prev", "href": "/a"}]}) is None


def test_cold_tiles_are_timed_from_the_first_request_not_from_making_the_clients():
    """bench/load.py each_once: an httpx.Client costs an SSL context (tens of ms); making four
    inside the timed window made a one-tile block look several times slower than it was."""
    import http.server
    import os
    import threading
    import time

    import httpx

    from bench import load

    class Quick(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quick)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.perf_counter()
        httpx.Client().close()
        one_client = time.perf_counter() - started
        url = f"http://127.0.0.1:{server.server_address[1]}"
        sample = load.each_once(url, ["/tile"], [os.getpid()])
    finally:
        server.shutdown()
    assert (sample.requests, sample.bad) == (1, 0)
    wall = 1 / sample.rps
    # One request: the timed window is that request and the threads' start, not four clients.
    assert wall - sample.p50_ms / 1000 < one_client / 2, (wall, sample.p50_ms, one_client)


def test_wrk_runs_count_every_answer_that_is_not_2xx():
    """bench/load.py run_wrk has no Lua ``response`` hook (it made wrk copy every body into Lua,
    halving the rate of a 415 KB tile): wrk counts 4xx/5xx itself, and a redirect is caught by
    asking the first paths once before the run."""
    import http.server
    import os
    import shutil
    import threading

    from bench import load

    wrk = shutil.which("wrk")
    assert wrk, "wrk (Debian package) is installed by make test"

    class Answers(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            status = {"/ok": 200, "/moved": 302, "/broken": 500}[self.path]
            body = b"x" * 100_000 if status == 200 else b""
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "/ok")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        fine = load.run_wrk(wrk, url, ["/ok"], 1, [os.getpid()])
        moved = load.run_wrk(wrk, url, ["/ok", "/moved"], 1, [os.getpid()])
        broken = load.run_wrk(wrk, url, ["/ok", "/broken"], 1, [os.getpid()])
    finally:
        server.shutdown()
    assert fine.requests > 0 and fine.bad == 0
    assert moved.bad >= 1
    assert broken.bad > broken.requests // 4  # every other request in the run
