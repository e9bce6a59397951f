"""The issue's "done" in Debian's Chromium on a phone viewport (issue 17): a resident reports a
pothole with a photo carrying EXIF GPS through 「困りごとを報告」; a roads user accepts and
completes it with a reply; the resident's status page and the public map and API show that,
without personal data or EXIF (the served photo is decoded). GeoPackage store: the API test
(tests/server/test_reports.py) runs every step on both stores."""

import io

import httpx
import pytest
from editcity import EditCity
from PIL import Image
from reportkit import EMAIL, EXIF_MARK, ORIGINAL, photo_with_gps
from viewerpage import WAIT_MS, axe_violations, offline_context

pytestmark = pytest.mark.browser
AT = (36.0828, 140.1115)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    city = EditCity(tmp_path_factory.mktemp("report-viewer"), "", ["city_boundary", "reports"])
    staff = city.staff()
    from liveserver import LiveServer

    server = LiveServer(city.data_dir, {**city.env, "TSUKUBA_GIS_REPORTS_POW_BITS": "8"}, timeout=120)
    yield city, staff, server
    server.stop()


@pytest.fixture
def phone(browser):
    context = offline_context(
        browser, viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True, locale="ja-JP"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors


def report_in_viewer(page, server) -> str:
    """Go through the steps on the phone; the status link."""
    lat, lon = AT
    page.goto(f"{server.url}/#map=17/{lat}/{lon}")
    page.click(".tg-report-button", timeout=WAIT_MS)
    page.wait_for_selector(".tg-report .tg-report-centre", timeout=WAIT_MS)
    assert page.locator("#tg-report-title").inner_text() == "困りごとを報告"
    page.click(".tg-report-centre")
    page.check('.tg-report input[value="road_damage"]', timeout=WAIT_MS)
    page.click(".tg-report-next")
    page.fill(".tg-report-text", ORIGINAL)
    page.fill('.tg-report input[name="email"]', EMAIL)
    page.set_input_files(
        ".tg-report-photo",
        files=[{"name": "IMG_0001.JPG", "mimeType": "image/jpeg", "buffer": photo_with_gps()}],
    )
    assert not axe_violations(page)  # the form step: labels, contrast, the hidden honeypot
    page.click(".tg-report-next")
    page.wait_for_selector(".tg-report-send", timeout=WAIT_MS)
    assert "道路の損傷" in page.locator(".tg-report-summary").inner_text()
    assert page.locator(".tg-report-marker").count() == 1  # the place shown on the map to confirm
    page.click(".tg-report-send")
    link = page.wait_for_selector(".tg-report-status-link", timeout=WAIT_MS)
    return link.get_attribute("href")


def test_a_resident_reports_with_a_photo_and_roads_staff_complete_it(phone, served):
    city, staff, server = served
    status_url = report_in_viewer(phone, server)
    assert status_url.startswith(server.url + "/reports/")
    with httpx.Client(base_url=server.url, timeout=30, auth=staff.basic["douro"]) as client:
        (found,) = client.get("/internal/reports", params={"status": "受付待ち"}).json()["reports"]
        assert found["personal"]["email"] == EMAIL and found["photo"]
        report_id = found["id"]
        accept = {"text": "道路に穴（市が確認）", "photo_approved": True}
        assert client.post(f"/internal/reports/{report_id}/accept", json=accept).status_code == 200
        done = {"status": "完了", "reply": "補修しました"}
        assert client.post(f"/internal/reports/{report_id}/status", json=done).status_code == 200
    # The resident's status page (the link from the viewer).
    phone.goto(status_url)
    text = phone.locator("main").inner_text()
    assert "完了" in text and "補修しました" in text and EMAIL not in text and ORIGINAL not in text
    photo_src = phone.locator("main img").get_attribute("src")
    # The public map: the reports layer with the completed report, its photo without EXIF.
    lat, lon = AT
    phone.goto(f"{server.url}/#map=17/{lat}/{lon}&layers=reports")
    phone.wait_for_selector('.tg-layer[data-layer="reports"]', state="attached", timeout=WAIT_MS)
    with httpx.Client(base_url=server.url, timeout=30) as public:
        feature = public.get(f"/api/collections/reports/items/{report_id}", params={"f": "json"}).json()
        assert feature["properties"]["status"] == "完了" and feature["properties"]["reply"] == "補修しました"
        body = public.get("/api/collections/reports/items", params={"f": "json"}).text
        assert EMAIL not in body and ORIGINAL not in body
        served_photo = public.get(photo_src).content
    image = Image.open(io.BytesIO(served_photo))
    assert image.format == "JPEG" and not image.getexif() and EXIF_MARK.encode() not in served_photo
