"""The phone layout (bottom sheet, thumb-sized buttons), accessibility (axe-core, keyboard),
print, the base map out of reach, speed, and the README's screenshots."""

import gzip
import json
import os

import pytest
from viewerpage import (
    WAIT_MS,
    ZONED,
    axe_violations,
    checkbox,
    open_viewer,
    point_report,
    wait_loaded,
)

from tsukuba_gis.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

DOCS = PROJECT_ROOT / "docs"
PHONE = {"width": 390, "height": 844}
TOUCH_PX = 44


def sheet_state(page) -> str:
    return page.get_attribute(".tg-sheet", "data-state")


def test_phone_bottom_sheet(page, live_server):
    page.set_viewport_size(PHONE)
    open_viewer(page, live_server, "#map=13/36.0800/140.1100")
    handle = page.locator(".tg-sheet-handle")
    assert page.get_attribute(".tg-sheet", "data-layout") == "sheet"
    assert sheet_state(page) == "peek" and handle.get_attribute("aria-expanded") == "false"
    assert not page.is_visible('.tg-layer[data-layer="shelters"]')
    assert page.locator("path.tg-layer-shelters").count() > 0
    # Credits and scale stay visible above the sheet.
    credits = page.locator(".leaflet-control-attribution").bounding_box()
    sheet = page.locator(".tg-sheet").bounding_box()
    assert credits["y"] + credits["height"] <= sheet["y"] + 1
    # Tap: half; tap again: full; again: peek.
    handle.click()
    assert sheet_state(page) == "half" and handle.get_attribute("aria-expanded") == "true"
    assert page.is_visible('.tg-layer[data-layer="shelters"]')
    page.uncheck(checkbox("shelters"))
    assert page.locator("path.tg-layer-shelters").count() == 0
    handle.click()
    assert sheet_state(page) == "full"
    handle.click()
    assert sheet_state(page) == "peek"
    # The map keeps its centre as the sheet changes height: a shared view is not shifted.
    page.wait_for_timeout(500)
    # Within a pixel (z13: ~0.0001 degree): Leaflet keeps the centre on whole pixels, so the
    # fourth decimal of the hash may flip when the layers' loading times differ.
    zoom, lat, lon = page.evaluate("location.hash").split("map=")[1].split("&")[0].split("/")
    assert zoom == "13" and abs(float(lat) - 36.08) <= 0.00011 and abs(float(lon) - 140.11) <= 0.00011
    # Drag the handle up with a finger-like pointer: the sheet follows and settles.
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x, y - step * 60)
    page.mouse.up()
    assert sheet_state(page) == "full"
    handle.click()  # back to peek
    assert sheet_state(page) == "peek"
    page.wait_for_function(
        "() => Math.abs(document.querySelector('#map')"
        ".getBoundingClientRect().bottom - document.querySelector('.tg-sheet')"
        ".getBoundingClientRect().top) < 2",
        timeout=WAIT_MS,
    )
    # A tap on the map opens the point report in the sheet, nothing needs hover.
    map_box = page.locator("#map").bounding_box()
    page.mouse.click(map_box["x"] + map_box["width"] / 2, map_box["y"] + map_box["height"] / 2)
    point_report(page)
    assert sheet_state(page) == "half"
    assert page.get_attribute("#tg-tab-info", "aria-selected") == "true"


def test_phone_buttons_are_thumb_sized(page, live_server):
    page.set_viewport_size(PHONE)
    open_viewer(page, live_server)
    page.click(".tg-sheet-handle")
    selectors = [
        ".tg-sheet-handle",
        ".tg-tab",
        ".tg-lang",
        ".tg-search-input",
        ".tg-search-button",
        ".leaflet-control-zoom-in",
        ".leaflet-control-zoom-out",
        ".tg-locate",
        ".tg-print-button",
        ".tg-staff-login",
        ".tg-layer-label",
    ]
    small = []
    for selector in selectors:
        for box in [el.bounding_box() for el in page.locator(selector).all() if el.is_visible()]:
            if box["height"] < TOUCH_PX - 0.5 or box["width"] < TOUCH_PX - 0.5:
                small.append((selector, box["width"], box["height"]))
    assert small == []


def test_text_follows_the_browser_font_size(page, live_server):
    open_viewer(page, live_server)
    before = page.eval_on_selector(".tg-search-input", "el => el.getBoundingClientRect().height")
    page.evaluate("document.documentElement.style.fontSize = '24px'")
    after = page.eval_on_selector(".tg-search-input", "el => el.getBoundingClientRect().height")
    assert after > before * 1.3


@pytest.mark.parametrize("setup", ["desktop", "desktop-en-report", "phone-report", "login"])
def test_no_serious_accessibility_violations(page, live_server, setup):
    lat, lon = ZONED
    if setup.startswith("phone"):
        page.set_viewport_size(PHONE)
    hash = f"#map=16/{lat}/{lon}&pt={lat},{lon}" if setup.endswith("report") else ""
    if "-en-" in setup:
        hash += "&lang=en"
    open_viewer(page, live_server, hash)
    if hash:
        point_report(page)
    if setup == "login":
        page.click(".tg-staff-login")
        page.wait_for_selector(".tg-dialog[open]", timeout=WAIT_MS)
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def test_keyboard_only(page, live_server):
    open_viewer(page, live_server)
    # The first stops of the tab order: search, its button, the language switch.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "tg-search-input"
    page.keyboard.type("吾妻小学校")
    page.wait_for_selector(".tg-search-option", timeout=WAIT_MS)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    point_report(page)
    # Enter on the focused map asks about its centre.
    page.focus("#map")
    page.keyboard.press("Enter")
    page.wait_for_selector(".tg-point-coords", timeout=WAIT_MS)
    # Focus is visible (an outline) on buttons.
    page.focus(".tg-lang")
    outline = page.eval_on_selector(".tg-lang", "el => getComputedStyle(el).outlineStyle")
    assert outline != "none"


def test_print_shows_map_title_legend_scale_and_credits(page, live_server, api):
    open_viewer(page, live_server)
    page.emulate_media(media="print")
    assert not page.is_visible(".tg-header") and not page.is_visible(".tg-sheet")
    assert page.is_visible(".tg-print")
    assert page.inner_text(".tg-print-title") == api["config"]["title"]["ja"]
    # The legend lists what is in view once each layer has loaded (the rasters can come first).
    page.wait_for_function(
        "() => document.querySelector('.tg-print-legend').innerText.includes('指定避難所')",
        timeout=WAIT_MS,
    )
    legend = page.inner_text(".tg-print-legend")
    assert "指定避難所" in legend and "第1種低層住居専用地域" in legend
    assert "サンプル（架空）" in legend
    assert page.is_visible(".leaflet-control-scale")
    assert page.is_visible(".leaflet-control-attribution")
    assert "地理院タイル" in page.inner_text(".leaflet-control-attribution")
    pdf = page.pdf(format="A4", landscape=True)
    assert pdf[:4] == b"%PDF" and len(pdf) > 20_000


def test_photo_base_map_credits_landsat_at_small_scales(page, live_server, api):
    photo = next(b for b in api["config"]["basemaps"] if b["id"] == "photo")
    open_viewer(page, live_server, f"#map={photo['smallScaleMaxZoom']}/36.1/140.1&base=photo")
    credits = page.locator(".leaflet-control-attribution")
    assert "Landsat8" in credits.inner_text() and "GEBCO" in credits.inner_text()
    page.click(".leaflet-control-zoom-in")
    page.wait_for_function(
        "() => !document.querySelector('.leaflet-control-attribution').textContent.includes('Landsat8')",
        timeout=WAIT_MS,
    )
    assert "地理院タイル" in credits.inner_text()


def test_works_with_no_base_map_reachable(page, live_server):
    """The page fixture blocks every external host: tiles fail, the map, layers and report work."""
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    lat, lon = ZONED
    open_viewer(page, live_server, f"#map=16/{lat}/{lon}&pt={lat},{lon}")
    point_report(page)
    assert failed and all(not url.startswith(live_server.url) for url in failed)
    assert page.locator("path.tg-layer-zoning").count() > 0
    assert "第1種低層住居専用地域" in page.inner_text(".tg-point")


def test_speed_and_bytes(page, live_server):
    """First paint and first layer drawn on loopback, and the bytes the page loads."""
    sizes = {}
    kinds = ("script", "stylesheet", "document")
    page.on(
        "response",
        lambda r: (
            sizes.update({r.url: len(r.body())})
            if r.url.startswith(live_server.url) and r.request.resource_type in kinds
            else None
        ),
    )
    open_viewer(page, live_server)
    timings = page.evaluate("""() => ({
        paint: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
        map: performance.getEntriesByName('tg-map-created')[0]?.startTime,
        layer: performance.getEntriesByName('tg-first-layer')[0]?.startTime,
        config: performance.getEntriesByType('resource')
            .find(r => r.name.includes('viewer-config'))?.duration,
        script: performance.getEntriesByType('resource')
            .find(r => r.name.includes('index.js'))?.responseEnd,
    })""")
    build = PROJECT_ROOT / "viewer" / "public" / "build"
    raw = {name: (build / name).stat().st_size for name in ("index.js", "index.css")}
    gz = {name: len(gzip.compress((build / name).read_bytes(), 9)) for name in raw}
    report = {
        "ms": {k: round(v) for k, v in timings.items()},
        "raw": raw,
        "gzip": gz,
        "page_bytes": sum(sizes.values()),
    }
    print("\nviewer speed:", json.dumps(report))
    assert timings["paint"] < 3000 and timings["layer"] < 5000
    # 2026-12-03: 272,892 bytes, 81,043 gzipped (Leaflet is 147 kB of it) with the subscription
    # dialog and the report buttons (their forms load on first use). Issue 15 allows 63.7 + 30 KB
    # gzipped; this budget stays tighter, ~3 % above today, so growth is a decision.
    assert raw["index.js"] < 281_000 and gz["index.js"] < 84_000 and gz["index.css"] < 10_000


def test_screenshots_desktop_and_phone(page, live_server, tmp_path):
    # The README's pictures are refreshed on purpose (`make screenshots`), not by every test run.
    out = DOCS if os.environ.get("TSUKUBA_GIS_UPDATE_SCREENSHOTS") == "1" else tmp_path
    lat, lon = ZONED
    layers = "layers=zoning,area_classification,shelters,emergency_sites,flood_sample,city_boundary"
    open_viewer(page, live_server, f"#map=15/{lat + 0.002}/{lon + 0.006}&pt={lat},{lon}&{layers}")
    point_report(page)
    page.wait_for_timeout(400)
    page.screenshot(path=str(out / "viewer.png"))
    page.set_viewport_size(PHONE)
    open_viewer(page, live_server, f"#map=15/{lat}/{lon}&pt={lat},{lon}&{layers}")
    point_report(page)
    page.wait_for_timeout(500)  # the sheet's height transition, then the layers' reload
    wait_loaded(page)
    page.screenshot(path=str(out / "viewer-phone.png"))
    for name in ("viewer.png", "viewer-phone.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
