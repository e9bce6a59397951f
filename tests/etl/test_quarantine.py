"""Quarantine, not loss: each reject is kept with file, row, attributes, reason and geometry."""

import csv
import json

from handover import POINTS, entry, write_csv


def _handover(project):
    rows = [
        ["番号", "名称", "区分", "緯度", "経度"],
        ["1", "桜中学校", "学校", POINTS[0][1], POINTS[0][0]],
        ["2", "座標なし", "学校", "", ""],  # no coordinates
        ["3", "入れ替え", "学校", POINTS[1][0], POINTS[1][1]],  # lat/lon swapped
        ["1", "重複", "学校", POINTS[2][1], POINTS[2][0]],  # duplicate id
        ["5", "", "学校", POINTS[2][1], POINTS[2][0]],  # required name empty
        ["6", "吾妻小学校", "学校", POINTS[2][1], POINTS[2][0]],
    ]
    write_csv(project.sources / "sites.csv", rows)
    project.define(
        "sites", {"path": "sites.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度"}, id_field="site_id"
    )


REASONS = {
    2: "no coordinates",
    3: "look swapped",
    4: "duplicate site_id '1' (first at sites.csv row 1)",
    5: "required field(s) empty: name",
}


def test_rejects_go_to_the_store_with_everything(project):
    _handover(project)
    result = entry(project.run("sites"), "sites")
    assert (result.status, result.read, result.loaded, result.rejected) == ("loaded", 6, 2, 4)
    rejects = {r.row: r for r in project.store().rejects("sites", result.version)}
    assert sorted(rejects) == [2, 3, 4, 5]
    for row, reason in REASONS.items():
        assert reason in rejects[row].reason and rejects[row].source == "sites.csv"
    assert rejects[3].attributes == {
        "番号": "3",
        "名称": "入れ替え",
        "区分": "学校",
        "緯度": str(POINTS[1][0]),
        "経度": str(POINTS[1][1]),
    }
    assert rejects[2].geometry_wkt is None and rejects[4].geometry_wkt.startswith("POINT (140.09")
    assert project.store().current("sites").rejected_count == 4


def test_rejects_are_written_next_to_the_report(project):
    _handover(project)
    result = entry(project.run("sites"), "sites")
    folder = project.settings.data_dir / "rejects"
    collection = json.loads((folder / "sites.geojson").read_text(encoding="utf-8"))
    assert collection["version"] == result.version and collection["type"] == "FeatureCollection"
    by_row = {f["properties"]["_row"]: f for f in collection["features"]}
    assert sorted(by_row) == [2, 3, 4, 5]
    assert by_row[2]["geometry"] is None
    assert by_row[3]["geometry"]["coordinates"] == [POINTS[1][1], POINTS[1][0]]  # as handed over
    duplicate = by_row[4]["properties"]
    assert duplicate["名称"] == "重複" and "duplicate" in duplicate["_reason"]
    raw = (folder / "sites.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM correctly
    table = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert [int(r["row"]) for r in table] == [2, 3, 4, 5]
    assert table[0]["source"] == "sites.csv" and "no coordinates" in table[0]["reason"]
    assert table[3]["名称"] == "" and table[2]["geometry_wkt"].startswith("POINT")
    html = (project.settings.data_dir / "report.html").read_text(encoding="utf-8")
    assert "読込 6 = 登録 2 + 除外 4" in html and 'href="rejects/sites.csv"' in html


def test_quarantine_files_follow_the_current_version(project):
    _handover(project)
    project.run("sites")
    header = ["番号", "名称", "区分", "緯度", "経度"]
    first = ["1", "桜中", "学校", *POINTS[0][::-1]]
    write_csv(project.sources / "sites.csv", [header, first])
    result = entry(project.run("sites"), "sites")
    collection = json.loads((project.settings.data_dir / "rejects/sites.geojson").read_text(encoding="utf-8"))
    assert (collection["version"], collection["features"]) == (result.version, [])
