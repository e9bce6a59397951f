"""An ETL reload of an editable layer and the live edits made since, on both stores (issue 13):
``keep_live`` keeps live fields by id and staff-added features; ``source_wins`` starts from the
source; either way the report has a line for every edit the source replaced."""

import json

import pytest
import shapely
from editcity import schema_url

from etl.runner import run_etl
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import Query, open_store
from tsukuba_gis.store.base import Editor, EditRequest

LAYER = """\
title: {ja: 地点, en: Sites}
description: {ja: 編集できる地点, en: Editable sites}
license:
  attribution: {ja: テスト, en: Test}
source: {path: sites.csv, crs: "EPSG:6668", lat: lat, lon: lon}
geometry: point
id_field: site_id
title_field: name
fields:
  - {name: site_id, label: {ja: ID, en: ID}, required: true}
  - {name: name, label: {ja: 名称, en: Name}}
  - {name: note, label: {ja: 備考, en: Note}}
  - {name: status, live: true, value: 閉, values: [閉, 開], label: {ja: 状態, en: Status}}
  - {name: updated_at, live: true, label: {ja: 更新, en: Updated}}
editable:
  fields: [status, note]
  updated_field: updated_at
  reload: RULE
"""
STAFF = Editor("kato-bousai", "test", "session")


def city(root, store: str, rule: str) -> Settings:
    (root / "layers/test").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "layers/test/_department.yaml").write_text("name: {ja: テスト, en: Test}\n", encoding="utf-8")
    (root / "layers/test/sites.yaml").write_text(LAYER.replace("RULE", rule), encoding="utf-8")
    hand_over(root, {"S1": "一", "S2": "二", "S3": "三", "S4": "四"})
    return Settings(
        data_dir=root / "data", store=store or None, layers_dir=root / "layers", sources_dir=root / "sources"
    )


def hand_over(root, names: dict[str, str]) -> None:
    lines = ["site_id,name,note,lat,lon"]
    lines += [f"{i},{name},原本,36.0{n},140.1{n}" for n, (i, name) in enumerate(names.items(), start=1)]
    (root / "sources/sites.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def edit(store, kind, fid, **kwargs):
    return store.edit(store.current("sites"), EditRequest(kind, fid, STAFF, **kwargs))


def rows(store) -> dict[str, dict]:
    record = store.current("sites")
    page = store.query(record, Query(limit=100))
    return {
        fid: {**p, "xy": shapely.from_wkb(w).coords[0]}
        for fid, p, w in zip(page.ids, page.properties, page.wkb, strict=True)
    }


def load(settings: Settings, force: bool = True):
    report = run_etl(settings, ["sites"], force=force, quiet=True)
    assert report.ok, [(r.layer_id, r.error) for r in report.layers]
    return report.layers[0]


@pytest.fixture(params=["gpkg", "postgis"])
def store_url(request) -> str:
    return "" if request.param == "gpkg" else schema_url(request.getfixturevalue("postgis_test_db"))


def staff_edits(store) -> None:
    edit(
        store, "modify", "S1", properties={"status": "開"}, stamp=("updated_at", "2026-12-01T10:00:00+09:00")
    )
    edit(store, "modify", "S2", properties={"note": "職員の備考"})
    edit(store, "modify", "S3", geometry=shapely.Point(140.2, 36.2).wkb)
    edit(store, "delete", "S4")
    edit(
        store,
        "add",
        "T1",
        properties={"name": "臨時", "status": "開"},
        geometry=shapely.Point(140.15, 36.05).wkb,
    )


def test_keep_live_keeps_live_values_and_added_features_and_reports_the_rest(tmp_path, store_url):
    settings = city(tmp_path, store_url, "keep_live")
    load(settings)
    store = open_store(settings.store_url)
    staff_edits(store)
    hand_over(tmp_path, {"S1": "一（改）", "S2": "二", "S3": "三", "S4": "四"})
    report = load(settings, force=False)  # the source changed: a reload
    now = rows(store)
    assert set(now) == {"S1", "S2", "S3", "S4", "T1"} and store.current("sites").version == 2
    assert (now["S1"]["status"], now["S1"]["updated_at"], now["S1"]["name"]) == (
        "開",
        "2026-12-01T10:00:00+09:00",
        "一（改）",
    )
    assert now["S2"]["note"] == "原本" and now["S3"]["xy"] == pytest.approx((140.13, 36.03))
    assert now["T1"]["name"] == "臨時" and now["T1"]["status"] == "開"
    assert now["S4"]["status"] == "閉"  # restored by the source, with the live default
    live = report.live
    assert live["rule"] == "keep_live" and live["from_version"] == 1 and live["edited_features"] == 5
    text = "\n".join(live["lines"])
    assert "S2: note '職員の備考' (edited, change #" in text and "-> '原本' from the source" in text
    assert "S4: deleted by staff" in text and "restored by the source" in text
    assert "S3: position (moved by staff" in text
    assert "T1: added by staff, not in the source: kept in the new version" in text
    assert live["counts"]["features keeping their live values"] == 3  # S4 was deleted
    saved = json.loads((settings.data_dir / "report.json").read_text(encoding="utf-8"))
    assert saved["layers"][0]["live"]["lines"] == live["lines"]
    assert "職員による更新の扱い" in (settings.data_dir / "report.html").read_text(encoding="utf-8")
    assert len(store.changes("sites")) == 5  # the history stays
    again = load(settings)  # a second reload: T1 is carried again, the live values kept again
    assert set(rows(store)) == {"S1", "S2", "S3", "S4", "T1"} and rows(store)["S1"]["status"] == "開"
    assert again.live["edited_features"] == 0


def test_source_wins_starts_from_the_source_and_says_what_went(tmp_path, store_url):
    settings = city(tmp_path, store_url, "source_wins")
    load(settings)
    store = open_store(settings.store_url)
    staff_edits(store)
    report = load(settings)
    now = rows(store)
    assert (
        set(now) == {"S1", "S2", "S3", "S4"}
        and now["S1"]["status"] == "閉"
        and now["S1"]["updated_at"] is None
    )
    text = "\n".join(report.live["lines"])
    assert (
        "S1: status '開'" in text and "T1: added by staff, not in the source: not in the new version" in text
    )


def test_an_unchanged_source_is_skipped_and_the_edits_stay(tmp_path, store_url):
    settings = city(tmp_path, store_url, "keep_live")
    load(settings)
    store = open_store(settings.store_url)
    edit(store, "modify", "S1", properties={"status": "開"})
    assert load(settings, force=False).status == "skipped"
    assert rows(store)["S1"]["status"] == "開" and store.current("sites").version == 1
