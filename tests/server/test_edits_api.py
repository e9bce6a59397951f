"""Writes on the staff API (OGC API - Features Part 4) on both stores: what is accepted, what is
refused and how (one OGC error body, nothing written), who may write what (issue 13)."""

import json

import pytest

from tsukuba_gis.store import open_store

ITEMS = "/internal/api/collections/shelters/items"
PATCH = {"Content-Type": "application/merge-patch+json"}
GEOJSON = {"Content-Type": "application/geo+json"}


@pytest.fixture(scope="module")
def shelters(edit_client, edit_staff):
    """Ids of sample shelters, each test takes its own."""
    page = edit_client.get(ITEMS, params={"limit": 40, "f": "json"}, auth=edit_staff.basic["bousai"]).json()
    return [f["id"] for f in page["features"]]


def read(client, auth, fid, items=ITEMS):
    response = client.get(f"{items}/{fid}", params={"f": "json"}, auth=auth)
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def patch(client, auth, fid, body, etag=None, items=ITEMS, headers=None):
    sent = {**PATCH, **({"If-Match": etag} if etag else {}), **(headers or {})}
    return client.patch(f"{items}/{fid}", content=json.dumps(body), headers=sent, auth=auth)


def refused(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "type", "description"} and "Traceback" not in response.text
    for word in words:
        assert word in body["description"], body
    return body


def changes(city, fid=None):
    return open_store(city.settings.store_url).changes("shelters", feature_id=fid)


def test_a_patch_is_saved_recorded_and_answered_with_the_new_etag(
    edit_client, edit_staff, edit_city, shelters
):
    auth, fid = edit_staff.basic["bousai"], shelters[0]
    feature, etag = read(edit_client, auth, fid)
    assert feature["properties"]["status"] == "未開設" and etag.startswith('"') and "." in etag
    assert edit_client.get(f"{ITEMS}/{fid}", headers={"If-None-Match": etag}, auth=auth).status_code == 304
    response = patch(edit_client, auth, fid, {"properties": {"status": "開設", "crowding": "空きあり"}}, etag)
    assert response.status_code == 200, response.text
    saved = response.json()["properties"]
    assert (saved["status"], saved["crowding"]) == ("開設", "空きあり")
    assert saved["updated_at"].endswith("+09:00") and response.headers["etag"] != etag
    assert response.headers["content-type"] == "application/geo+json"
    again, now = read(edit_client, auth, fid)
    assert now == response.headers["etag"] and again["properties"]["status"] == "開設"
    (change,) = changes(edit_city, fid)
    assert (change.user, change.department, change.via, change.kind) == (
        "kato-bousai",
        "disaster",
        "basic",
        "modify",
    )
    assert change.before["status"] == "未開設" and change.after["status"] == "開設"
    audit = (edit_city.data_dir / "audit.log").read_text(encoding="utf-8").splitlines()
    line = json.loads(next(a for a in reversed(audit) if '"PATCH"' in a))
    assert (line["user"], line["departments"], line["status"]) == ("kato-bousai", ["disaster"], 200)


def test_a_stale_or_missing_if_match_writes_nothing(edit_client, edit_staff, edit_city, shelters):
    auth, fid = edit_staff.basic["bousai"], shelters[1]
    _, etag = read(edit_client, auth, fid)
    assert patch(edit_client, auth, fid, {"properties": {"status": "開設"}}, etag).status_code == 200
    refused(patch(edit_client, auth, fid, {"properties": {"status": "閉鎖"}}, etag), 412, "changed since")
    refused(patch(edit_client, auth, fid, {"properties": {"status": "閉鎖"}}), 428, "If-Match")
    refused(patch(edit_client, auth, fid, {"properties": {"status": "閉鎖"}}, "*"), 428, "If-Match")
    refused(patch(edit_client, auth, fid, {"properties": {"status": "閉鎖"}}, "W/" + etag), 412, "weak")
    refused(patch(edit_client, auth, fid, {"properties": {"status": "閉鎖"}}, '"nonsense"'), 400, "If-Match")
    refused(patch(edit_client, auth, fid, {"properties": {"status": "閉鎖"}}, '"99.1"'), 412, "reloaded")
    assert read(edit_client, auth, fid)[0]["properties"]["status"] == "開設"
    assert len(changes(edit_city, fid)) == 1


BAD_BODIES = [
    ({"properties": {"colour": "red"}}, "properties.colour: not a field"),
    ({"properties": {"name": "新しい名前"}}, "properties.name: not editable"),
    ({"properties": {"status": "営業中"}}, "properties.status: not one of the allowed values"),
    ({"properties": {"status": 3}}, "properties.status: must be text"),
    ({"properties": {"status_note": "あ" * 501}}, "properties.status_note: at most 500"),
    ({"properties": {"<script>": 1}}, "a property name: not a field"),
    ({"properties": None}, "properties: cannot be removed"),
    ({"geometry": None}, "geometry: cannot be removed"),
    ({"geometry": {"type": "Point", "coordinates": [139.69, 35.69]}}, "outside the city"),
    ({"geometry": {"type": "LineString", "coordinates": [[140.1, 36.1], [140.11, 36.1]]}}, "holds Point"),
    ({"geometry": {"type": "Point", "coordinates": ["x", 1]}}, "not a valid GeoJSON geometry"),
    ({"geometry": {"type": "Point", "coordinates": [400, 36]}}, "CRS84"),
    ({"id": "another"}, "id: differs"),
    ({"colour": "red"}, "colour: not a member"),
    ([1, 2], "must be a GeoJSON Feature"),
]


@pytest.mark.parametrize("body,words", BAD_BODIES)
def test_bad_bodies_are_400s_naming_the_member(edit_client, edit_staff, edit_city, shelters, body, words):
    auth, fid = edit_staff.basic["bousai"], shelters[2]
    _, etag = read(edit_client, auth, fid)
    refused(patch(edit_client, auth, fid, body, etag), 400, words)
    assert read(edit_client, auth, fid)[1] == etag and changes(edit_city, fid) == []


def test_bodies_that_are_not_json_of_the_right_type_or_size(edit_client, edit_staff, shelters):
    auth, fid = edit_staff.basic["bousai"], shelters[2]
    _, etag = read(edit_client, auth, fid)
    url = f"{ITEMS}/{fid}"
    headers = {"If-Match": etag}
    refused(
        edit_client.patch(url, content=b"{not json", headers={**headers, **PATCH}, auth=auth), 400, "JSON"
    )
    refused(
        edit_client.patch(url, content=b'{"a": NaN}', headers={**headers, **PATCH}, auth=auth), 400, "JSON"
    )
    deep = b"[" * 5000 + b"]" * 5000
    refused(edit_client.patch(url, content=deep, headers={**headers, **PATCH}, auth=auth), 400, "JSON")
    json_patch = {**headers, "Content-Type": "application/json-patch+json"}
    refused(edit_client.patch(url, content=b"[]", headers=json_patch, auth=auth), 415, "merge-patch")
    big = b'{"properties": {"status_note": "' + b"x" * 10_000_000 + b'"}}'
    refused(edit_client.patch(url, content=big, headers={**headers, **PATCH}, auth=auth), 413, "bytes")
    assert read(edit_client, auth, fid)[1] == etag


def test_departments_scopes_and_roles(edit_client, edit_staff, shelters):
    fid, basic = shelters[3], edit_staff.basic
    _, etag = read(edit_client, basic["bousai"], fid)
    body = {"properties": {"status": "満員"}}
    refused(
        patch(edit_client, basic["douro"], fid, body, etag),
        403,
        "ito-douro (roads) may not edit shelters",
        "disaster",
    )
    refused(patch(edit_client, basic["nashi"], fid, body, etag), 403, "no department")
    read_only = edit_staff.bearer("read")
    refused(patch(edit_client, None, fid, body, etag, headers=read_only), 403, "read-only")
    refused(patch(edit_client, None, fid, body, headers=edit_staff.bearer("edit")), 428)
    blind = patch(edit_client, None, fid, body, headers=edit_staff.bearer("edit-unconditional"))
    assert blind.status_code == 200, blind.text  # QGIS: no If-Match, still recorded
    admin = patch(edit_client, basic["kanri"], fid, {"properties": {"status": "開設"}}, blind.headers["etag"])
    assert admin.status_code == 200
    roads = "/internal/api/collections/road_areas/items"
    road = edit_client.get(roads, params={"limit": 1, "f": "json"}, auth=basic["douro"]).json()["features"][
        0
    ]["id"]
    _, road_etag = read(edit_client, basic["douro"], road, roads)
    closed = patch(
        edit_client, basic["douro"], road, {"properties": {"traffic": "通行止め"}}, road_etag, roads
    )
    assert closed.status_code == 200 and closed.json()["properties"]["traffic"] == "通行止め"
    refused(
        patch(
            edit_client,
            basic["bousai"],
            road,
            {"properties": {"traffic": "通行可"}},
            closed.headers["etag"],
            roads,
        ),
        403,
    )
    moved = {
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[140.1, 36.08], [140.101, 36.08], [140.101, 36.081], [140.1, 36.08]]],
        }
    }
    refused(
        patch(edit_client, basic["douro"], road, moved, closed.headers["etag"], roads), 400, "cannot be moved"
    )
    refused(
        edit_client.delete(
            f"{roads}/{road}", headers={"If-Match": closed.headers["etag"]}, auth=basic["douro"]
        ),
        405,
    )


def test_non_editable_layers_and_the_public_api_take_no_writes(edit_client, edit_staff, shelters):
    auth = edit_staff.basic["kanri"]
    boundary = "/internal/api/collections/city_boundary/items"
    response = refused(
        patch(edit_client, auth, "1", {"properties": {}}, '"1.1"', boundary), 405, "not editable"
    )
    assert response["code"] == "InvalidOperation"
    refused(patch(edit_client, auth, "1", {}, '"1.1"', "/internal/api/collections/nope/items"), 404)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        url = "/api/collections/shelters/items" + ("" if method == "POST" else f"/{shelters[0]}")
        public = edit_client.request(method, url, content=b"{}", headers=GEOJSON)
        refused(public, 405)
        assert "PATCH" not in public.headers.get("allow", "")


def test_csrf_and_origin_on_the_session_cookie_path(edit_city, edit_staff, shelters):
    from fastapi.testclient import TestClient

    from server.app import create_app

    settings = edit_city.settings.model_copy(update={"public_url": "http://testserver"})
    with TestClient(create_app(settings, edit_city.auth), raise_server_exceptions=False) as browser:
        login = browser.post(
            "/auth/login", json={"username": "kato-bousai", "password": edit_staff.basic["bousai"][1]}
        )
        csrf, fid = login.json()["csrf_token"], shelters[4]
        _, etag = read(browser, None, fid)
        body = {"properties": {"status": "開設"}}
        refused(patch(browser, None, fid, body, etag), 403, "X-CSRF-Token")
        evil = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        refused(patch(browser, None, fid, body, etag, headers=evil), 403, "cross-origin")
        ok = patch(
            browser, None, fid, body, etag, headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"}
        )
        assert ok.status_code == 200, ok.text


def test_create_replace_delete_and_their_answers(edit_client, edit_staff, edit_city):
    auth = edit_staff.basic["bousai"]
    new = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [140.1123, 36.0835]},
        "properties": {"common_id": "TEMP-0001", "name": "臨時避難所（テスト）", "status": "開設"},
    }
    created = edit_client.post(ITEMS, content=json.dumps(new), headers=GEOJSON, auth=auth)
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith("/internal/api/collections/shelters/items/TEMP-0001")
    assert created.json()["properties"]["status"] == "開設" and created.headers["etag"]
    refused(edit_client.post(ITEMS, content=json.dumps(new), headers=GEOJSON, auth=auth), 409)
    nameless = {**new, "properties": {"status": "開設"}}
    refused(
        edit_client.post(ITEMS, content=json.dumps(nameless), headers=GEOJSON, auth=auth),
        400,
        "properties.name",
    )
    feature, etag = read(edit_client, auth, "TEMP-0001")
    replaced = {**feature, "properties": {**feature["properties"], "status": "満員"}}
    put = edit_client.put(
        f"{ITEMS}/TEMP-0001", content=json.dumps(replaced), headers={**GEOJSON, "If-Match": etag}, auth=auth
    )
    assert put.status_code == 200 and put.json()["properties"]["status"] == "満員"
    assert put.json()["properties"]["crowding"] is None  # PUT: editable fields left out are emptied
    gone = edit_client.delete(f"{ITEMS}/TEMP-0001", headers={"If-Match": put.headers["etag"]}, auth=auth)
    assert gone.status_code == 204
    assert edit_client.get(f"{ITEMS}/TEMP-0001", params={"f": "json"}, auth=auth).status_code == 404
    kinds = [c.kind for c in changes(edit_city, "TEMP-0001")]
    assert kinds == ["add", "modify", "delete"]


def test_options_say_what_the_caller_may_do(edit_client, edit_staff, shelters):
    item = f"{ITEMS}/{shelters[0]}"
    bousai = edit_client.options(item, auth=edit_staff.basic["bousai"])
    assert bousai.status_code == 204 and set(bousai.headers["allow"].split(", ")) >= {
        "PUT",
        "PATCH",
        "DELETE",
    }
    assert bousai.headers["accept-patch"] == "application/merge-patch+json"
    assert "POST" in edit_client.options(ITEMS, auth=edit_staff.basic["bousai"]).headers["allow"]
    for who in (edit_staff.basic["douro"], None):
        headers = edit_staff.bearer("read") if who is None else {}
        assert edit_client.options(item, auth=who, headers=headers).headers["allow"] == "GET, HEAD, OPTIONS"
