"""The residents' viewer in a real browser, on the real server over the sample store.

Every host but 127.0.0.1 is blocked (the ``page`` fixture), so base-map tiles fail: the map must
work without them. Every wait is a bounded Playwright wait.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tsukuba_gis.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

VIEWER = PROJECT_ROOT / "viewer"
BUILD = VIEWER / "public" / "build"
SCREENSHOT = PROJECT_ROOT / "docs" / "viewer.png"
INTERNAL_LAYER = "shelters_staff"
WAIT_MS = 10_000


def _newest_source_mtime() -> float:
    sources = [*VIEWER.joinpath("src").rglob("*"), *VIEWER.glob("package*.json")]
    return max(path.stat().st_mtime for path in sources if path.is_file())


@pytest.fixture(scope="session", autouse=True)
def viewer_build():
    """The bundle the server serves, rebuilt (esbuild, ~0.1 s) when older than the sources."""
    bundle = BUILD / "index.js"
    if bundle.exists() and bundle.stat().st_mtime >= _newest_source_mtime():
        return bundle
    npm = shutil.which("npm")
    if not npm or not (VIEWER / "node_modules" / ".bin" / "esbuild").exists():
        pytest.fail("the viewer is not built: run `make install` (npm ci && npm run build)")
    subprocess.run([npm, "run", "build"], cwd=VIEWER, check=True, timeout=120,
                   env={**os.environ, "npm_config_update_notifier": "false"})
    return bundle


@pytest.fixture(scope="module")
def api(live_server):
    """What the server publishes: the viewer config and the OGC collections."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        config = client.get("/viewer-config.json").json()
        collections = client.get("/api/collections", params={"f": "json"}).json()["collections"]
        shelters = client.get("/api/collections/shelters/items",
                              params={"f": "json", "limit": 1000}).json()
    return {"config": config, "collections": collections, "shelters": shelters}


def open_viewer(page, live_server):
    """Open / and wait until every layer shown at start has finished loading."""
    page.goto(f"{live_server.url}/")
    page.wait_for_selector('.tg-layer[data-layer="shelters"][data-status="loaded"]',
                           state="attached", timeout=WAIT_MS)
    page.wait_for_function("() => !document.querySelector('.tg-layer[data-status=\"loading\"]')",
                           timeout=WAIT_MS)


def listed_layers(page) -> list[str]:
    return page.eval_on_selector_all(".tg-layer[data-layer]",
                                     "rows => rows.map(r => r.dataset.layer)")


def topmost_marker_center(page, layer_id: str) -> tuple[float, float]:
    """The centre of a marker of ``layer_id`` that nothing covers (so a real click reaches it)."""
    point = page.evaluate("""(id) => {
        for (const el of document.querySelectorAll(`path.tg-layer-${id}`)) {
            const r = el.getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2;
            if (document.elementFromPoint(x, y) === el) return [x, y];
        }
        return null;
    }""", layer_id)
    assert point, f"no uncovered {layer_id} marker on screen"
    return point[0], point[1]


def test_panel_lists_every_public_layer_from_the_api(page, live_server, api):
    open_viewer(page, live_server)
    config, collections = api["config"], api["collections"]
    expected = [c["id"] for c in collections if c["id"] in config["layers"]]
    assert expected, "the sample store publishes layers"
    assert sorted(listed_layers(page)) == sorted(expected)
    # The internal layer is neither in the public API nor in the panel, by id or by title.
    assert INTERNAL_LAYER not in listed_layers(page)
    assert "管理連絡先" not in page.inner_text(".tg-panel")
    # Grouped by department, Japanese names, in the config's order.
    used = {config["layers"][layer_id]["department"] for layer_id in expected}
    names = [d["name"]["ja"] for d in config["departments"] if d["id"] in used]
    assert page.eval_on_selector_all(".tg-group[data-department] > legend",
                                     "ls => ls.map(l => l.textContent)") == names
    # Synthetic layers carry the mark, and only they.
    for layer_id in expected:
        badge = page.locator(f'.tg-layer[data-layer="{layer_id}"] .tg-badge-synthetic')
        assert badge.count() == (1 if config["layers"][layer_id]["synthetic"] else 0), layer_id
    flood_badge = '.tg-layer[data-layer="flood_sample"] .tg-badge-synthetic'
    assert page.inner_text(flood_badge) == "サンプル（架空）"
    # Categorised styles show one legend entry per category, with its label.
    zoning = config["layers"]["zoning"]["style"]["categories"]
    legend = page.eval_on_selector_all('.tg-layer[data-layer="zoning"] .tg-legend li',
                                       "items => items.map(i => i.textContent)")
    assert legend == [c["label"]["ja"] for c in zoning]
    assert page.get_attribute("html", "lang") == "ja"
    assert page.title() == config["title"]["ja"]


def test_default_layers_draw_from_bbox_requests(page, live_server, api):
    requests = []
    page.on("request", lambda request: requests.append(request.url)
            if "/items" in request.url else None)
    open_viewer(page, live_server)
    # The first view shows every layer's extent: all the shelters are drawn.
    shelters = page.locator("path.tg-layer-shelters")
    assert shelters.count() == api["shelters"]["numberMatched"] > 0
    assert page.locator("path.tg-layer-flood_sample").count() > 0
    assert page.locator("path.tg-layer-city_boundary").count() > 0
    # Layers shown at start are ticked; the others are not drawn.
    assert page.is_checked('.tg-layer[data-layer="shelters"] input')
    assert not page.is_checked('.tg-layer[data-layer="towns"] input')
    assert page.locator("path.tg-layer-towns").count() == 0
    # Never a whole layer: every request is limited to the view's bounding box.
    assert requests
    for url in requests:
        query = parse_qs(urlsplit(url).query)
        assert query.get("limit") and int(query["limit"][0]) <= 1000, url
        west, south, east, north = map(float, query["bbox"][0].split(","))
        assert west < east and south < north, url


def test_clicking_a_shelter_opens_its_popup(page, live_server, api):
    open_viewer(page, live_server)
    page.mouse.click(*topmost_marker_center(page, "shelters"))
    popup = page.wait_for_selector(".leaflet-popup .tg-popup", timeout=WAIT_MS)
    title = popup.query_selector(".tg-popup-title").inner_text()
    names = {f["properties"]["name"] for f in api["shelters"]["features"]}
    assert title in names
    rows = dict(page.eval_on_selector_all(
        ".tg-popup-fields tr",
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])"))
    assert rows["施設名"] == title
    assert "指定避難所" in popup.inner_text()
    # Empty values are skipped: every row shown has a value.
    assert all(value.strip() for value in rows.values())


def test_feature_text_is_never_html(page, live_server, api):
    evil = '<img src="x" onerror="window.__pwned = 1">'
    feature = {**api["shelters"]["features"][0]}
    feature["properties"] = {**feature["properties"], "name": evil, "address": "<b>太字</b>"}
    body = {"type": "FeatureCollection", "features": [feature], "numberMatched": 1,
            "numberReturned": 1, "links": []}
    page.route("**/api/collections/shelters/items*", lambda route: route.fulfill(
        status=200, content_type="application/geo+json", body=json.dumps(body)))
    open_viewer(page, live_server)
    page.mouse.click(*topmost_marker_center(page, "shelters"))
    popup = page.wait_for_selector(".leaflet-popup .tg-popup", timeout=WAIT_MS)
    assert popup.query_selector(".tg-popup-title").inner_text() == evil
    assert popup.query_selector("img") is None and popup.query_selector("b") is None
    assert page.evaluate("() => window.__pwned") is None


def test_follows_next_links_on_our_own_origin(page, live_server, api):
    """Paging: a `next` link written with another origin (a proxy's public URL) is followed here."""
    features = api["shelters"]["features"]
    half = len(features) // 2
    seen = []

    def serve(route):
        query = parse_qs(urlsplit(route.request.url).query)
        seen.append(route.request.url)
        offset = int(query.get("offset", ["0"])[0])
        page_features = features[offset:offset + half] if offset else features[:half]
        links = [] if offset else [{"rel": "next", "type": "application/geo+json",
                                    "href": "https://gis.example.jp/api/collections/shelters/items"
                                            f"?f=json&offset={half}&limit={half}&bbox={query['bbox'][0]}"}]
        route.fulfill(status=200, content_type="application/geo+json", body=json.dumps({
            "type": "FeatureCollection", "features": page_features, "numberMatched": len(features),
            "numberReturned": len(page_features), "links": links}))

    page.route("**/api/collections/shelters/items*", serve)
    open_viewer(page, live_server)
    assert len(seen) == 2 and all(url.startswith(live_server.url) for url in seen)
    assert "offset=" in seen[1]
    assert page.locator("path.tg-layer-shelters").count() == len(features)


def test_a_failing_layer_is_marked_and_the_rest_works(page, live_server):
    page.route("**/api/collections/shelters/items*",
               lambda route: route.fulfill(status=500, body="{}"))
    page.goto(f"{live_server.url}/")
    page.wait_for_selector('.tg-layer[data-layer="shelters"][data-status="error"]', timeout=WAIT_MS)
    assert page.inner_text('.tg-layer[data-layer="shelters"] .tg-status') == "読み込めませんでした"
    page.wait_for_selector('.tg-layer[data-layer="flood_sample"][data-status="loaded"]',
                           timeout=WAIT_MS)
    assert page.locator("path.tg-layer-flood_sample").count() > 0


def test_start_failure_says_so(page, live_server):
    page.route("**/viewer-config.json", lambda route: route.fulfill(status=503, body="down"))
    page.goto(f"{live_server.url}/")
    alert = page.wait_for_selector('[role="alert"]', timeout=WAIT_MS)
    assert "地図を開けませんでした" in alert.inner_text()


def test_no_console_errors_and_nothing_fetched_from_outside_but_tiles(page, live_server, api):
    errors, failed, external, shelter_requests = [], {}, [], []
    page.on("console", lambda msg: errors.append((msg.text, msg.location.get("url", "")))
            if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append((str(err), "")))
    page.on("requestfailed", lambda request: failed.update({request.url: request.failure}))
    page.on("request", lambda request: external.append(request.url)
            if not request.url.startswith(live_server.url) else None)
    page.on("request", lambda request: shelter_requests.append(request.url)
            if "/collections/shelters/items" in request.url else None)
    page.on("response", lambda response: errors.append((f"HTTP {response.status}", response.url))
            if response.url.startswith(live_server.url) and response.status >= 400 else None)
    open_viewer(page, live_server)
    # Zoom out twice: the view outgrows what was loaded, so layers refetch (a stale request may be
    # aborted on the way: that is the only way a local request may fail).
    loads = len(shelter_requests)
    with page.expect_request(lambda request: "/collections/shelters/items" in request.url,
                             timeout=WAIT_MS):
        page.click(".leaflet-control-zoom-out")
        page.click(".leaflet-control-zoom-out")
    page.wait_for_function("() => !document.querySelector('.tg-layer[data-status=\"loading\"]')",
                           timeout=WAIT_MS)
    assert len(shelter_requests) > loads
    assert page.locator(".tg-layer[data-status='error']").count() == 0
    local = live_server.url
    assert {why for url, why in failed.items() if url.startswith(local)} <= {"net::ERR_ABORTED"}
    tile_host = urlsplit(api["config"]["basemaps"][0]["url"]).netloc
    assert external, "the base map was requested"
    assert {urlsplit(url).netloc for url in external} == {tile_host}
    # The only errors allowed: the blocked base-map tiles.
    assert [(text, url) for text, url in errors if url not in failed or url.startswith(local)] == []


def test_toggles_layers_base_maps_and_credits(page, live_server, api):
    open_viewer(page, live_server)
    layers = api["config"]["layers"]
    credits = page.locator(".leaflet-control-attribution")
    assert "地理院タイル" in credits.inner_text()
    assert layers["shelters"]["attribution"]["ja"] in credits.inner_text()
    assert layers["towns"]["attribution"]["ja"] not in credits.inner_text()

    page.uncheck('.tg-layer[data-layer="shelters"] input')
    assert page.locator("path.tg-layer-shelters").count() == 0
    page.check('.tg-layer[data-layer="towns"] input')
    page.wait_for_selector("path.tg-layer-towns", state="attached", timeout=WAIT_MS)
    assert layers["towns"]["attribution"]["ja"] in credits.inner_text()

    page.check('.tg-basemaps input[value="osm"]')
    assert "OpenStreetMap" in credits.inner_text() and "地理院タイル" not in credits.inner_text()
    page.check('.tg-basemaps input[value="none"]')
    assert page.locator(".tg-basemap").count() == 0
    assert "OpenStreetMap" not in credits.inner_text()


def test_phone_layout_starts_with_the_panel_closed(page, live_server):
    page.set_viewport_size({"width": 390, "height": 844})
    open_viewer(page, live_server)
    toggle = page.locator(".tg-panel-toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert not page.is_visible(".tg-panel-body")
    assert page.locator("path.tg-layer-shelters").count() > 0
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert page.is_visible('.tg-layer[data-layer="shelters"]')


def test_desktop_screenshot(page, live_server):
    open_viewer(page, live_server)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
    assert Path(SCREENSHOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
