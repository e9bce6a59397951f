"""Finding a place and asking what applies there: search box, map taps, permalinks, language,
my location. The real server and store; every external host blocked."""

import re

import pytest
from viewerpage import (
    SEARCH,
    WAIT_MS,
    ZONED,
    PageErrors,
    checkbox,
    choose_language,
    offline_context,
    open_viewer,
    point_report,
    search,
)

pytestmark = pytest.mark.browser


def hash_view(page) -> tuple[int, float, float]:
    match = re.search(r"map=(\d+)/([\d.-]+)/([\d.-]+)", page.evaluate("location.hash"))
    assert match, page.evaluate("location.hash")
    return int(match[1]), float(match[2]), float(match[3])


@pytest.mark.parametrize(
    ("typed", "expected"), [("研究学園", "研究学園一丁目"), ("吾妻1", "吾妻一丁目"), ("梅ヶ丘", "梅ケ丘")]
)
def test_search_finds_towns(page, live_server, typed, expected):
    open_viewer(page, live_server)
    assert expected in search(page, typed)
    combobox = page.locator(SEARCH)
    assert combobox.get_attribute("role") == "combobox"
    assert combobox.get_attribute("aria-expanded") == "true"
    listbox = page.locator(f"#{combobox.get_attribute('aria-controls')}")
    assert listbox.get_attribute("role") == "listbox"


def test_search_with_the_keyboard_flies_there_and_asks_the_point(page, live_server):
    open_viewer(page, live_server)
    names = search(page, "桜中学校")
    assert names[0] == "桜中学校"
    page.press(SEARCH, "ArrowDown")
    active = page.get_attribute(SEARCH, "aria-activedescendant")
    assert page.get_attribute(f"#{active}", "aria-selected") == "true"
    page.press(SEARCH, "Enter")
    point_report(page)
    assert page.get_attribute(SEARCH, "aria-expanded") == "false"
    page.wait_for_function("() => /map=1[6-9]\\//.test(location.hash)", timeout=WAIT_MS)
    zoom, lat, lon = hash_view(page)
    assert zoom >= 16 and abs(lat - 36.05) < 0.2 and abs(lon - 140.1) < 0.2
    assert page.get_attribute("#tg-tab-info", "aria-selected") == "true"
    # The nearest shelter of a shelter is itself, at 0 m.
    first = page.inner_text('.tg-point-nearest[data-layer="shelters"] li')
    assert "桜中学校" in first and "0 m" in first


def test_search_half_width_and_kana_variants_find_a_shelter(page, live_server):
    open_viewer(page, live_server)
    assert "サンシャインコンフォートつくば" in search(page, "ｻﾝｼﾔｲﾝ")  # half width, large ヤ
    assert any("吾妻小学校" == n for n in search(page, "吾妻 小学校"))
    # A tap on a suggestion picks it too.
    page.click('.tg-search-option:has-text("吾妻小学校")')
    point_report(page)
    assert page.input_value(SEARCH) == "吾妻小学校"
    first = page.inner_text('.tg-point-nearest[data-layer="shelters"] li')
    assert "吾妻小学校" in first


def test_search_coordinates_go_there(page, live_server):
    open_viewer(page, live_server)
    search(page, "36.08, 140.11")
    page.press(SEARCH, "Enter")
    point_report(page)
    assert "36.080000, 140.110000" in page.inner_text(".tg-point-coords")


def test_a_tap_inside_the_zoning_polygon_reports_its_zoning(page, live_server):
    lat, lon = ZONED
    open_viewer(page, live_server, f"#map=17/{lat}/{lon}&layers=zoning")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    point_report(page)
    # The plain words first; every field with its label under 「詳細」.
    assert page.inner_text('.tg-point-plain[data-layer="zoning"] .tg-point-name') == "第1種低層住居専用地域"
    page.click(".tg-point-details > summary")
    zoning = '.tg-point-layer[data-layer="zoning"]'
    assert page.inner_text(f"{zoning} .tg-point-name") == "第1種低層住居専用地域"
    assert page.inner_text(f'{zoning} tr[data-field="BCR"] td') == "40"
    assert page.inner_text(f'{zoning} tr[data-field="FAR"] td') == "80"
    assert page.inner_text(f'{zoning} tr[data-field="BCR"] th') == "建蔽率（%）"
    # Screen readers hear a one-line summary.
    assert "第1種低層住居専用地域" in page.text_content(".tg-announcer")
    text = page.inner_text(".tg-point")
    assert "容積率（%）" in text and "直線距離" in text and "徒歩" in text and "推定" in text
    # Hazards: the synthetic flood sample is named and marked even where it does not apply.
    flood = page.inner_text('.tg-point-misses li[data-layer="flood_sample"]')
    assert "サンプル（架空）" in flood
    assert len(page.locator('.tg-point-nearest[data-layer="shelters"] li').all()) == 3
    # Downloads of the same report.
    csv_link = page.locator(".tg-point-actions a[download]")
    assert "f=csv" in csv_link.get_attribute("href")
    with page.expect_download(timeout=WAIT_MS) as download:
        csv_link.click()
    content = open(download.value.path(), encoding="utf-8-sig").read()
    assert "第1種低層住居専用地域" in content and "建蔽率（%）" in content
    # The hash remembers the point (where the tap was: within a pixel of it).
    page.wait_for_function("() => location.hash.includes('pt=')", timeout=WAIT_MS)
    pt = re.search(r"pt=([\d.]+),([\d.]+)", page.evaluate("location.hash"))
    assert abs(float(pt[1]) - lat) < 1e-4 and abs(float(pt[2]) - lon) < 1e-4


def test_a_permalink_restores_view_layers_language_and_point(page, live_server):
    lat, lon = ZONED
    hash = f"#map=15/36.0850/140.1050&layers=towns,zoning&lang=en&pt={lat},{lon}"
    open_viewer(page, live_server, hash)
    point_report(page)
    assert hash_view(page) == (15, 36.085, 140.105)
    assert page.is_checked(checkbox("towns")) and page.is_checked(checkbox("zoning"))
    assert not page.is_checked(checkbox("shelters"))
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text(".tg-point-title") == "What applies here"
    assert "Buildings may cover up to 40%" in page.inner_text(".tg-point")
    page.click(".tg-point-details > summary")
    assert "Building coverage ratio (%)" in page.inner_text(".tg-point")
    # The hash follows the map.
    page.click(".leaflet-control-zoom-in")
    page.wait_for_function("() => location.hash.startsWith('#map=16/')", timeout=WAIT_MS)
    # A hash typed later is followed too.
    page.evaluate("location.hash = '#map=12/36.1/140.1&layers=shelters&lang=ja'")
    page.wait_for_function("() => document.documentElement.lang === 'ja'", timeout=WAIT_MS)
    assert page.is_checked(checkbox("shelters")) and not page.is_checked(checkbox("towns"))


def test_the_language_switch_changes_the_labels(page, live_server, api):
    open_viewer(page, live_server)
    assert page.inner_text("#tg-tab-layers") == "レイヤ"
    choose_language(page, "en")
    assert page.inner_text("#tg-tab-layers") == "Layers"
    # The menu that replaced the ja/en switch names each language in itself, the way back too.
    assert page.inner_text('.tg-lang-option[data-lang="ja"]') == "日本語"
    assert page.get_attribute('.tg-lang-option[data-lang="ja"]', "lang") == "ja"
    assert page.inner_text(".tg-lang-current") == "English"
    departments = page.eval_on_selector_all(
        ".tg-group[data-department] > legend", "ls => ls.map(l => l.textContent)"
    )
    assert "Disaster prevention" in departments
    shelters = api["config"]["layers"]["shelters"]
    title = page.inner_text('.tg-layer[data-layer="shelters"] .tg-layer-title')
    assert title == shelters["title"]["en"]
    assert shelters["attribution"]["en"][:30] in page.inner_text(".leaflet-control-attribution")
    # The Japanese credit went with the switch (a layer's credit counted once, removed once).
    assert shelters["attribution"]["ja"][:30] not in page.inner_text(".leaflet-control-attribution")
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == "Zoom in"
    assert page.title() == api["config"]["title"]["en"]
    choose_language(page, "ja")
    assert page.inner_text("#tg-tab-layers") == "レイヤ"


def test_my_location_centres_the_map_and_asks_the_point(browser, live_server):
    lat, lon = ZONED
    context = offline_context(
        browser,
        viewport={"width": 1280, "height": 800},
        locale="ja-JP",
        geolocation={"latitude": lat, "longitude": lon},
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors = PageErrors()
    errors.watch(page)
    try:
        open_viewer(page, live_server)
        button = page.locator(".tg-locate")
        assert button.get_attribute("aria-label") == "現在地を表示して、その地点の情報を調べる"
        button.click()
        point_report(page)
        page.wait_for_function("() => /map=1[6-9]\\//.test(location.hash)", timeout=WAIT_MS)
        assert f"{lat:.6f}, {lon:.6f}" in page.inner_text(".tg-point-coords")
        assert "第1種低層住居専用地域" in page.inner_text(".tg-point")
        zoom, hlat, hlon = hash_view(page)
        assert zoom >= 16 and abs(hlat - lat) < 0.001 and abs(hlon - lon) < 0.001
        errors.check()
    finally:
        context.close()
