"""Residents' reports on both stores (issue 17): an Open311 submission with a photo, handled by
the roads department, public without personal data or EXIF; every bad input a clear 4xx with
nothing stored; duplicates, merge, reject, deletion on request and the retention purge.

One app per store (TestClient: the process boundary is tested by the viewer test); the tests of
a module share its reports, in file order.
"""

import io
import json

import pytest
from click.testing import CliRunner
from editcity import EditCity, schema_url
from fastapi.testclient import TestClient
from PIL import Image
from reportkit import EMAIL, EXIF_MARK, ORIGINAL, TEST_RULES, TOKYO, photo_with_gps, report_form, submit

from server.app import create_app
from tsukuba_gis.backup.archive import Sources, backup
from tsukuba_gis.cli.main import cli
from tsukuba_gis.store import open_store
from tsukuba_gis.store.reports import ReportFilter, ago

MARKERS = (EMAIL, ORIGINAL, EXIF_MARK, "LEAKMARKER")


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def city(request, tmp_path_factory) -> EditCity:
    store = "" if request.param == "gpkg" else schema_url(request.getfixturevalue("postgis_test_db"))
    return EditCity(tmp_path_factory.mktemp(f"reports-{request.param}"), store, ["city_boundary", "reports"])


@pytest.fixture(scope="module")
def staff(city):
    return city.staff()


@pytest.fixture(scope="module")
def client(city, staff):
    settings = city.settings.model_copy(update={"public_url": "http://testserver"})
    with TestClient(
        create_app(settings, city.auth, report_settings=TEST_RULES), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture(scope="module")
def store(city):
    return open_store(city.settings.store_url)


@pytest.fixture(scope="module")
def handled(client, staff, store):
    """A report with a photo, accepted and completed by the roads department."""
    sent = submit(client, photo_with_gps(), **{"attribute[size]": "中（30cm〜1m）"})
    assert sent.status_code == 201, sent.text
    (receipt,) = sent.json()
    report_id, token = receipt["service_request_id"], receipt["token"]
    roads = staff.basic["douro"]
    accepted = client.post(
        f"/internal/reports/{report_id}/accept",
        json={"text": "道路に穴があります（市が確認）", "photo_approved": True},
        auth=roads,
    )
    assert accepted.status_code == 200, accepted.text
    done = client.post(
        f"/internal/reports/{report_id}/status",
        json={"status": "完了", "reply": "12月3日に補修しました。"},
        auth=roads,
    )
    assert done.status_code == 200, done.text
    return report_id, token


def refused(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "type", "description"}, body
    for word in words:
        assert word in body["description"], body
    return body


def photo_count(city) -> int:
    folder = city.data_dir / "reports" / "photos"
    return len(list(folder.iterdir())) if folder.exists() else 0


def test_the_categories_are_open311_services(client):
    services = client.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in services][:2] == ["road_damage", "street_light"]
    assert services[0]["service_name"] == "道路の損傷" and services[0]["metadata"] is True
    english = client.get("/open311/v2/services.json?lang=en").json()
    assert english[0]["service_name"] == "Road damage"
    (size,) = client.get("/open311/v2/services/road_damage.json").json()["attributes"]
    assert size["code"] == "size" and size["datatype"] == "singlevaluelist" and len(size["values"]) == 3
    refused(client.get("/open311/v2/services/nothing.json"), 404, "services.json")


def test_a_new_report_is_not_public_until_accepted(client, staff):
    sent = submit(client, description="歩道の段差", service_code="road_damage")
    (receipt,) = sent.json()
    report_id = receipt["service_request_id"]
    assert receipt["status_url"].endswith(receipt["token"]) and len(receipt["token"]) >= 32
    status = client.get(f"/reports/{receipt['token']}?f=json").json()
    assert status["status"] == "受付待ち" and status["public_url"] is None
    refused(client.get(f"/open311/v2/requests/{report_id}.json"), 404, "accepted")
    assert report_id not in client.get("/open311/v2/requests.json").text
    assert report_id not in client.get("/api/collections/reports/items?f=json").text


def test_roads_staff_accept_and_complete_and_the_public_sees_it(client, handled, store, staff):
    report_id, token = handled
    (public,) = client.get(f"/open311/v2/requests/{report_id}.json").json()
    assert (public["status"], public["detailed_status"]) == ("closed", "完了")
    assert public["status_notes"] == "12月3日に補修しました。"
    assert public["description"] == "道路に穴があります（市が確認）"
    feature = client.get(f"/api/collections/reports/items/{report_id}?f=json").json()
    assert feature["properties"]["status"] == "完了" and feature["properties"]["category"] == "道路の損傷"
    assert feature["geometry"]["type"] == "Point"
    page = client.get(f"/reports/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "12月3日に補修しました。" in page.text and "Done" in page.text
    assert page.headers["cache-control"] == "private, no-store"
    feed = client.get(
        client.get(f"/reports/{token}?f=json").json()["feed_url"].removeprefix("http://testserver")
    )
    assert feed.status_code == 200 and "12月3日に補修しました。" in feed.text
    # Every step is a recorded change of the reports layer, by the roads department's user.
    changes = store.changes("reports", feature_id=report_id)
    assert [(c.kind, c.user, c.department) for c in changes] == [
        ("add", "ito-douro", "roads"),
        ("modify", "ito-douro", "roads"),
    ]
    assert changes[1].after["reply"] == "12月3日に補修しました。"
    records = store.change_records(layers=["reports"])
    assert {r.feature_id for r in records} >= {report_id}
    assert not any(marker in json.dumps([r.properties for r in records]) for marker in MARKERS)


def test_the_served_photo_has_no_exif_and_is_resized(client, handled):
    report_id, _ = handled
    (public,) = client.get(f"/open311/v2/requests/{report_id}.json").json()
    response = client.get(public["media_url"].removeprefix("http://testserver"))
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG" and max(image.size) <= TEST_RULES.photo_edge
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert EXIF_MARK.encode() not in response.content


def test_staff_see_the_personal_part_the_public_never_does(client, handled, staff):
    report_id, token = handled
    mine = client.get("/internal/reports?status=完了", auth=staff.basic["douro"]).json()["reports"]
    found = next(r for r in mine if r["id"] == report_id)
    assert found["personal"]["email"] == EMAIL and found["personal"]["original_text"] == ORIGINAL
    assert "token_hash" not in found
    detail = client.get(f"/internal/reports/{report_id}", auth=staff.basic["douro"]).json()
    assert [s["action"] for s in detail["steps"]] == ["accept", "status"]
    assert (
        client.get(f"/internal/reports/{report_id}/photo.jpg", auth=staff.basic["douro"]).status_code == 200
    )
    # The disaster department lists only its own reports, and may not act on roads' ones.
    theirs = client.get("/internal/reports", auth=staff.basic["bousai"]).json()["reports"]
    assert report_id not in {r["id"] for r in theirs}
    refused(client.get("/internal/reports"), 401)
    public = [
        f"/reports/{token}",
        f"/reports/{token}?f=json",
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{report_id}.json",
        "/api/collections/reports/items?f=json",
        "/api/collections/reports/items?f=html",
        f"/api/collections/reports/items/{report_id}?f=json",
        "/api/collections/reports/items?f=csv",
        "/feeds/changes.json?layer=reports",
        "/feeds/changes.atom?layer=reports",
        f"/reports/photos/{report_id}.jpg",
    ]
    for url in public:
        response = client.get(url)
        assert response.status_code == 200, (url, response.text)
        body = response.content.decode("utf-8", "replace")
        assert not [m for m in MARKERS if m in body], url


def test_a_staff_step_by_the_wrong_department_is_refused(client, staff, store):
    (receipt,) = submit(client, description="別の穴").json()
    report_id = receipt["service_request_id"]
    body = {"text": "穴", "photo_approved": False}
    refused(
        client.post(f"/internal/reports/{report_id}/accept", json=body, auth=staff.basic["bousai"]),
        403,
        "roads department",
    )
    refused(client.post(f"/internal/reports/{report_id}/accept", json=body, auth=staff.basic["nashi"]), 403)
    assert store.report(report_id).status == "受付待ち" and not store.changes("reports", feature_id=report_id)
    refused(
        client.post(
            f"/internal/reports/{report_id}/status", json={"status": "完了"}, auth=staff.basic["douro"]
        ),
        412,
        "accept it first",
    )
    refused(
        client.post(
            f"/internal/reports/{report_id}/accept", json={"text": "<b>x</b>"}, auth=staff.basic["douro"]
        ),
        400,
        "text",
    )
    refused(
        client.post(f"/internal/reports/{report_id}/reject", json={}, auth=staff.basic["douro"]),
        400,
        "reason",
    )
    rejected = client.post(
        f"/internal/reports/{report_id}/reject",
        json={"reason": "私有地のため対応できません"},
        auth=staff.basic["douro"],
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "却下"
    status = client.get(f"/reports/{receipt['token']}?f=json").json()
    assert status["reason"] == "私有地のため対応できません" and status["open"] is False


def test_a_duplicate_is_named_and_merged(client, staff, store, handled):
    report_id, _ = handled
    (again,) = submit(client, description="同じ穴です").json()
    assert report_id in again["duplicates"]
    merged = client.post(
        f"/internal/reports/{again['service_request_id']}/merge",
        json={"into": report_id},
        auth=staff.basic["douro"],
    )
    assert merged.status_code == 200, merged.text
    assert (merged.json()["status"], merged.json()["merged_into"]) == ("却下", report_id)
    (light,) = submit(client, service_code="street_light", description="街灯が消えている").json()
    refused(
        client.post(
            f"/internal/reports/{light['service_request_id']}/merge",
            json={"into": report_id},
            auth=staff.basic["douro"],
        ),
        400,
        "same category",
    )


BAD_INPUTS = {
    "unknown category": ({"service_code": "ufo"}, None, 400, "service_code"),
    "a point in Tokyo": ({"lat": str(TOKYO[0]), "long": str(TOKYO[1])}, None, 400, "not in Tsukuba"),
    "no place": ({"lat": "north"}, None, 400, "lat"),
    "script in the text": ({"description": "<script>alert(1)</script>"}, None, 400, "plain text"),
    "20,000 characters": ({"description": "穴" * 20_000}, None, 400, "at most"),
    "an empty text": ({"description": "   "}, None, 400, "description: required"),
    "a bad e-mail": ({"email": "not-an-address"}, None, 400, "email"),
    "the honeypot filled in": ({"website": "http://spam.example"}, None, 400, "website"),
    "an unknown answer": ({"attribute[size]": "巨大"}, None, 400, "attribute[size]"),
    "an unknown question": ({"attribute[colour]": "red"}, None, 400, "attribute"),
    "a forged challenge": ({"challenge": "1.2.4.abc"}, None, 400, "challenge"),
    "a wrong nonce": ({"wrong": True}, None, 400, "nonce"),
    "text posing as a photo": ({}, b"just some text, not an image at all", 400, "not a JPEG"),
    "SVG posing as a photo": (
        {},
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>',
        400,
        "SVG",
    ),
    "HTML posing as a photo": ({}, b"<!doctype html><html><body>hi</body></html>", 400, "HTML"),
    "a cut-off JPEG": ({}, b"\xff\xd8\xff\xe0" + b"\0" * 200, 400, "readable"),
}


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, "PNG")  # 400 Mpx in ~50 kB
    return out.getvalue()


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_a_clear_4xx_and_nothing_is_stored(client, store, city, case):
    fields, photo, status, words = BAD_INPUTS[case]
    before = (len(store.reports(ReportFilter(limit=10_000))), photo_count(city))
    refused(submit(client, photo, **fields), status, words)
    assert (len(store.reports(ReportFilter(limit=10_000))), photo_count(city)) == before


def test_oversized_and_bomb_photos_and_other_bodies_are_refused(client, store, city):
    before = (len(store.reports(ReportFilter(limit=10_000))), photo_count(city))
    refused(submit(client, b"\xff\xd8\xff" + b"\0" * (TEST_RULES.photo_max_bytes + 1)), 413, "kB")
    refused(submit(client, _bomb()), 400, "pixels")
    form = report_form(client)
    refused(client.post("/open311/v2/requests.json", json=form), 415, "Content-Type")
    garbage = {"Content-Type": "multipart/form-data"}  # no boundary
    refused(client.post("/open311/v2/requests.json", content=b"--x\r\n", headers=garbage), 400, "multipart")
    two = {"media": ("a.jpg", b"1", "image/jpeg"), "other": ("b.jpg", b"2", "image/jpeg")}
    refused(client.post("/open311/v2/requests.json", data=form, files=two), 400)
    refused(client.get("/reports/forged-token-that-was-never-given?f=json"), 404, "status link")
    refused(client.post("/reports/forged-token-that-was-never-given/forget"), 404, "status link")
    refused(client.get("/reports/photos/0000000000.jpg"), 404)
    assert (len(store.reports(ReportFilter(limit=10_000))), photo_count(city)) == before


def test_an_open311_app_posts_with_an_api_key(client, staff, store):
    form = {
        "api_key": staff.tokens["read"],
        "service_code": "flooding",
        "lat": "36.05",
        "long": "140.08",
        "description": "側溝があふれています",
    }
    sent = client.post("/open311/v2/requests.json", data=form)  # urlencoded, as the spec's examples
    assert sent.status_code == 201, sent.text
    report = store.report(sent.json()[0]["service_request_id"])
    assert (report.category, report.department) == ("flooding", "disaster")
    refused(
        client.post("/open311/v2/requests.json", data={**form, "api_key": "tgis_000000000000_" + "x" * 43}),
        403,
        "api_key",
    )


def test_the_reporter_deletes_their_data_and_the_purge_removes_old_data(client, store):
    (receipt,) = submit(client, description="消してほしい").json()
    report_id = receipt["service_request_id"]
    assert store.report_personal(report_id).email == EMAIL
    gone = client.post(f"/reports/{receipt['token']}/forget")
    assert gone.status_code == 200 and gone.json()["personal_data"] == "deleted"
    assert store.report_personal(report_id) is None and store.report(report_id).status == "受付待ち"
    assert client.get(f"/reports/{receipt['token']}?f=json").status_code == 200  # the link still works
    (other,) = submit(client, description="古い報告").json()
    assert store.purge_personal(ago(days=-1)) >= 1  # everything counts as old a day from now
    assert store.report_personal(other["service_request_id"]) is None


def test_the_steps_show_in_the_history_and_the_cli(city, handled):
    report_id, _ = handled
    env = {"TSUKUBA_GIS_DATA_DIR": str(city.data_dir), "TSUKUBA_GIS_STORE": city.store}
    history = CliRunner().invoke(cli, ["etl", "history", "reports", "--feature", report_id], env=env)
    assert history.exit_code == 0, history.output
    assert "ito-douro" in history.output and "report accept" in history.output
    listed = CliRunner().invoke(cli, ["reports", "list", "--department", "roads"], env=env)
    assert listed.exit_code == 0 and report_id in listed.output and EMAIL not in listed.output
    purged = CliRunner().invoke(cli, ["reports", "purge", "--days", "30"], env=env)
    assert purged.exit_code == 0 and "older than 30 days" in purged.output


def test_a_backup_holds_the_reports_and_their_photos(city, handled, store, tmp_path):
    report_id, _ = handled
    photo = store.report(report_id).photo
    sources = Sources(city.data_dir, city.settings.store_url, city.settings.rasters_path)
    manifest = backup(sources, tmp_path / "backup.tar")
    assert f"data/reports/photos/{photo}" in manifest.members


def test_a_flood_from_one_address_is_refused(client, store):
    answers = [submit(client, description=f"連投 {i}").status_code for i in range(100)]
    assert 429 in answers and set(answers) <= {201, 429}
    first = answers.index(429)
    assert set(answers[first:]) == {429}
    assert store.reports_from("testclient", ago(hours=1)) == TEST_RULES.per_address_per_hour
    body = refused(submit(client, description="もう一度"), 429, "an hour")
    assert body["code"] == "TooManyRequests"
