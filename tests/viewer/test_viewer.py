"""The residents' viewer in a real browser, on the real server over the sample store: layers,
drawing, popups, credits, base maps, opacity, open data links and remembered state.

Every host but 127.0.0.1 is blocked (the ``page`` fixture), so base-map tiles fail: the map must
work without them. Every wait is a bounded Playwright wait.
"""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from viewerpage import WAIT_MS, checkbox, choose_language, open_viewer

pytestmark = pytest.mark.browser

INTERNAL_LAYER = "shelters_staff"


def listed_layers(page) -> list[str]:
    return page.eval_on_selector_all(".tg-layer[data-layer]", "rows => rows.map(r => r.dataset.layer)")


def topmost_marker_center(page, layer_id: str) -> tuple[float, float]:
    """The centre of a marker of ``layer_id`` that nothing covers (so a real click reaches it)."""
    point = page.evaluate(
        """(id) => {
        for (const el of document.querySelectorAll(`path.tg-layer-${id}`)) {
            const r = el.getBoundingClientRect();
            const x = r.x + r.width / 2, y = r.y + r.height / 2;
            if (document.elementFromPoint(x, y) === el) return [x, y];
        }
        return null;
    }""",
        layer_id,
    )
    assert point, f"no uncovered {layer_id} marker on screen"
    return point[0], point[1]


def test_panel_lists_every_public_layer_from_the_api(page, live_server, api):
    open_viewer(page, live_server)
    config, collections = api["config"], api["collections"]
    # Vector layers and raster layers (config "rasters", viewer/src/layer/RasterLayer.js).
    defs = {**config["layers"], **config.get("rasters", {})}
    expected = [c["id"] for c in collections if c["id"] in defs]
    assert expected, "the sample store publishes layers"
    assert sorted(listed_layers(page)) == sorted(expected)
    # The internal layer is neither in the public API nor in the panel, by id or by title.
    assert INTERNAL_LAYER not in listed_layers(page)
    assert "管理連絡先" not in page.inner_text("body")
    # Grouped by department, Japanese names, in the config's order.
    used = {defs[layer_id]["department"] for layer_id in expected}
    names = [d["name"]["ja"] for d in config["departments"] if d["id"] in used]
    assert (
        page.eval_on_selector_all(".tg-group[data-department] > legend", "ls => ls.map(l => l.textContent)")
        == names
    )
    # Synthetic layers carry the mark, and only they.
    for layer_id in expected:
        badge = page.locator(f'.tg-layer[data-layer="{layer_id}"] .tg-badge-synthetic')
        assert badge.count() == (1 if defs[layer_id]["synthetic"] else 0), layer_id
    flood_badge = '.tg-layer[data-layer="flood_sample"] .tg-badge-synthetic'
    assert page.inner_text(flood_badge) == "サンプル（架空）"
    # Categorised styles show one legend entry per category, with its label.
    zoning = config["layers"]["zoning"]["style"]["categories"]
    legend = page.eval_on_selector_all(
        '.tg-layer[data-layer="zoning"] .tg-legend li', "items => items.map(i => i.textContent)"
    )
    assert legend == [c["label"]["ja"] for c in zoning]
    assert page.get_attribute("html", "lang") == "ja"
    assert page.title() == config["title"]["ja"]


def test_default_layers_draw_from_bbox_requests(page, live_server, api):
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/items" in request.url else None)
    open_viewer(page, live_server)
    # The first view shows every layer's extent: all the shelters are drawn.
    shelters = page.locator("path.tg-layer-shelters")
    assert shelters.count() == api["shelters"]["numberMatched"] > 0
    assert page.locator("path.tg-layer-flood_sample").count() > 0
    assert page.locator("path.tg-layer-city_boundary").count() > 0
    # Layers shown at start are ticked; the others are not drawn.
    assert page.is_checked(checkbox("shelters"))
    assert not page.is_checked(checkbox("towns"))
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
    rows = dict(
        page.eval_on_selector_all(
            ".tg-popup-fields tr", "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])"
        )
    )
    assert rows["施設名"] == title
    assert "指定避難所" in popup.inner_text()
    # Empty values are skipped: every row shown has a value.
    assert all(value.strip() for value in rows.values())


def test_feature_text_is_never_html(page, live_server, api):
    evil = '<img src="x" onerror="window.__pwned = 1">'
    feature = {**api["shelters"]["features"][0]}
    feature["properties"] = {**feature["properties"], "name": evil, "address": "<b>太字</b>"}
    body = {
        "type": "FeatureCollection",
        "features": [feature],
        "numberMatched": 1,
        "numberReturned": 1,
        "links": [],
    }
    page.route(
        "**/api/collections/shelters/items*",
        lambda route: route.fulfill(status=200, content_type="application/geo+json", body=json.dumps(body)),
    )
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
        page_features = features[offset : offset + half] if offset else features[:half]
        links = (
            []
            if offset
            else [
                {
                    "rel": "next",
                    "type": "application/geo+json",
                    "href": "https://gis.example.jp/api/collections/shelters/items"
                    f"?f=json&offset={half}&limit={half}&bbox={query['bbox'][0]}",
                }
            ]
        )
        route.fulfill(
            status=200,
            content_type="application/geo+json",
            body=json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": page_features,
                    "numberMatched": len(features),
                    "numberReturned": len(page_features),
                    "links": links,
                }
            ),
        )

    page.route("**/api/collections/shelters/items*", serve)
    open_viewer(page, live_server)
    assert len(seen) == 2 and all(url.startswith(live_server.url) for url in seen)
    assert "offset=" in seen[1]
    assert page.locator("path.tg-layer-shelters").count() == len(features)


def test_a_failing_layer_is_marked_and_the_rest_works(page, live_server, page_errors):
    page_errors.allow("status of 500")
    page.route("**/api/collections/shelters/items*", lambda route: route.fulfill(status=500, body="{}"))
    page.goto(f"{live_server.url}/")
    page.wait_for_selector('.tg-layer[data-layer="shelters"][data-status="error"]', timeout=WAIT_MS)
    assert page.inner_text('.tg-layer[data-layer="shelters"] .tg-status') == "読み込めませんでした"
    page.wait_for_selector('.tg-layer[data-layer="flood_sample"][data-status="loaded"]', timeout=WAIT_MS)
    assert page.locator("path.tg-layer-flood_sample").count() > 0


def test_start_failure_says_so(page, live_server, page_errors):
    page_errors.allow("status of 503")
    page_errors.allow("viewer: start failed")
    page.route("**/viewer-config.json", lambda route: route.fulfill(status=503, body="down"))
    page.goto(f"{live_server.url}/")
    alert = page.wait_for_selector('[role="alert"]', timeout=WAIT_MS)
    assert "地図を開けませんでした" in alert.inner_text()


def test_no_console_errors_and_nothing_fetched_from_outside_but_tiles(page, live_server, api):
    errors, failed, external, shelter_requests = [], {}, [], []
    page.on(
        "console",
        lambda msg: errors.append((msg.text, msg.location.get("url", ""))) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda err: errors.append((str(err), "")))
    page.on("requestfailed", lambda request: failed.update({request.url: request.failure}))
    page.on(
        "request",
        lambda request: external.append(request.url) if not request.url.startswith(live_server.url) else None,
    )
    page.on(
        "request",
        lambda request: (
            shelter_requests.append(request.url) if "/collections/shelters/items" in request.url else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            errors.append((f"HTTP {response.status}", response.url))
            if response.url.startswith(live_server.url) and response.status >= 400
            else None
        ),
    )
    open_viewer(page, live_server)
    # Zoom out twice: the view outgrows what was loaded, so layers refetch (a stale request may be
    # aborted on the way: that is the only way a local request may fail).
    loads = len(shelter_requests)
    with page.expect_request(lambda request: "/collections/shelters/items" in request.url, timeout=WAIT_MS):
        page.click(".leaflet-control-zoom-out")
        page.click(".leaflet-control-zoom-out")
    page.wait_for_function(
        "() => !document.querySelector('.tg-layer[data-status=\"loading\"]')", timeout=WAIT_MS
    )
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

    page.uncheck(checkbox("shelters"))
    assert page.locator("path.tg-layer-shelters").count() == 0
    page.check(checkbox("towns"))
    page.wait_for_selector("path.tg-layer-towns", state="attached", timeout=WAIT_MS)
    assert layers["towns"]["attribution"]["ja"] in credits.inner_text()

    page.check('.tg-basemaps input[value="osm"]')
    assert "OpenStreetMap" in credits.inner_text() and "地理院タイル" not in credits.inner_text()
    page.check('.tg-basemaps input[value="none"]')
    assert page.locator(".tg-basemap").count() == 0
    assert "OpenStreetMap" not in credits.inner_text()


def test_opacity_and_open_data_links(page, live_server, api):
    open_viewer(page, live_server)
    row = '.tg-layer[data-layer="flood_sample"]'
    link = page.locator(f"{row} a.tg-opendata-link")
    assert link.get_attribute("href") == f"{live_server.url}/opendata#flood_sample"
    assert "洪水浸水想定区域" in link.get_attribute("aria-label")
    slider = page.locator(f"{row} input.tg-opacity")
    assert slider.is_visible()
    slider.fill("30")
    pane = ".leaflet-tg-pane-flood_sample-pane"
    assert page.eval_on_selector(pane, "el => getComputedStyle(el).opacity") == "0.3"
    # A layer that is off shows no opacity control (nothing to adjust).
    assert not page.locator('.tg-layer[data-layer="towns"] input.tg-opacity').is_visible()


def test_state_survives_a_reload_and_the_hash_wins(page, live_server):
    open_viewer(page, live_server)
    page.uncheck(checkbox("shelters"))
    page.check(checkbox("towns"))
    page.locator('.tg-layer[data-layer="towns"] input.tg-opacity').fill("50")
    page.check('.tg-basemaps input[value="pale"]')
    choose_language(page, "en")
    page.wait_for_function(
        "() => location.hash.includes('lang=en') && location.hash.includes('base=pale')", timeout=WAIT_MS
    )
    # Without a hash: what was remembered (localStorage).
    open_viewer(page, live_server, "#")
    assert page.get_attribute("html", "lang") == "en"
    assert not page.is_checked(checkbox("shelters")) and page.is_checked(checkbox("towns"))
    assert page.input_value('.tg-layer[data-layer="towns"] input.tg-opacity') == "50"
    assert page.is_checked('.tg-basemaps input[value="pale"]')
    # A hash wins over what was remembered.
    page.goto("about:blank")
    open_viewer(page, live_server, "#map=13/36.08/140.11&layers=shelters&lang=ja")
    assert page.get_attribute("html", "lang") == "ja"
    assert page.is_checked(checkbox("shelters")) and not page.is_checked(checkbox("towns"))
