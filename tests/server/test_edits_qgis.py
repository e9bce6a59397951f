"""QGIS and the staff API's writes (issue 13).

Debian's python3-qgis (QGIS 3.22) reads the staff OAPIF with Basic credentials and sees an edit
made meanwhile; it has no OAPIF editing yet (that came with QGIS 3.34, qgis/QGIS#52504), which
the test checks, so the claim in the docs stays true. QGIS 3.34's editing requests are then
sent as QGIS sends them (qgsoapifprovider.cpp: OPTIONS on items and on one item, a merge-patch
PATCH without If-Match, a POST read back through its Location): they work with a token made
with ``--scope edit-unconditional`` and are refused (428) with an ``edit`` one.
"""

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

QGIS_PYTHON = "/usr/bin/python3"
ITEMS = "/internal/api/collections/shelters/items"
SCRIPT = r"""
import json, sys
from qgis.core import Qgis, QgsApplication, QgsVectorDataProvider, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
url, user, password, fid = sys.argv[1:5]
uri = f"url='{url}' typename='shelters' username='{user}' password='{password}'"
layer = QgsVectorLayer(uri, "shelters", "OAPIF")
caps = layer.dataProvider().capabilities() if layer.isValid() else 0
status = [f["status"] for f in layer.getFeatures() if f["common_id"] == fid]
print(json.dumps({
    "version": Qgis.QGIS_VERSION, "valid": layer.isValid(), "count": layer.featureCount(),
    "status": status,
    "can_change": bool(caps & QgsVectorDataProvider.ChangeAttributeValues),
    "can_add": bool(caps & QgsVectorDataProvider.AddFeatures),
}), flush=True)
import os
os._exit(0)  # QGIS 3.22 crashes in its own teardown after the work is done
"""


def qgis_reads(server_url: str, user: str, password: str, fid: str, tmp: Path) -> dict:
    if not Path(QGIS_PYTHON).exists() or subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"]).returncode:
        pytest.fail("Debian's python3-qgis is missing: run `make test-deps` (apt-get install python3-qgis)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp), "HOME": str(tmp)}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [QGIS_PYTHON, "-c", SCRIPT, f"{server_url}/internal/api", user, password, fid],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_qgis_reads_the_staff_api_and_sees_an_edit(edit_city, edit_staff, start_server, tmp_path):
    server = start_server(edit_city.data_dir, edit_city.env, timeout=120)
    user, password = edit_staff.basic["bousai"]
    with httpx.Client(base_url=server.url, timeout=30, headers=edit_staff.bearer("edit")) as client:
        fid = client.get(ITEMS, params={"limit": 1, "offset": 90, "f": "json"}).json()["features"][0]["id"]
        before = qgis_reads(server.url, user, password, fid, tmp_path)
        assert before["valid"] and before["count"] >= 114 and before["status"] == ["未開設"], before
        etag = client.get(f"{ITEMS}/{fid}", params={"f": "json"}).headers["etag"]
        body = json.dumps({"properties": {"status": "開設"}})
        patched = client.patch(
            f"{ITEMS}/{fid}",
            content=body,
            headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200
    after = qgis_reads(server.url, user, password, fid, tmp_path)
    assert after["status"] == ["開設"], after
    # QGIS 3.22 has no OAPIF editing (3.34 does): the docs name the version that edits.
    assert after["version"].startswith("3.22") and not after["can_change"] and not after["can_add"]


def test_qgis_334_editing_requests(edit_client, edit_staff, edit_city):
    blind, careful = edit_staff.bearer("edit-unconditional"), edit_staff.bearer("edit")
    allow = edit_client.options(ITEMS, headers=blind).headers["allow"]
    assert "POST" in allow  # QGIS enables editing only then
    fid = edit_client.get(ITEMS, params={"limit": 1, "offset": 95, "f": "json"}, headers=blind).json()[
        "features"
    ][0]["id"]
    one = edit_client.options(f"{ITEMS}/{fid}", headers=blind).headers["allow"]
    assert {"PUT", "PATCH", "DELETE"} <= set(one.split(", "))
    # changeAttributeValues(): PATCH {"properties": {changed only}}, merge-patch, no If-Match.
    body = json.dumps({"properties": {"status": "満員"}})
    patch = {"Content-Type": "application/merge-patch+json"}
    assert edit_client.patch(f"{ITEMS}/{fid}", content=body, headers={**careful, **patch}).status_code == 428
    done = edit_client.patch(f"{ITEMS}/{fid}", content=body, headers={**blind, **patch})
    assert done.status_code == 200 and done.json()["properties"]["status"] == "満員"
    # addFeatures(): POST the feature without "id"; the id is read from Location, then GET.
    new = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [140.105, 36.085]},
        "properties": {"name": "QGIS で追加（テスト）", "status": "開設", "common_id": None},
    }
    created = edit_client.post(
        ITEMS, content=json.dumps(new), headers={**blind, "Content-Type": "application/geo+json"}
    )
    assert created.status_code == 201, created.text
    new_id = created.headers["location"].rsplit("/items/", 1)[1]
    assert new_id.startswith("shelters-")  # made by the server: the id field was left empty
    assert edit_client.get(f"{ITEMS}/{new_id}", params={"f": "json"}, headers=blind).json()["properties"][
        "name"
    ]
