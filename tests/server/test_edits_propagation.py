"""An edit reaches every public answer within seconds, on both stores (in one process; the test
over real worker processes and open data is test_edits_live.py), and only the staff side
documents writes."""

import json
import time

import mapbox_vector_tile
import morecantile

ITEMS = "/internal/api/collections/shelters/items"
TMS = morecantile.tms.get("WebMercatorQuad")
DEADLINE_S = 5.0


def until(check, deadline: float = DEADLINE_S):
    """Poll ``check()`` until it returns something truthy, at most ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        found = check()
        if found or time.monotonic() > end:
            return found
        time.sleep(0.1)


def open_shelter(client, staff, fid: str, status: str = "開設") -> dict:
    auth = staff.basic["bousai"]
    etag = client.get(f"{ITEMS}/{fid}", params={"f": "json"}, auth=auth).headers["etag"]
    body = json.dumps({"properties": {"status": status}})
    response = client.patch(
        f"{ITEMS}/{fid}",
        content=body,
        auth=auth,
        headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def tile_status(client, fid: str, lon: float, lat: float, z: int = 14) -> tuple[str | None, str]:
    t = TMS.tile(lon, lat, z)
    response = client.get(f"/api/collections/shelters/tiles/WebMercatorQuad/{z}/{t.y}/{t.x}")
    assert response.status_code == 200, response.text
    layer = mapbox_vector_tile.decode(response.content)["shelters"]
    found = [
        f["properties"].get("status") for f in layer["features"] if f["properties"].get("common_id") == fid
    ]
    return (found[0] if found else None), response.headers["etag"]


def test_an_edit_reaches_items_tiles_point_and_live_within_seconds(edit_client, edit_staff, edit_app):
    client = edit_client
    public = client.get("/api/collections/shelters/items", params={"limit": 100, "f": "json"}).json()
    target = public["features"][10]
    fid, (lon, lat) = target["id"], target["geometry"]["coordinates"]
    status, tile_etag = tile_status(client, fid, lon, lat)
    far = next(f for f in public["features"] if abs(f["geometry"]["coordinates"][0] - lon) > 0.05)
    _, far_etag = tile_status(client, far["id"], *far["geometry"]["coordinates"])
    api_before = edit_app.state.snapshots.get("public").api.api
    assert client.get("/live.json").json()["disaster_mode"]["active"] is False
    assert status == "未開設"
    open_shelter(client, edit_staff, fid)

    def item_open():
        response = client.get(f"/api/collections/shelters/items/{fid}", params={"f": "json"})
        return response.json()["properties"]["status"] == "開設" and response

    item = until(item_open)
    assert item and item.headers["cache-control"] == "public, no-cache"
    new_status, new_etag = until(lambda: (s := tile_status(client, fid, lon, lat))[0] == "開設" and s) or (
        None,
        None,
    )
    assert new_status == "開設" and new_etag != tile_etag
    assert tile_status(client, far["id"], *far["geometry"]["coordinates"])[1] == far_etag  # untouched tile
    live = client.get("/live.json").json()
    assert live["disaster_mode"]["active"] and live["layers"]["shelters"]["edit_seq"] >= 1
    answer = client.get("/point", params={"lat": lat + 0.001, "lon": lon})
    # Not kept a minute by the phone or a CDN: the shelters are edited live.
    assert answer.headers["cache-control"] == "public, no-cache"
    report = answer.json()
    assert report["disaster_mode"] is True
    group = next(g for g in report["nearest"] if g["layer"] == "shelters")
    assert (
        group["open_only"] and group["features"][0]["id"] == fid and group["features"][0]["status"] == "開設"
    )
    assert all(f["status"] in ("開設", "満員") for f in group["features"])
    # Only the edit changed: the public API object (0.5 s to make) was kept, not rebuilt.
    assert edit_app.state.snapshots.get("public").api.api is api_before
    found = client.get("/search", params={"q": target["properties"]["name"]}).json()["results"]
    assert any(
        r.get("id") == fid or r.get("name", "").startswith(target["properties"]["name"]) for r in found
    )


def test_writes_are_documented_and_declared_on_the_staff_side_only(edit_client, edit_staff):
    auth = edit_staff.basic["bousai"]
    staff = edit_client.get("/internal/api/openapi", params={"f": "json"}, auth=auth).json()
    item = staff["paths"]["/collections/shelters/items/{featureId}"]
    assert {"put", "patch", "delete"} <= set(item) and "post" in staff["paths"]["/collections/shelters/items"]
    assert {"412", "428", "403", "413"} <= set(item["patch"]["responses"])
    assert item["patch"]["requestBody"]["content"]["application/merge-patch+json"]
    assert any(p["name"] == "If-Match" for p in item["patch"]["parameters"])
    roads = staff["paths"]["/collections/road_areas/items/{featureId}"]
    assert "delete" not in roads and "post" not in staff["paths"]["/collections/road_areas/items"]
    assert not {"put", "patch", "delete", "post"} & set(
        staff["paths"]["/collections/city_boundary/items/{featureId}"]
    )
    public = edit_client.get("/api/openapi", params={"f": "json"}).json()
    for path, operations in public["paths"].items():
        assert not {"post", "put", "patch", "delete"} & set(operations), path
    part4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/"
    staff_classes = edit_client.get("/internal/api/conformance", params={"f": "json"}, auth=auth).json()[
        "conformsTo"
    ]
    assert {
        part4 + c for c in ("create-replace-delete", "update", "features", "optimistic-locking-etags")
    } <= set(staff_classes)
    public_classes = edit_client.get("/api/conformance", params={"f": "json"}).json()["conformsTo"]
    assert not [c for c in public_classes if "features-4" in c]


def test_no_editor_name_reaches_the_public_side(edit_client, edit_staff):
    public = edit_client.get("/api/collections/shelters/items", params={"limit": 100, "f": "json"}).json()
    open_shelter(edit_client, edit_staff, public["features"][20]["id"], "満員")
    time.sleep(1.1)
    for url in (
        "/live.json",
        "/api/collections/shelters/items?limit=200&f=json",
        "/api/collections/shelters/items?f=html",
        "/point?lat=36.08&lon=140.11",
        "/viewer-config.json",
        "/api/openapi?f=json",
    ):
        text = edit_client.get(url).text
        for secret in ("kato-bousai", "ito-douro", "sato-kanri", "disaster (", '"editable"', "updated_field"):
            assert secret not in text, (secret, url)
