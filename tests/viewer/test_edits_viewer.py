"""The issue's "done": a staff member of the disaster department opens a shelter in the viewer,
and within 5 s a resident's phone shows 災害時モード with it open; a roads member gets no edit
form; a change saved meanwhile is explained (412); a point is dragged to a new place. On both
stores, in Debian's Chromium (issue 13)."""

import json
import time

import httpx
import pytest
from editcity import edit_city_for
from viewerpage import WAIT_MS, offline_context

from tsukuba_gis.store import open_store

pytestmark = pytest.mark.browser
ITEMS = "/internal/api/collections/shelters/items"


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def served(request, tmp_path_factory):
    city = edit_city_for(request, tmp_path_factory.mktemp(f"viewer-{request.param}"))
    staff = city.staff()
    from liveserver import LiveServer

    server = LiveServer(city.data_dir, city.env, ("--workers", "2"), timeout=120)
    yield city, staff, server
    server.stop()


def context(browser, **kwargs):
    return offline_context(browser, locale="ja-JP", **kwargs)


def shelter(server, staff, offset: int) -> dict:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get(
            "/api/collections/shelters/items", params={"limit": 1, "offset": offset, "f": "json"}
        )
        return page.json()["features"][0]


def staff_page(browser, server, user: str, password: str, at: tuple[float, float]):
    page = context(browser, viewport={"width": 1280, "height": 800}).new_page()
    lat, lon = at
    page.goto(f"{server.url}/#map=17/{lat}/{lon}")
    page.click(".tg-staff-login")
    page.fill('.tg-dialog input[name="username"]', user)
    page.fill('.tg-dialog input[name="password"]', password)
    with page.expect_navigation(timeout=WAIT_MS):
        page.click('.tg-dialog button[type="submit"]')
    page.wait_for_selector(".tg-staff-mode", timeout=WAIT_MS)
    page.goto(f"{server.url}/#map=17/{lat}/{lon}&pt={lat},{lon}")
    # A full load with the point in the link, as a resident's: a hash change alone relies on
    # the page having finished starting (its listener comes last), which once, in a fresh
    # clone under two test processes, it had not within 10 s.
    page.reload()
    page.wait_for_selector(".tg-point-nearest li", timeout=WAIT_MS)
    return page


def test_a_disaster_member_opens_a_shelter_and_residents_see_it_within_5_s(browser, served):
    city, staff, server = served
    target = shelter(server, staff, 40)
    fid, (lon, lat) = target["id"], target["geometry"]["coordinates"]
    resident = context(
        browser, viewport={"width": 390, "height": 780}, is_mobile=True, has_touch=True
    ).new_page()
    resident.goto(f"{server.url}/#map=15/{lat}/{lon}&pt={lat + 0.002},{lon}")
    resident.wait_for_selector(".tg-point-nearest li", timeout=WAIT_MS)
    assert resident.is_hidden(".tg-disaster") and resident.locator(".tg-edit-button").count() == 0
    user, password = staff.basic["bousai"]
    page = staff_page(browser, server, user, password, (lat, lon))
    page.click(f'.tg-point-nearest[data-layer="shelters"] li[data-id="{fid}"] .tg-edit-button')
    page.wait_for_selector(".tg-edit select[name=status]", timeout=WAIT_MS)
    page.select_option(".tg-edit select[name=status]", "開設")
    page.select_option(".tg-edit select[name=crowding]", "やや混雑")
    page.click(".tg-edit-save")
    saved = time.monotonic()
    page.wait_for_selector(".tg-message:has-text('保存しました')", timeout=WAIT_MS)
    resident.wait_for_selector(".tg-disaster:not([hidden])", timeout=5000)
    assert "災害時モード" in resident.inner_text(".tg-disaster") and "1か所" in resident.inner_text(
        ".tg-disaster"
    )
    item = resident.locator(f'.tg-disaster-items li[data-id="{fid}"]')
    item.wait_for(state="attached", timeout=5000)
    assert item.get_attribute("data-status") == "開設" and "更新" in item.inner_text()
    resident.wait_for_selector(".tg-open-only", timeout=5000)  # the point report: open ones only
    nearest = resident.locator('.tg-point-nearest[data-layer="shelters"] li')
    assert nearest.count() == 1 and "開設" in nearest.first.inner_text()
    assert time.monotonic() - saved < 5.0
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert (
            client.get(f"/api/collections/shelters/items/{fid}", params={"f": "json"}).json()["properties"][
                "status"
            ]
            == "開設"
        )
    change = open_store(city.settings.store_url).changes("shelters", feature_id=fid)[-1]
    assert (change.user, change.department, change.via) == ("kato-bousai", "disaster", "session")


def test_a_roads_member_gets_no_shelter_form(browser, served):
    _, staff, server = served
    target = shelter(server, staff, 41)
    lon, lat = target["geometry"]["coordinates"]
    user, password = staff.basic["douro"]
    page = staff_page(browser, server, user, password, (lat, lon))
    assert page.locator('.tg-point-nearest[data-layer="shelters"] .tg-edit-button').count() == 0


def test_a_change_saved_meanwhile_is_explained_and_a_point_moves(browser, served):
    _, staff, server = served
    target = shelter(server, staff, 42)
    fid, (lon, lat) = target["id"], target["geometry"]["coordinates"]
    user, password = staff.basic["bousai"]
    page = staff_page(browser, server, user, password, (lat, lon))
    # 災害時モード is on (a shelter was opened above): staff still see every shelter, with its status.
    assert page.locator(".tg-open-only").count() == 0
    page.click(f'.tg-point-nearest[data-layer="shelters"] li[data-id="{fid}"] .tg-edit-button')
    page.wait_for_selector(".tg-edit select[name=status]", timeout=WAIT_MS)
    with httpx.Client(
        base_url=server.url, timeout=30, headers=staff.bearer("edit")
    ) as client:  # someone else
        etag = client.get(f"{ITEMS}/{fid}", params={"f": "json"}).headers["etag"]
        body = json.dumps({"properties": {"status": "満員"}})
        assert (
            client.patch(
                f"{ITEMS}/{fid}",
                content=body,
                headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
            ).status_code
            == 200
        )
    page.select_option(".tg-edit select[name=status]", "閉鎖")
    page.click(".tg-edit-save")
    page.wait_for_selector(".tg-edit .tg-error:has-text('ほかの職員が先に')", timeout=WAIT_MS)
    assert page.eval_on_selector(".tg-edit select[name=status]", "s => s.value") == "満員"  # as it is now
    page.click(".tg-edit-move")
    marker = page.locator(".tg-move-marker")
    marker.wait_for(timeout=WAIT_MS)
    box = marker.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + 40, steps=8)
    page.mouse.up()
    page.click(".tg-move-save")
    page.wait_for_selector(".tg-message:has-text('保存しました')", timeout=WAIT_MS)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        moved = client.get(f"/api/collections/shelters/items/{fid}", params={"f": "json"}).json()
    new_lon, new_lat = moved["geometry"]["coordinates"]
    assert new_lon > lon + 1e-4 and new_lat < lat - 1e-4  # right and down on the screen
    assert moved["properties"]["status"] == "満員"
