"""The resident's report in the viewer: on a phone, the place name and the hazards are on the
first screen of the sheet; the codes wait under a collapsed 「詳細」."""

import pytest
from viewerpage import WAIT_MS, ZONED, open_viewer, point_report

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DEEP_FLOOD = (36.108348, 140.155597)  # inside the synthetic flood sample's 3.0–5.0 m band


def tap_centre(page) -> None:
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    point_report(page)
    page.wait_for_selector(".tg-point-place", timeout=WAIT_MS)


def test_phone_first_screen_has_the_place_and_the_hazards(page, live_server):
    page.set_viewport_size(PHONE)
    lat, lon = DEEP_FLOOD
    open_viewer(page, live_server, f"#map=16/{lat}/{lon}&layers=flood_sample")
    tap_centre(page)
    place = page.locator(".tg-point-place")
    assert place.inner_text().startswith("つくば市") and place.inner_text().endswith("付近")
    hazard = page.locator('.tg-point-section[data-section="hazard"]')
    advice = hazard.locator(".tg-point-advice")
    assert "3.0〜5.0m" in hazard.inner_text() and advice.count() == 1
    # On the first screen: the sheet's visible part shows the place and the hazard's advice.
    sheet = page.locator(".tg-sheet").bounding_box()
    for part in (place, hazard.locator("h3"), advice):
        box = part.bounding_box()
        assert box and sheet["y"] <= box["y"] and box["y"] + box["height"] <= PHONE["height"], part
    # Hazards, then where to go, then the rules; sites matched to the flood.
    order = page.eval_on_selector_all(".tg-point-section", "els => els.map(e => e.dataset.section)")
    assert order[:2] == ["hazard", "shelter"]
    assert page.locator('.tg-point-matched[data-layer="emergency_sites-flood"] li').count() >= 1
    # Codes and every field: collapsed.
    assert page.get_attribute(".tg-point-details", "open") is None
    assert not page.is_visible('.tg-point-details .tg-point-layer[data-layer="flood_sample"]')
    page.click(".tg-point-details > summary")
    assert page.is_visible('.tg-point-details .tg-point-layer[data-layer="flood_sample"]')


def test_planning_rules_in_plain_words_on_a_desktop(page, live_server):
    lat, lon = ZONED
    open_viewer(page, live_server, f"#map=17/{lat}/{lon}&layers=zoning")
    tap_centre(page)
    zoning = '.tg-point-plain[data-layer="zoning"]'
    assert page.inner_text(f"{zoning} .tg-point-name") == "第1種低層住居専用地域"
    assert page.inner_text(f'{zoning} .tg-point-explain[data-field="BCR"]') == (
        "敷地の面積の40%まで建物で覆えます（建蔽率）。"
    )
    assert "第1種低層住居専用地域" in page.text_content(".tg-announcer")
