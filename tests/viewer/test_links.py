"""Links that never break the map, and finding a place: unknown layers, base maps and languages
in a hash, views and points outside Tsukuba, the server's own words for a refused point, the
search box's not-found box, subtitles and closing. The real server; external hosts blocked; the
``page`` fixture fails a test on any page error."""

import json
import re

import pytest
from viewerpage import SEARCH, WAIT_MS, checkbox, open_viewer, point_report, search

pytestmark = pytest.mark.browser

MESSAGE = ".tg-message"


def hash_layers(page) -> list[str]:
    match = re.search(r"layers=([^&]*)", page.evaluate("location.hash"))
    return match[1].split(",") if match and match[1] else []


def remembered(page) -> dict:
    return json.loads(page.evaluate("localStorage.getItem('tsukuba-gis.viewer')") or "{}")


def test_an_unknown_layer_id_is_ignored_with_a_note_and_not_remembered(page, live_server):
    open_viewer(page, live_server, "#layers=shelterz")
    assert "shelterz" in page.inner_text(MESSAGE) and "見つからない" in page.inner_text(MESSAGE)
    # The map is not emptied: the layers shown at start are shown.
    assert page.is_checked(checkbox("shelters"))
    assert page.locator("path.tg-layer-shelters").count() > 0
    page.wait_for_function("() => location.hash.includes('layers=')", timeout=WAIT_MS)
    assert "shelterz" not in hash_layers(page) and "shelters" in hash_layers(page)
    assert "shelters" in remembered(page)["layers"] and "shelterz" not in remembered(page)["layers"]
    # A later visit without a hash is not an empty map either.
    open_viewer(page, live_server, "#")
    assert page.is_checked(checkbox("shelters"))
    # Known ids next to unknown ones are followed, the unknown ones named.
    open_viewer(page, live_server, "#layers=towns,nosuchlayer&base=nosuchbase&lang=xx")
    assert page.is_checked(checkbox("towns")) and not page.is_checked(checkbox("shelters"))
    text = page.inner_text(MESSAGE)
    assert "nosuchlayer" in text and "nosuchbase" in text and "xx" in text
    assert page.is_checked('.tg-basemaps input[value="std"]')
    assert page.get_attribute("html", "lang") == "ja"


def test_a_view_and_a_point_outside_tsukuba(page, live_server, page_errors):
    page_errors.allow("status of 400")  # the point outside, refused by the server (shown below)
    open_viewer(page, live_server, "#map=12/10/10&pt=10,10")
    assert "範囲外" in page.inner_text(MESSAGE)
    # The city is shown instead of the open sea.
    page.wait_for_function("() => /map=\\d+\\/36\\./.test(location.hash)", timeout=WAIT_MS)
    # The server's clear 400 is shown as it said it, not as "could not get".
    page.wait_for_selector(".tg-point .tg-error-detail", timeout=WAIT_MS)
    assert "この地点は調べられません" in page.inner_text(".tg-point")
    detail = page.locator(".tg-point .tg-error-detail")
    assert "outside the area" in detail.inner_text() and detail.get_attribute("lang") == "en"
    assert "取得できませんでした" not in page.inner_text(".tg-point")


def test_a_link_that_removes_tiled_layers_and_jumps_away_throws_nothing(page, live_server):
    """A vector tile layer taken off the map kept its zoom handlers (TypeError: getCenter)."""
    open_viewer(page, live_server, "#map=13/36.08/140.11")
    page.wait_for_selector(".tg-vector-tile path.tg-layer-city_boundary", state="attached", timeout=WAIT_MS)
    page.evaluate("location.hash = '#map=14/36.1/140.1&layers=shelters'")
    page.wait_for_function("() => location.hash.startsWith('#map=14/')", timeout=WAIT_MS)
    page.evaluate("location.hash = '#map=12/10/10'")  # outside: the city view, zooming again
    page.wait_for_function("() => /map=\\d+\\/36\\./.test(location.hash)", timeout=WAIT_MS)
    page.click(".leaflet-control-zoom-in")
    page.click(".leaflet-control-zoom-out")
    page.wait_for_timeout(500)
    assert not page.is_checked(checkbox("city_boundary"))


def test_the_panel_shows_no_stray_null_or_false(page, live_server):
    open_viewer(page, live_server)
    for word in ("null", "false", "undefined"):
        assert word not in page.inner_text(".tg-sheet")
    point_url = "#map=16/35.9909/140.13296&pt=35.9909,140.13296&layers=zoning"
    open_viewer(page, live_server, point_url)
    point_report(page)
    for word in ("null", "false", "undefined"):
        assert word not in page.inner_text(".tg-point")


def test_a_search_without_a_match_says_so_visibly(page, live_server):
    open_viewer(page, live_server)
    search(page, "ほげほげ存在しない")
    box = page.wait_for_selector(".tg-search-empty:not([hidden])", timeout=WAIT_MS)
    assert box.is_visible()
    assert "「ほげほげ存在しない」は見つかりませんでした" in box.inner_text()
    assert "緯度経度" in box.inner_text()  # what can be searched
    assert page.locator(".tg-search-try").count() == 0  # this server sends no suggestions
    # Screen readers hear it too; Escape closes it.
    assert "見つかりませんでした" in page.text_content(".tg-search [role=status]")
    page.press(SEARCH, "Escape")
    assert not page.is_visible(".tg-search-empty")


def test_the_servers_suggestions_and_match_level_are_shown(page, live_server):
    """The fields a gazetteer may add (`suggestions`, `match_level`); an older server has neither."""

    def answer(route):
        query = re.search(r"q=([^&]*)", route.request.url)[1]
        body = route.fetch().json()
        if "%E5%90%BE%E5%A6%BB" in query:  # 吾妻: as if it had been matched approximately
            body["match_level"] = "fuzzy"
        else:
            body["suggestions"] = ["吾妻", {"q": "研究学園"}]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/search?*", answer)
    open_viewer(page, live_server)
    search(page, "あづまxyz")
    page.wait_for_selector(".tg-search-try", timeout=WAIT_MS)
    tries = page.eval_on_selector_all(".tg-search-try", "bs => bs.map(b => b.textContent)")
    assert tries == ["吾妻", "研究学園"]
    assert "もしかして" in page.inner_text(".tg-search-empty")
    page.click('.tg-search-try:has-text("吾妻")')
    page.wait_for_selector(".tg-search-option", timeout=WAIT_MS)
    assert page.input_value(SEARCH) == "吾妻"
    assert "近い候補" in page.inner_text(".tg-search-note")
    assert not page.is_visible(".tg-search-empty")


def test_suggestion_subtitles_do_not_repeat_and_the_list_closes_when_a_link_moves_the_map(page, live_server):
    open_viewer(page, live_server)
    search(page, "研究学園")
    details = page.eval_on_selector_all(".tg-search-detail", "els => els.map(e => e.textContent)")
    assert details
    for detail in details:
        parts = [part for part in re.split(r"[・（）]", detail) if part]
        assert len(parts) == len(set(parts)), detail  # not 「町丁目・大字・町丁目・大字（代表点）」
    assert page.get_attribute(SEARCH, "aria-expanded") == "true"
    page.evaluate("location.hash = '#map=15/36.05/140.1'")
    page.wait_for_function(
        "() => document.querySelector('.tg-search-input').getAttribute('aria-expanded') === 'false'",
        timeout=WAIT_MS,
    )
    assert not page.is_visible(".tg-search-list")


def test_a_config_carrying_the_tilejson_saves_its_round_trips(page, live_server):
    """The field the viewer would take from /viewer-config.json (`layers[id].tilejson`)."""
    import httpx

    tilejson = httpx.get(f"{live_server.url}/api/collections/zoning/tiles/WebMercatorQuad?f=tilejson").json()

    def config(route):
        body = route.fetch().json()
        body["layers"]["zoning"]["tilejson"] = tilejson
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/viewer-config.json", config)
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/zoning/" in request.url else None)
    open_viewer(page, live_server, "#map=16/35.9909/140.13296&layers=zoning")
    page.wait_for_selector(".tg-vector-tile path.tg-layer-zoning", timeout=WAIT_MS)
    assert requests and all("/tiles/WebMercatorQuad/" in url for url in requests)
