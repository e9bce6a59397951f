"""The printed sheet (Chromium's PDF, read back with pypdf: one A4 page, its parts), the credits
folded on a phone, finger-sized marks on touch screens, and marks reached with the keyboard."""

import io
import json
import math
import re

import pytest
from pypdf import PdfReader
from viewerpage import WAIT_MS, ZONED, offline_context, open_viewer, point_report, wait_loaded

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
A4_LANDSCAPE_PT = (842, 595)  # 297 x 210 mm


def pdf_text(pdf: bytes) -> tuple[int, str, tuple[float, float]]:
    reader = PdfReader(io.BytesIO(pdf))
    box = reader.pages[0].mediabox
    # pypdf puts spaces between the glyph runs of Japanese text: compare without them.
    return (
        len(reader.pages),
        re.sub(r"\s+", "", reader.pages[0].extract_text()),
        (float(box.width), float(box.height)),
    )


def test_print_is_one_a4_page_with_scale_legend_in_view_report_and_disclaimer(page, live_server, api):
    lat, lon = ZONED
    layers = "zoning,shelters,flood_sample,city_boundary"
    open_viewer(page, live_server, f"#map=16/{lat}/{lon}&pt={lat},{lon}&layers={layers}")
    point_report(page)
    page.click(".tg-print-map-button")  # on the map: reachable with the report open
    page.wait_for_selector("body.tg-print-preview .tg-print-bar", timeout=WAIT_MS)
    wait_loaded(page)
    scale = int(re.search(r"1:([\d,]+)", page.inner_text(".tg-print-scale"))[1].replace(",", ""))
    pages, text, size = pdf_text(page.pdf(format="A4", landscape=True))
    assert pages == 1
    assert all(abs(a - b) < 2 for a, b in zip(size, A4_LANDSCAPE_PT, strict=True))
    assert api["config"]["title"]["ja"].replace(" ", "") in text
    assert "日本時間" in text and re.search(r"印刷日時\d{4}年\d{1,2}月\d{1,2}日", text)
    # The ratio is the map's: metres per CSS pixel over a printed CSS pixel (1/96 inch), as the
    # scale bar measures it (Leaflet's spherical distance, R = 6371 km).
    metres_per_pixel = 2 * math.pi * 6371000 * math.cos(math.radians(lat)) / (256 * 2**16)
    assert abs(scale - metres_per_pixel / (0.0254 / 96)) / scale < 0.01
    assert f"1:{scale:,}" in text and "100m" in text  # the ratio, and the scale bar
    # The legend: the layers with something in view, the zoning classes present there only.
    legend = page.inner_text(".tg-print-legend")
    zoning = api["config"]["layers"]["zoning"]
    assert "第1種低層住居専用地域" in legend
    absent = [c["label"]["ja"] for c in zoning["style"]["categories"] if c["label"]["ja"] not in legend]
    assert absent, "classes outside the view are not listed"
    flood = api["config"]["layers"]["flood_sample"]["title"]["ja"]
    assert flood.split("（")[0] not in legend  # the flood sample lies far from this view
    # The point report, the credits and the disclaimer are on the page.
    assert "この地点の情報" in text and "建蔽率" in text and "第1種低層住居専用地域" in text
    assert "地理院タイル" in text and "PLATEAU" in text
    assert "参考のための資料" in text
    # Back: the map as it was.
    page.click(".tg-print-back")
    assert not page.is_visible(".tg-print-bar") and page.is_visible(".tg-header")


def test_print_without_the_preview_still_fits_one_page(page, live_server):
    open_viewer(page, live_server)
    pages, text, _ = pdf_text(page.pdf(format="A4", landscape=True))
    assert pages == 1 and "凡例" in text and "1:" in text


def test_phone_credits_fold_behind_an_info_button(page, live_server, api):
    page.set_viewport_size(PHONE)
    open_viewer(page, live_server, "#map=14/36.0828/140.1115")
    credits = page.locator(".leaflet-control-attribution")
    shelters = api["config"]["layers"]["shelters"]["attribution"]["ja"]
    # Folded: the base map's credit (GSI's terms) and the button, a small strip over the map.
    assert credits.bounding_box()["height"] <= 48
    assert "地理院タイル" in credits.inner_text() and shelters not in credits.inner_text()
    assert page.locator(".tg-credits-base a").get_attribute("href").startswith("https://maps.gsi.go.jp/")
    toggle = page.locator(".tg-credits-toggle")
    box = toggle.bounding_box()
    assert box["width"] >= 43.5 and box["height"] >= 43.5
    assert toggle.get_attribute("aria-expanded") == "false"
    assert toggle.get_attribute("aria-label") == "出典を表示する"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert shelters in credits.inner_text() and "地理院タイル" in credits.inner_text()
    toggle.click()
    assert shelters not in credits.inner_text()
    # Wide screens show everything, without the button.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert shelters in credits.inner_text() and not toggle.is_visible()


def first_marker_centre(page, layer_id: str) -> tuple[float, float]:
    box = page.locator(f"path.tg-layer-{layer_id}").first.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_marks_are_44_px_targets_on_touch_screens(browser, live_server):
    context = offline_context(browser, viewport=PHONE, is_mobile=True, has_touch=True, locale="ja-JP")
    page = context.new_page()
    try:
        open_viewer(page, live_server, "#map=16/36.0828/140.1115&layers=shelters")
        assert page.evaluate("matchMedia('(any-pointer: coarse)').matches")
        radius = page.eval_on_selector(".tg-hits path", "p => p.getBoundingClientRect().width / 2")
        assert radius >= 21.5
        x, y = first_marker_centre(page, "shelters")
        # 18 px beside the 6 px mark, on the map: the finger still meant the shelter.
        page.touchscreen.tap(x + 18, y)
        page.wait_for_selector(".leaflet-popup .tg-popup", timeout=WAIT_MS)
        assert page.locator(".tg-point h3").count() == 0
    finally:
        context.close()


def test_with_a_mouse_a_click_beside_a_mark_asks_the_point(page, live_server):
    open_viewer(page, live_server, "#map=16/36.0828/140.1115&layers=shelters")
    assert page.eval_on_selector(".tg-hits path", "p => getComputedStyle(p).pointerEvents") == "none"


def test_marks_are_reached_with_tab_and_opened_with_enter(page, live_server, api):
    open_viewer(page, live_server, "#map=15/36.0828/140.1115&layers=shelters")
    page.focus("#map")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => Object.fromEntries(['class', 'aria-label', 'role']"
        ".map((name) => [name, document.activeElement.getAttribute(name)]))"
    )
    focused = {"cls": focused["class"], "label": focused["aria-label"], "role": focused["role"]}
    assert "tg-layer-shelters" in focused["cls"] and focused["role"] == "button"
    name = focused["label"].split("（")[0]
    assert name in {f["properties"]["name"] for f in api["shelters"]["features"]}
    assert page.evaluate("getComputedStyle(document.activeElement).strokeWidth") == "4px"  # visible focus
    page.keyboard.press("Enter")
    popup = page.wait_for_selector(".leaflet-popup .tg-popup", timeout=WAIT_MS)
    assert popup.query_selector(".tg-popup-title").inner_text() == name
    assert page.locator(".tg-point h3").count() == 0  # the popup, not the map centre's report


def small_targets(page, selectors: list[str]) -> list[tuple]:
    small = []
    for selector in selectors:
        for element in page.locator(selector).all():
            box = element.bounding_box() if element.is_visible() else None
            if box and (box["height"] < 43.5 or box["width"] < 43.5):
                small.append((selector, box["width"], box["height"]))
    return small


def test_the_new_controls_are_thumb_sized_on_a_phone(page, live_server):
    page.set_viewport_size(PHONE)
    open_viewer(page, live_server)
    map_buttons = [".tg-measure-button", ".tg-share-button", ".tg-credits-toggle"]
    assert small_targets(page, map_buttons) == []
    page.wait_for_selector(".tg-basemap-notice:not([hidden])", timeout=WAIT_MS)
    assert small_targets(page, [".tg-basemap-notice button"]) == []
    page.click(".tg-lang")
    assert small_targets(page, [".tg-lang-option"]) == []
    page.keyboard.press("Escape")
    page.click(".tg-sheet-handle")
    assert small_targets(page, [".tg-opendata-link", ".tg-basemaps .tg-layer-label"]) == []
    page.click(".tg-measure-button")
    assert small_targets(page, [".tg-measure button"]) == []
    page.click(".tg-measure-done")
    page.click(".tg-share-button")
    page.wait_for_selector(".tg-share[open] svg.tg-qr", timeout=WAIT_MS)
    assert small_targets(page, [".tg-share button", ".tg-share-link"]) == []


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_no_serious_accessibility_violations_with_the_tools_open(page, live_server, viewport):
    from viewerpage import axe_violations

    if viewport == "phone":
        page.set_viewport_size(PHONE)
    open_viewer(page, live_server, "#map=14/36.0828/140.1115&lang=vi")
    page.wait_for_selector(".tg-basemap-notice:not([hidden])", timeout=WAIT_MS)
    page.click(".tg-measure-button")
    page.focus("#map")
    page.keyboard.press("Enter")
    page.click(".tg-lang")
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
    page.keyboard.press("Escape")
    page.click(".tg-share-button")
    page.wait_for_selector(".tg-share[open] svg.tg-qr", timeout=WAIT_MS)
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
    page.keyboard.press("Escape")
    if viewport == "phone":  # phones print from the panel (the map keeps its room)
        assert not page.is_visible(".tg-print-map-button")
        page.click(".tg-sheet-handle")
        page.click(".tg-print-button")
    else:
        page.click(".tg-print-map-button")
    page.wait_for_selector("body.tg-print-preview", timeout=WAIT_MS)
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
