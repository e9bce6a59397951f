"""The issue's "done" in Debian's Chromium (issue 17): on a phone viewport a resident reports a
pothole with a photo carrying EXIF GPS through 「困りごとを報告」; a roads member accepts and
completes it with a reply in the staff viewer's 「通報の対応」 (a disaster member's desk does not
list it); the resident's status page and the public map and API show that, without personal
data or EXIF (the served photo is decoded); an Open311 client library reads it. Both stores."""

import io
import time

import httpx
import pytest
from editcity import EditCity, schema_url
from georeport import GeoReport
from PIL import Image
from reportkit import EMAIL, EXIF_MARK, ORIGINAL, photo_with_gps
from viewerpage import WAIT_MS, axe_violations, offline_context

pytestmark = pytest.mark.browser
AT = (36.0828, 140.1115)


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def served(request, tmp_path_factory):
    store = "" if request.param == "gpkg" else schema_url(request.getfixturevalue("postgis_test_db"))
    city = EditCity(
        tmp_path_factory.mktemp(f"report-viewer-{request.param}"), store, ["city_boundary", "reports"]
    )
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


def staff_desk(browser, server, user: str, password: str):
    """A staff member signed in on a desktop, the 「通報の対応」 desk open."""
    page = offline_context(browser, viewport={"width": 1280, "height": 900}, locale="ja-JP").new_page()
    lat, lon = AT
    page.goto(f"{server.url}/#map=16/{lat}/{lon}")
    page.click(".tg-staff-login", timeout=WAIT_MS)
    page.fill('.tg-dialog input[name="username"]', user)
    page.fill('.tg-dialog input[name="password"]', password)
    with page.expect_navigation(timeout=WAIT_MS):
        page.click('.tg-dialog button[type="submit"]')
    page.wait_for_selector(".tg-staff-mode", timeout=WAIT_MS)
    page.click(".tg-desk-button", timeout=WAIT_MS)
    page.wait_for_selector(".tg-reports-desk .tg-desk-list", timeout=WAIT_MS)
    return page


def test_a_resident_reports_with_a_photo_and_roads_staff_complete_it(phone, browser, served):
    city, staff, server = served
    status_url = report_in_viewer(phone, server)
    assert status_url.startswith(server.url + "/reports/")
    # The disaster department's desk does not list a roads report.
    other = staff_desk(browser, server, *staff.basic["bousai"])
    assert other.locator(".tg-desk-report").count() == 0
    other.context.close()
    # The roads member accepts it (with the photo) and completes it with a reply, in the viewer.
    desk = staff_desk(browser, server, *staff.basic["douro"])
    item = desk.locator(".tg-desk-report").first
    report_id = item.get_attribute("data-id")
    assert ORIGINAL in item.inner_text() and EMAIL in item.inner_text()
    assert desk.locator(".tg-desk-marker").count() == 1  # shown on the map too
    item.locator(".tg-desk-text").fill("道路に穴（市が確認）")
    item.locator(".tg-desk-photo").check()
    item.locator(".tg-desk-accept button[type=submit]").click()
    desk.wait_for_function(
        "() => /更新しました/.test(document.querySelector('.tg-desk-notice').textContent)", timeout=WAIT_MS
    )
    desk.select_option(".tg-desk-filters .tg-desk-status", "受付")
    desk.click(".tg-desk-show")
    item = desk.locator(f'.tg-desk-report[data-id="{report_id}"][data-status="受付"]')
    item.wait_for(timeout=WAIT_MS)
    item.locator(".tg-desk-new-status").select_option("完了")
    item.locator(".tg-desk-reply").fill("補修しました")
    item.locator(".tg-desk-status button[type=submit]").click()
    desk.wait_for_function(
        "() => /更新しました/.test(document.querySelector('.tg-desk-notice').textContent)", timeout=WAIT_MS
    )
    assert not axe_violations(desk)
    desk.context.close()
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
        # Open data (anonymised): the files are written again a few seconds after the steps.
        deadline, download = time.monotonic() + 20, ""
        while report_id not in download and time.monotonic() < deadline:
            download = public.get("/opendata/files/reports/reports.geojson").text
            time.sleep(0.2)
        assert report_id in download and "補修しました" in download
        assert EMAIL not in download and ORIGINAL not in download
    image = Image.open(io.BytesIO(served_photo))
    assert image.format == "JPEG" and not image.getexif() and EXIF_MARK.encode() not in served_photo
    # An Open311 client library reads the same (georeport has no POST: tests/server/test_reports.py
    # posts as a plain Open311 request does).
    open311 = GeoReport(f"{server.url}/open311/v2")
    assert "road_damage" in [service["service_code"] for service in open311.get_service_list()]
    assert open311.get_service_definition("road_damage")["attributes"][0]["code"] == "size"
    one = open311.get_service_request(report_id)
    assert (one["status"], one["status_notes"]) == ("closed", "補修しました")
    (listed,) = open311.get_service_requests(service_request_id=report_id)
    assert listed["media_url"] == photo_src and EMAIL not in str(listed)
