"""The Store interface, the same tests on every backend: GeoPackage and PostGIS.

Each test gets an empty store (``make_store``/``store`` in conftest.py): a fresh GeoPackage file,
or a fresh schema (an "environment") in the session's PostGIS database.
"""

import geopandas as gpd
import pytest
import shapely

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import Column, Query, Reject, Store

COLUMNS = [
    Column("code", "string"),
    Column("name", "string"),
    Column("rank", "integer"),
    Column("depth", "number"),
    Column("open", "boolean"),
    Column("since", "date"),
]
META = {"source_checksum": "s" * 64, "definition_checksum": "d" * 64, "title": "テスト"}


def frame(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    """Published columns (missing ones None) and lon/lat geometries."""
    data = {c.name: [r.get(c.name) for r in rows] for c in COLUMNS}
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


ROWS = [
    {"code": "A1", "name": "桜中学校", "rank": 3, "depth": 0.1, "open": True, "since": "2020-04-01"},
    {"code": "A2", "name": "Zeta", "rank": None, "depth": 2.5, "open": False, "since": None},
    {"code": "A3", "name": None, "rank": 1, "depth": None, "open": None, "since": "1999-12-31"},
    {"code": "A4", "name": "alpha", "rank": 3, "depth": -1.0, "open": True, "since": "2001-01-01"},
    {"code": "A5", "name": "竹園", "rank": 2, "depth": 1e-9, "open": False, "since": "2020-04-01"},
]
POINTS = [shapely.Point(140.10 + i * 0.01, 36.05 + i * 0.01) for i in range(len(ROWS))]


def load(
    store: Store,
    rows=ROWS,
    geoms=POINTS,
    layer="sites",
    geometry="point",
    make_current=True,
    rejects=(),
    chunks=2,
    **meta,
):
    """Write one version in ``chunks`` appends; its record."""
    with store.writer(layer, COLUMNS, geometry, id_column="code") as writer:
        step = -(-len(rows) // chunks)
        for i in range(0, len(rows), step):
            writer.append(frame(rows[i : i + step], geoms[i : i + step]))
        if rejects:
            writer.reject(list(rejects))
        return writer.commit({**META, **meta}, make_current=make_current)


def test_an_empty_store_has_nothing_and_migrates_once(store):
    assert store.layers() == [] and store.generation() == 0 and store.current("sites") is None
    assert store.migrate() != []
    assert store.migrate() == []
    assert store.layers() == [] and store.generation() == 0


def test_commit_records_and_reads_back_typed_values(store):
    rejects = [
        Reject("a.csv", 7, "no coordinates", {"名称": "流星台", "x": None}),
        Reject("a.csv", 9, "outside Japan", {"名称": "x"}, "POINT (0 0)"),
    ]
    record = load(store, rejects=rejects)
    assert (record.layer_id, record.version, record.current) == ("sites", 1, True)
    assert (record.feature_count, record.rejected_count) == (5, 2)
    assert record.columns == tuple(COLUMNS) and record.id_column == "code"
    assert record.bbox == pytest.approx((140.10, 36.05, 140.14, 36.09))
    assert record.source_checksum == "s" * 64 and record.loaded_at.endswith("+00:00")
    assert store.layers() == [record] and store.current("sites") == record
    assert store.history("sites") == [record] and store.version("sites", 1) == record
    assert store.rejects("sites", 1) == rejects
    page = store.query(record, Query(limit=10))
    assert page.ids == ["A1", "A2", "A3", "A4", "A5"] and page.number_matched == 5
    assert page.properties == ROWS  # str, int, float, bool, ISO date text, None: as written
    assert [shapely.from_wkb(w) for w in page.wkb] == POINTS
    assert store.get(record, "A4").properties == [ROWS[3]]
    assert store.get(record, "nope").ids == []


def test_iter_frames_gives_every_feature_in_order(store):
    record = load(store)
    frames = list(store.iter_frames(record, chunk_size=2))
    assert [len(f) for f in frames] == [2, 2, 1]
    whole = gpd.pd.concat(frames)
    assert list(whole.index) == [1, 2, 3, 4, 5] and whole.index.name == "fid"
    assert list(whole.geometry) == POINTS and whole.crs == "EPSG:4326"
    for column in COLUMNS:
        assert [None if gpd.pd.isna(v) else v for v in whole[column.name]] == [r[column.name] for r in ROWS]


def test_iter_frames_reads_only_the_columns_asked(store):
    record = load(store)
    last = COLUMNS[-1].name
    (frame,) = store.iter_frames(record, columns=[last, "not_a_column"])
    assert list(frame.columns) == [last, "geometry"] and list(frame.index) == [1, 2, 3, 4, 5]
    assert [None if gpd.pd.isna(v) else v for v in frame[last]] == [r[last] for r in ROWS]
    assert list(frame.geometry) == POINTS


def test_iter_frames_with_a_bbox_reads_only_the_features_around_it_in_order(store):
    """What a live edit's tile rebuild reads: the features whose box meets the area, by the
    spatial index, not the whole layer."""
    record = load(store)
    # POINTS are 0.01 degrees apart: this box holds the second, third and fourth
    (frame,) = store.iter_frames(record, columns=["code"], bbox=(140.105, 36.055, 140.135, 36.085))
    assert list(frame.index) == [2, 3, 4] and list(frame["code"]) == ["A2", "A3", "A4"]
    assert list(frame.geometry) == POINTS[1:4] and frame.crs == "EPSG:4326"
    assert list(store.iter_frames(record, bbox=(139.0, 35.0, 139.1, 35.1))) == []


def test_nothing_is_visible_before_commit_and_an_error_discards_the_version(store):
    first = load(store)
    generation = store.generation()
    with pytest.raises(RuntimeError):
        with store.writer("sites", COLUMNS, "point", id_column="code") as writer:
            writer.append(frame(ROWS[:2], POINTS[:2]))
            writer.reject([Reject("a.csv", 1, "bad", {})])
            # Another reader, meanwhile: still the old version, whole.
            assert store.current("sites") == first and store.generation() == generation
            assert store.query(first, Query(limit=10)).number_matched == 5
            raise RuntimeError("the ETL failed half-way")
    assert store.history("sites") == [first] and store.generation() == generation
    again = load(store, rows=ROWS[:1], geoms=POINTS[:1])
    assert again.version == 2 and store.rejects("sites", 2) == []


def test_a_new_version_replaces_the_old_one_at_commit_only(store):
    old = load(store)
    with store.writer("sites", COLUMNS, "point", id_column="code") as writer:
        writer.append(frame(ROWS[:3], POINTS[:3]))
        assert store.query(store.current("sites"), Query(limit=10)).ids == ["A1", "A2", "A3", "A4", "A5"]
        new = writer.commit(META)
    assert store.current("sites") == new and new.version == 2 and new.feature_count == 3
    assert store.query(new, Query(limit=10)).ids == ["A1", "A2", "A3"]
    assert [r.current for r in store.history("sites")] == [True, False]
    assert store.query(old, Query(limit=10)).number_matched == 5  # kept for rollback


def test_staged_versions_rollback_and_activate(store):
    load(store)
    staged = load(store, rows=ROWS[:2], geoms=POINTS[:2], make_current=False)
    assert not staged.current and store.current("sites").version == 1
    generation = store.generation()
    assert store.activate("sites", 2).current
    assert store.current("sites").version == 2 and store.generation() == generation + 1
    assert store.activate("sites", 1).feature_count == 5
    with pytest.raises(StoreError, match="no version 9"):
        store.activate("sites", 9)


def test_only_keep_versions_are_kept_with_their_rejects(make_store):
    store = make_store(keep_versions=2)
    for n in range(1, 5):
        load(store, rows=ROWS[:n], geoms=POINTS[:n], rejects=[Reject("a", n, "bad", {})])
    assert [r.version for r in store.history("sites")] == [4, 3]
    assert store.rejects("sites", 1) == [] and len(store.rejects("sites", 3)) == 1
    assert store.generation() == 4


def test_explicit_version_and_load_time_for_store_copies(store):
    record = load(store, loaded_at="2024-06-01T09:30:00+00:00", duration_s=1.5)
    assert record.version == 1
    with pytest.raises(StoreError, match="already has v1"):
        store.writer("sites", COLUMNS, "point", version=1)
    with store.writer("sites", COLUMNS, "point", id_column="code", version=7) as writer:
        writer.append(frame(ROWS, POINTS))
        copied = writer.commit({**META, "loaded_at": "2024-06-01T09:30:00+00:00", "duration_s": 1.5})
    assert (copied.version, copied.loaded_at, copied.duration_s) == (7, "2024-06-01T09:30:00+00:00", 1.5)


def test_equals_filters_each_type(store):
    record = load(store)

    def ids(*equals):
        page = store.query(record, Query(equals=equals, limit=10))
        assert page.number_matched == len(page.ids)
        return page.ids

    assert ids(("name", "桜中学校")) == ["A1"]
    assert ids(("rank", 3)) == ["A1", "A4"]
    assert ids(("depth", 2.5)) == ["A2"]
    assert ids(("open", 1)) == ["A1", "A4"] and ids(("open", 0)) == ["A2", "A5"]
    assert ids(("since", "2020-04-01"), ("rank", 2)) == ["A5"]
    assert ids(("since", "not a date")) == []
    with pytest.raises(ValueError, match="unknown properties"):
        store.query(record, Query(equals=(("secret", 1),)))


def test_sortby_is_byte_order_with_nulls_first_and_fid_ties(store):
    record = load(store)

    def order(*sortby):
        return store.query(record, Query(sortby=sortby, limit=10)).ids

    # Byte (code point) order, whatever the database collation: ASCII < kana/kanji.
    assert order(("name", True)) == ["A3", "A2", "A4", "A1", "A5"]  # None Zeta alpha 桜 竹
    assert order(("name", False)) == ["A5", "A1", "A4", "A2", "A3"]
    assert order(("rank", True)) == ["A2", "A3", "A5", "A1", "A4"]
    assert order(("rank", False), ("code", False)) == ["A4", "A1", "A5", "A3", "A2"]
    assert order(("open", True), ("depth", True)) == ["A3", "A5", "A2", "A4", "A1"]
    with pytest.raises(ValueError, match="unknown properties"):
        store.query(record, Query(sortby=(("secret", True),)))


def test_pages_select_and_skip_geometry(store):
    record = load(store)
    page = store.query(record, Query(offset=3, limit=2, select=("name",), skip_geometry=True))
    assert page.ids == ["A4", "A5"] and page.number_matched == 5
    assert page.properties == [{"name": "alpha"}, {"name": "竹園"}] and page.wkb == [None, None]
    beyond = store.query(record, Query(offset=10, limit=2))
    assert beyond.ids == [] and beyond.number_matched == 5
    hits = store.query(record, Query(limit=0, bbox=(140.0, 36.0, 140.125, 36.075)))
    assert hits.ids == [] and hits.number_matched == 3


def test_pages_of_one_shape_with_other_values_and_of_other_shapes_answer_each_their_own(store):
    """PostGIS keeps a page's composed statement per shape (columns, where, order): the values
    are parameters, and a different shape is a different statement."""
    record = load(store)
    for code, name in (("A1", "桜中学校"), ("A4", "alpha"), ("A5", "竹園")):
        page = store.query(record, Query(equals=(("code", code),), select=("name",), limit=10))
        assert page.ids == [code] and page.properties == [{"name": name}]
    assert store.query(record, Query(equals=(("code", "A1"),), select=("rank",), limit=10)).properties == [
        {"rank": 3}
    ]
    assert store.query(record, Query(equals=(("rank", 3),), limit=10)).ids == ["A1", "A4"]
    assert store.query(record, Query(sortby=(("rank", False),), limit=2)).ids == ["A1", "A4"]
    assert store.query(record, Query(sortby=(("rank", True),), limit=2)).ids == ["A2", "A3"]
    boxed = store.query(record, Query(bbox=(140.0, 36.0, 140.125, 36.075), limit=10))
    assert boxed.ids == ["A1", "A2", "A3"] and boxed.number_matched == 3
    other_box = store.query(record, Query(bbox=(140.125, 36.075, 140.2, 36.2), limit=10))
    assert other_box.ids == ["A4", "A5"] and other_box.number_matched == 2


def test_bbox_is_exact_not_just_envelopes(store):
    # An L-shaped polygon whose envelope covers the query box but whose shape does not, a
    # diagonal line likewise, and a point exactly on the box edge (intersects: included).
    ell = shapely.MultiPolygon([shapely.Polygon([(0, 0), (3, 0), (3, 1), (1, 1), (1, 3), (0, 3)])])
    diagonal = shapely.MultiPolygon([shapely.Polygon([(0, 3), (3, 0), (3, 0.01), (0, 3.01)])])
    inside = shapely.MultiPolygon([shapely.box(2.1, 2.1, 2.2, 2.2)])
    record = load(store, rows=ROWS[:3], geoms=[ell, diagonal, inside], layer="areas", geometry="polygon")
    box = (1.5, 1.8, 2.5, 2.5)
    page = store.query(record, Query(bbox=box, limit=10))
    assert page.ids == ["A3"] and page.number_matched == 1
    points = load(
        store,
        rows=ROWS[:3],
        layer="dots",
        geoms=[shapely.Point(1, 1), shapely.Point(2.5, 2), shapely.Point(2.5000001, 2)],
    )
    assert store.query(points, Query(bbox=(0, 0, 2.5, 2.5), limit=10)).ids == ["A1", "A2"]


def _near_edges(rnd, box, n: int) -> list:
    """Building-sized shapes (1-10 m at Tsukuba's longitude) on and around the edges of ``box``.

    L shapes whose envelope covers a corner they miss, thin diagonals, two-part multipolygons
    across the box, lines and points, offset from the edges by less than a float32 step (about
    1.5e-5 degrees at 140 E): where an R-tree box alone could decide wrongly.
    """
    x0, y0, x1, y1 = box
    shapes = []
    for i in range(n):
        x = rnd.choice([x0, x1, rnd.uniform(x0, x1)]) + rnd.uniform(-1, 1) * rnd.choice([1e-7, 1e-6, 3e-5])
        y = rnd.choice([y0, y1, rnd.uniform(y0, y1)]) + rnd.uniform(-1, 1) * rnd.choice([1e-7, 1e-6, 3e-5])
        w, h = rnd.uniform(1e-5, 1e-4) * rnd.choice([-1, 1]), rnd.uniform(1e-5, 1e-4) * rnd.choice([-1, 1])
        kind = i % 6
        if kind == 0:
            shapes.append(shapely.box(min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h)))
        elif kind == 1:  # an L: its envelope's far corner is empty
            ring = [
                (x, y),
                (x + w, y),
                (x + w, y + h / 5),
                (x + w / 5, y + h / 5),
                (x + w / 5, y + h),
                (x, y + h),
            ]
            shapes.append(shapely.Polygon(ring).normalize())
        elif kind == 2:
            shapes.append(shapely.Polygon([(x, y + h), (x + w, y), (x + w, y + h / 50), (x, y + h * 1.02)]))
        elif kind == 3:  # two parts, one each side of the box: the envelope spans it
            left, right = (
                shapely.box(x0 - 2e-4, y, x0 - 1e-4, y + 5e-5),
                shapely.box(x1 + 1e-4, y, x1 + 2e-4, y + 5e-5),
            )
            shapes.append(shapely.MultiPolygon([left, right]))
        elif kind == 4:
            shapes.append(shapely.LineString([(x, y), (x + w, y + h)]))
        else:
            shapes.append(shapely.Point(x, y))
    return shapes


def test_bbox_near_edges_matches_an_exact_test_of_every_geometry(store):
    # The GeoPackage store settles most edge candidates from their float32 R-tree box
    # (gpkg_query.surely_intersects); the answer must stay that of shapely on every geometry.
    import random

    rnd = random.Random(19)
    box = (140.1, 36.05, 140.1036, 36.0533)  # ~360 m
    shapes = _near_edges(rnd, box, 600)
    boxes = [box] + [
        (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
        for dx, dy in ((1e-7, -1e-7), (-3e-6, 2e-6), (1.5e-5, -1.5e-5), (-4e-5, 4e-5))
    ]
    kinds = {
        "polygon": (shapely.MultiPolygon, ("Polygon", "MultiPolygon")),
        "line": (shapely.MultiLineString, ("LineString",)),
        "point": (lambda g: g, ("Point",)),
    }
    for kind, (promote, types) in kinds.items():
        geoms = [
            promote([g]) if g.geom_type in ("Polygon", "LineString") else g
            for g in shapes
            if g.geom_type in types
        ]
        rows = [{"code": f"E{i:04d}", "rank": i} for i in range(len(geoms))]
        record = load(store, rows=rows, geoms=geoms, layer=f"edges_{kind}", geometry=kind, chunks=3)
        for b in boxes:
            hits = shapely.intersects(geoms, shapely.box(*b))
            expected = {row["code"] for row, hit in zip(rows, hits, strict=True) if hit}
            assert 0 < len(expected) < len(geoms), (kind, b)
            for sortby in ((), (("rank", False),)):  # the R-tree page, and the general bbox path
                page = store.query(record, Query(bbox=b, limit=1000, sortby=sortby))
                assert set(page.ids) == expected and page.number_matched == len(expected), (kind, b)


def test_layers_without_id_column_use_fid(store):
    with store.writer("plain", COLUMNS[:1], "point") as writer:
        writer.append(frame(ROWS[:3], POINTS[:3])[["code", "geometry"]])
        record = writer.commit(META)
    assert record.id_column is None
    assert store.query(record, Query(limit=10)).ids == [1, 2, 3]
    assert store.get(record, "2").properties == [{"code": "A2"}]
    assert store.get(record, "x").ids == [] and store.get(record, "9").ids == []


def test_generation_grows_with_every_registry_change(store):
    assert store.generation() == 0
    load(store)
    load(store, layer="other")
    load(store, make_current=False)
    store.activate("sites", 2)
    assert store.generation() == 4
    assert [r.layer_id for r in store.layers()] == ["other", "sites"]
