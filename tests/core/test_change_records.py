"""Change records (issue 16) through the Store interface, the same tests on both stores.

Every live edit and every version switch writes one record per changed feature in its own
transaction; records read back newest first for feeds (``before``) and oldest first for a
delivery cursor (``after``), by layer and area, and go after ``keep_days``.
"""

import pytest
import shapely
from test_store_contract import COLUMNS, META, POINTS, ROWS, frame, load

from etl.diff import VersionDiff
from etl.pipeline import DiffingWriter
from tsukuba_gis.store.base import ChangeRecord, Editor, EditRequest

BOUSAI = Editor("yamada", "disaster", "session")


def record(feature_id: str, lon: float, lat: float, at: str = "2026-12-01T00:00:00.000+00:00", **kw):
    values = {
        "layer_id": "sites",
        "version": 2,
        "feature_id": feature_id,
        "kind": "modified",
        "fields": {"name": ("a", "b")},
        "properties": {"code": feature_id, "name": "b"},
        "geometry_changed": False,
        "bounds": (lon, lat, lon, lat),
        "point": (lon, lat),
        "at": at,
        "cause": "etl:run-1",
    }
    return ChangeRecord(**{**values, **kw})


def reload(store, rows, geoms=POINTS, cause="etl:test"):
    """A new version written as the ETL does: compared chunk by chunk, records in the commit."""
    previous = store.current("sites")
    names = [c.name for c in COLUMNS]
    with store.writer("sites", COLUMNS, "point", id_column="code") as stored:
        writer = DiffingWriter(stored, VersionDiff(store, previous, names, "code", "name"))
        writer.append(frame(rows[:2], geoms[:2]))
        writer.append(frame(rows[2:], geoms[2:]))
        summary, records = writer.diff.finish(stored.version, cause, "2026-12-02T09:00:00.000+00:00")
        committed = writer.commit({**META, "change_records": records})
    return committed, summary


def test_a_version_switch_writes_one_record_per_changed_feature(store):
    load(store)
    rows = [dict(r) for r in ROWS[:4]] + [{"code": "A9", "name": "新設", "rank": 1}]
    rows[0]["name"] = "桜中学校（改築後）"
    geoms = POINTS[:4] + [shapely.Point(140.2, 36.2)]
    geoms[1] = shapely.Point(140.111, 36.061)
    record_v2, summary = reload(store, rows, geoms)
    assert (summary["added"], summary["removed"], summary["changed"], summary["unchanged"]) == (1, 1, 2, 2)
    found = {r.feature_id: r for r in store.change_records(after=0)}
    assert set(found) == {"A1", "A2", "A5", "A9"}
    a1 = found["A1"]
    assert a1.kind == "modified" and a1.fields == {"name": ("桜中学校", "桜中学校（改築後）")}
    assert not a1.geometry_changed and a1.point == pytest.approx((140.10, 36.05))
    assert a1.version == record_v2.version
    assert a1.properties["name"] == "桜中学校（改築後）" and a1.cause == "etl:test"
    assert found["A2"].geometry_changed and found["A2"].fields == {}
    assert found["A2"].bounds == pytest.approx((140.11, 36.06, 140.111, 36.061))
    assert found["A5"].kind == "removed" and found["A5"].fields["name"] == ("竹園", None)
    assert found["A9"].kind == "added" and found["A9"].properties["name"] == "新設"
    assert found["A9"].at == "2026-12-02T09:00:00.000+00:00"
    ids = [r.id for r in store.change_records(after=0)]
    assert ids == sorted(ids) and len(set(ids)) == 4


def test_a_staged_version_writes_no_record(store):
    load(store)
    load(store, make_current=False, change_records=[record("A1", 140.1, 36.05)])
    assert store.change_records(after=0) == []


def test_a_live_edit_writes_its_record_without_the_editor(store):
    current = load(store)
    store.edit(current, EditRequest("modify", "A2", BOUSAI, properties={"name": "開設"}))
    where = shapely.Point(140.3, 36.3).wkb
    add = EditRequest("add", "B1", BOUSAI, properties={"name": "仮設"}, geometry=where)
    store.edit(store.current("sites"), add)
    store.edit(store.current("sites"), EditRequest("delete", "A3", Editor("sato", None, "session")))
    modified, added, removed = store.change_records(after=0)
    assert (modified.kind, modified.feature_id) == ("modified", "A2")
    assert modified.fields == {"name": ("Zeta", "開設")}
    assert modified.cause == "edit:disaster" and "yamada" not in repr(modified)
    assert modified.point == pytest.approx((140.11, 36.06)) and modified.properties["code"] == "A2"
    assert not modified.geometry_changed
    assert (added.kind, added.point, added.geometry_changed) == ("added", (140.3, 36.3), True)
    assert (removed.kind, removed.cause, removed.properties["rank"]) == ("removed", "edit:admin", 1)


def test_records_read_by_layer_area_and_page(store):
    load(store)
    near = [record(f"N{i}", 140.10 + i * 0.001, 36.05) for i in range(5)]
    far = record("F1", 140.5, 36.5, layer_id="other")
    load(store, change_records=[*near, far])
    newest = store.change_records(before=10**12, limit=3)
    assert [r.feature_id for r in newest] == ["F1", "N4", "N3"]
    more = store.change_records(before=newest[-1].id, limit=3)
    assert [r.feature_id for r in more] == ["N2", "N1", "N0"]
    assert [r.feature_id for r in store.change_records(after=more[0].id)] == ["N3", "N4", "F1"]
    assert [r.feature_id for r in store.change_records(before=10**12, layers=["other"])] == ["F1"]
    assert store.change_records(before=10**12, layers=[]) == []
    box = store.change_records(before=10**12, bbox=(140.1015, 36.0, 140.1035, 36.1))
    assert [r.feature_id for r in box] == ["N3", "N2"]


def test_old_records_are_pruned(store):
    load(store)
    old = record("OLD", 140.1, 36.05, at="2020-01-01T00:00:00.000+00:00")
    load(store, change_records=[old, record("NEW", 140.1, 36.05, at="2999-01-01T00:00:00.000+00:00")])
    assert store.prune_change_records(30) == 1
    assert [r.feature_id for r in store.change_records(after=0)] == ["NEW"]


def test_a_rollback_writes_its_records_in_its_transaction(store):
    load(store)
    load(store, rows=ROWS[:3], geoms=POINTS[:3])
    store.activate("sites", 1, [record("A4", 140.13, 36.08, kind="added", version=1)])
    assert store.current("sites").version == 1
    assert [(r.feature_id, r.kind, r.version) for r in store.change_records(after=0)] == [("A4", "added", 1)]


def test_an_area_feed_of_several_layers_reads_the_geopackage_in_id_order(tmp_path):
    # bench/feeds.py: SQLite took the layer index for several layers and sorted every record
    # (a 500 m circle with a year of records: 100 ms); the id order stops at the page's end.
    from tsukuba_gis.store.gpkg import GeoPackageStore

    store = GeoPackageStore(str(tmp_path / "store.gpkg"))
    load(store, change_records=[record("N1", 140.1, 36.05), record("F1", 140.5, 36.5, layer_id="other")])
    where = f"{store._records_layer_term(2)} IN (?, ?) AND max_x >= ? AND min_x <= ? AND id < ?"
    plan = (
        store._reader()
        .execute(
            f"EXPLAIN QUERY PLAN SELECT id FROM tg_change_records WHERE {where} ORDER BY id DESC LIMIT 20",
            ("sites", "other", 140.0, 140.2, 10**12),
        )
        .fetchall()
    )
    assert not any("B-TREE" in row[3] for row in plan) and "tg_change_records_layer" not in str(plan)
    assert [r.feature_id for r in store.change_records(before=10**12, layers=["sites", "other"])] == [
        "F1",
        "N1",
    ]
