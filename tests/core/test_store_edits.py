"""Live edits through the Store interface, the same tests on both stores (issue 13).

Edits change the current version in place, each with a recorded change (who, when, before and
after), a per-version edit sequence, the tiles it touched and a new registry generation; an
edit against a stale revision or version changes nothing.
"""

import threading

import pytest
import shapely
from test_store_contract import COLUMNS, POINTS, ROWS, frame, load

from tsukuba_gis.errors import BadRequest, EditConflict, FeatureExists, FeatureNotFound, NotFound
from tsukuba_gis.store import Query
from tsukuba_gis.store.base import Editor, EditRequest

YAMADA = Editor("yamada", "disaster", "session")
NEAR = shapely.Point(140.101, 36.051).wkb


def modify(record, feature_id, expect=None, **properties):
    return EditRequest("modify", feature_id, YAMADA, properties=properties, expect=expect)


def props(store, record, feature_id):
    return store.get(store.current(record.layer_id), feature_id).properties[0]


def test_an_edit_changes_the_current_version_in_place_and_is_recorded(store):
    record = load(store)
    generation = store.generation()
    assert store.revision(record, "A1") == 1 and store.revision(record, "nope") is None
    result = store.edit(record, modify(record, "A1", expect=(1, 1), name="桜中学校（避難所）", rank=9))
    assert result.revision == 2 and result.etag == '"1.2"'
    assert result.record.version == 1 and result.record.edit_seq == 1 and result.record.edited_at
    assert store.generation() == generation + 1 and store.current("sites").edit_seq == 1
    assert store.history("sites") == [store.current("sites")]  # no new version
    assert props(store, record, "A1") == {**ROWS[0], "name": "桜中学校（避難所）", "rank": 9}
    change = result.change
    assert (change.kind, change.feature_id, change.seq, change.version) == ("modify", "A1", 1, 1)
    assert change.before == ROWS[0] and change.after["rank"] == 9
    assert change.changed_fields() == ["name", "rank"]
    assert (change.user, change.department, change.via, change.cause) == (
        "yamada",
        "disaster",
        "session",
        "edit",
    )
    assert (change.rev_before, change.rev_after) == (1, 2) and change.geometry_before is None
    assert change.bounds == pytest.approx((140.10, 36.05, 140.10, 36.05))
    assert store.changes("sites") == [change] and store.change(change.id) == change
    assert store.changes("sites", after=change.id) == [] and store.changes("other") == []


def test_a_stale_revision_or_version_changes_nothing(store):
    record = load(store)
    store.edit(record, modify(record, "A2", expect=(1, 1), name="first"))
    generation = store.generation()
    with pytest.raises(EditConflict, match="changed since"):
        store.edit(record, modify(record, "A2", expect=(1, 1), name="second"))
    with pytest.raises(EditConflict, match="reloaded"):
        store.edit(record, modify(record, "A2", expect=(7, 2), name="second"))
    assert props(store, record, "A2")["name"] == "first" and store.generation() == generation
    reloaded = load(store)  # a new version: edits against the old one are refused
    with pytest.raises(EditConflict, match="v2 is current"):
        store.edit(record, modify(record, "A2", name="third"))
    assert store.revision(reloaded, "A2") == 1 and len(store.changes("sites")) == 1


def test_add_move_and_delete_keep_count_bbox_and_rtree_right(store):
    record = load(store)
    far = shapely.Point(140.30, 36.20)
    added = store.edit(
        record, EditRequest("add", "A9", YAMADA, properties={"name": "新設", "open": True}, geometry=far.wkb)
    )
    assert added.change.kind == "add" and added.revision == 1 and added.change.geometry_after == far.wkb
    assert added.record.feature_count == 6 and added.record.bbox[2:] == pytest.approx((140.30, 36.20))
    now = store.current("sites")
    assert store.query(now, Query(bbox=(140.29, 36.19, 140.31, 36.21), limit=10)).ids == ["A9"]
    assert store.query(now, Query(limit=0)).number_matched == 6
    with pytest.raises(FeatureExists):
        store.edit(now, EditRequest("add", "A9", YAMADA, geometry=far.wkb))
    with pytest.raises(BadRequest, match="geometry"):
        store.edit(now, EditRequest("add", "A10", YAMADA))
    moved = store.edit(now, EditRequest("modify", "A9", YAMADA, geometry=NEAR, expect=(1, 1)))
    assert moved.change.geometry_before == far.wkb and moved.change.geometry_after == NEAR
    assert moved.change.bounds == pytest.approx((140.101, 36.051, 140.30, 36.20))
    now = store.current("sites")
    assert store.query(now, Query(bbox=(140.29, 36.19, 140.31, 36.21), limit=10)).ids == []
    assert "A9" in store.query(now, Query(bbox=(140.1005, 36.0505, 140.1015, 36.0515), limit=10)).ids
    gone = store.edit(now, EditRequest("delete", "A9", YAMADA, expect=(1, 2)))
    assert gone.revision == 0 and gone.change.before["name"] == "新設" and gone.change.after is None
    assert gone.record.feature_count == 5 and store.revision(gone.record, "A9") is None
    with pytest.raises(FeatureNotFound):
        store.edit(gone.record, EditRequest("delete", "A9", YAMADA))
    again = store.edit(gone.record, EditRequest("add", "A9", YAMADA, geometry=NEAR))
    assert again.revision == 3  # a re-added id continues its count: old ETags never match again
    assert [c.seq for c in store.changes("sites")] == [1, 2, 3, 4]


def test_nothing_to_change_records_nothing(store):
    record = load(store)
    same = store.edit(record, modify(record, "A1", expect=(1, 1), name=ROWS[0]["name"]))
    assert same.change is None and same.revision == 1 and store.changes() == []
    assert store.current("sites").edit_seq == 0


def test_the_stamp_is_set_only_when_something_changes(store):
    record = load(store)
    stamp = ("since", "2026-01-02")
    request = EditRequest("modify", "A3", YAMADA, properties={"name": "x"}, stamp=stamp)
    assert store.edit(record, request).change.after["since"] == "2026-01-02"
    unchanged = EditRequest("modify", "A3", YAMADA, properties={"name": "x"}, stamp=("since", "2027-01-01"))
    assert store.edit(record, unchanged).change is None
    assert props(store, record, "A3")["since"] == "2026-01-02"


def test_revert_restores_and_is_itself_a_change(store):
    record = load(store)
    first = store.edit(record, modify(record, "A4", name="one")).change
    second = store.edit(record, modify(record, "A4", name="two")).change
    with pytest.raises(EditConflict, match="changed again"):
        store.revert(first.id, Editor("admin"))  # A4 changed again after it
    undone = store.revert(second.id, Editor("admin", None, "cli"))
    assert undone.change.reverts == second.id and undone.change.cause == f"revert of #{second.id}"
    assert props(store, record, "A4")["name"] == "one"
    store.revert(first.id, Editor("admin"))
    assert props(store, record, "A4") == ROWS[3]
    added = store.edit(record, EditRequest("add", "B1", YAMADA, geometry=NEAR)).change
    store.revert(added.id, Editor("admin"))
    assert store.revision(store.current("sites"), "B1") is None
    deleted = store.edit(store.current("sites"), EditRequest("delete", "A5", YAMADA)).change
    store.revert(deleted.id, Editor("admin"))
    assert props(store, record, "A5") == ROWS[4]
    with pytest.raises(NotFound):
        store.revert(99_999, Editor("admin"))
    load(store)
    with pytest.raises(EditConflict, match="reload replaced"):
        store.revert(deleted.id, Editor("admin"))


def test_layers_without_id_column_edit_by_fid(store):
    with store.writer("plain", COLUMNS[:1], "point") as writer:
        writer.append(frame(ROWS[:3], POINTS[:3])[["code", "geometry"]])
        record = writer.commit({"source_checksum": "s", "definition_checksum": "d"})
    result = store.edit(record, EditRequest("modify", "2", YAMADA, properties={"code": "Z"}, expect=(1, 1)))
    assert result.change.feature_id == "2" and store.get(store.current("plain"), "2").properties == [
        {"code": "Z"}
    ]
    with pytest.raises(FeatureNotFound):
        store.edit(record, EditRequest("modify", "x", YAMADA, properties={"code": "Z"}))


def test_tile_seq_marks_only_the_tiles_an_edit_touched(store):
    from tsukuba_gis.tiles.grid import TMS

    record = load(store)
    first, last, between = (
        TMS.tile(140.10, 36.05, 14),
        TMS.tile(140.14, 36.09, 14),
        TMS.tile(140.12, 36.07, 14),
    )
    assert store.tile_seq(record, 14, first.x, first.y) == 0
    store.edit(record, modify(record, "A1", name="x"))
    store.edit(record, modify(record, "A5", name="y"))
    now = store.current("sites")
    assert store.tile_seq(now, 14, first.x, first.y) == 1 and store.tile_seq(now, 14, last.x, last.y) == 2
    assert store.tile_seq(now, 14, between.x, between.y) == 0
    assert store.tile_seq(now, 8, first.x >> 6, first.y >> 6) == 2  # one z8 tile holds both


def test_concurrent_edits_of_one_feature_one_wins_the_other_conflicts(store):
    record = load(store)
    results: list[str] = []
    barrier = threading.Barrier(8)

    def editor(n: int) -> None:
        barrier.wait()
        try:
            store.edit(record, modify(record, "A1", expect=(1, 1), name=f"editor {n}"))
            results.append("won")
        except EditConflict:
            results.append("412")

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["412"] * 7 + ["won"]
    changes = store.changes("sites")
    assert len(changes) == 1 and props(store, record, "A1")["name"] == changes[0].after["name"]
