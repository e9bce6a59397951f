"""The tile engine (tippecanoe behind ``Store.publish_tiles``) on both stores: overview tiles at
every zoom of a dense layer within the size budget, and single tiles rebuilt (what an edit needs).

The layer: 20,000 generated building footprints in a 2 km square (as dense as central Tsukuba),
loaded by the real ETL into a fresh GeoPackage store or a fresh PostGIS schema.
"""

import gzip
import logging
import shutil
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import shapely

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store, postgis_tiles
from tsukuba_gis.tiles import grid, mbtiles
from tsukuba_gis.tiles.rules import EXTENT, MAX_SIZE, MIN_EXTENT, tile_spec, tolerance_units

TMS = morecantile.tms.get("WebMercatorQuad")
CENTRE = (140.1115, 36.0825)
COUNT = 20_000
LAYER = """\
title: {ja: 建物（テスト用・架空）, en: Buildings (test)}
description: {ja: 生成した建物, en: Generated buildings}
license: {attribution: {ja: テスト, en: Test}}
source: {path: dense.gpkg}
geometry: polygon
id_field: bid
title_field: name
tiles: {minzoom: 10}
fields:
  - {name: bid, required: true, label: {ja: ID, en: ID}}
  - {name: name, label: {ja: 名称, en: Name}}
"""


def _buildings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (EPSG:6677 around つくば駅) and side lengths of the square footprints, in metres."""
    rng = np.random.default_rng(19)
    x = 25_050 + rng.uniform(-1_000, 1_000, COUNT)
    y = 9_150 + rng.uniform(-1_000, 1_000, COUNT)
    return x, y, rng.uniform(6, 14, COUNT)


def _write_source(path) -> None:
    x, y, size = _buildings()
    boxes = shapely.box(x - size / 2, y - size / 2, x + size / 2, y + size / 2)
    frame = gpd.GeoDataFrame(
        {"bid": [f"D{i:06d}" for i in range(COUNT)], "name": [f"建物{i}" for i in range(COUNT)]},
        geometry=boxes,
        crs="EPSG:6677",
    )
    frame.to_file(path, driver="GPKG")


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def dense(request, tmp_path_factory):
    from etl.runner import run_etl

    root = tmp_path_factory.mktemp(f"dense-{request.param}")
    (root / "layers/test").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "layers/test/_department.yaml").write_text("name: {ja: テスト, en: Test}\n", encoding="utf-8")
    (root / "layers/test/dense.yaml").write_text(LAYER, encoding="utf-8")
    _write_source(root / "sources/dense.gpkg")
    url = None
    if request.param == "postgis":
        url = f"{request.getfixturevalue('postgis_test_db')}?schema=tile_engine"
    settings = Settings(
        data_dir=root / "data", layers_dir=root / "layers", sources_dir=root / "sources", store=url
    )
    assert run_etl(settings, ["dense"], quiet=True).ok
    store = open_store(settings.store_url)
    record = store.current("dense")
    spec = tile_spec(load_catalog(root / "layers").layers["dense"], record, "public")
    return store, record, spec


def _features(tile: bytes) -> list[dict]:
    return mapbox_vector_tile.decode(gzip.decompress(tile))["dense"]["features"] if tile else []


def test_every_zoom_from_the_definitions_minzoom_has_tiles_within_budget(dense):
    store, record, spec = dense
    assert (spec.minzoom, spec.maxzoom) == (10, 16)
    counts = {}
    for z in range(spec.minzoom, spec.maxzoom + 1):
        tile = TMS.tile(*CENTRE, z)
        data = store.tile(record, spec, z, tile.x, tile.y)
        assert 0 < len(data) <= MAX_SIZE, z
        features = _features(data)
        assert features and all(set(f["properties"]) == {"bid", "name"} for f in features)
        counts[z] = len(features)
    # City-wide, tiny footprints are merged (fewer features than buildings); at the last zoom
    # every building of the tile is there, exactly.
    assert counts[10] < COUNT
    x0, y0, x1, y1 = TMS.bounds(TMS.tile(*CENTRE, 16))
    inside = store.query(record, _query((x0, y0, x1, y1)))
    assert counts[16] >= inside.number_matched


def _query(bbox):
    from tsukuba_gis.store import Query

    return Query(bbox=bbox, limit=1)


def test_rebuilt_tiles_replace_the_stored_ones_and_readers_see_them(dense):
    store, record, spec = dense
    keys = [(z, t.x, t.y) for z in (10, 13, 16) for t in [TMS.tile(*CENTRE, z)]]
    before = {k: store.tile(record, spec, *k) for k in keys}  # readers have their files open
    _damage(store, spec, dict.fromkeys(keys, b""))
    assert all(store.tile(record, spec, *k) == b"" for k in keys)
    assert store.rebuild_tiles(record, spec, keys) == len(keys)
    for key in keys:
        again = _features(store.tile(record, spec, *key))
        assert sorted(f["properties"]["bid"] for f in again) == sorted(
            f["properties"]["bid"] for f in _features(before[key])
        ), key


def _damage(store, spec, tiles) -> None:
    """Remove tiles behind the store's back (a copy renamed over the GeoPackage store's file)."""
    if store.scheme == "postgresql":
        store.tile_cache().replace(spec.layer_id, spec.version, spec.cache_variant, tiles)
        return
    path = store.tiles_path(spec)
    copy = path.with_name("damaged.mbtiles")
    shutil.copyfile(path, copy)
    mbtiles.replace_tiles(copy, tiles)
    copy.replace(path)


def test_a_tile_missing_from_a_prebuilt_set_is_empty_on_both_stores(dense, caplog):
    """tippecanoe writes no empty tile, so a tile a whole pre-built set lacks is empty: the
    GeoPackage store answered so; PostGIS made it again with ST_AsMVT and kept it."""
    store, record, spec = dense
    away = TMS.tile(CENTRE[0] + 0.3, CENTRE[1] + 0.2, 14)  # ~30 km from every building
    with caplog.at_level(logging.DEBUG, logger=postgis_tiles.__name__):
        assert store.tile(record, spec, 14, away.x, away.y) == b""
    assert "ST_AsMVT pass" not in caplog.text
    if store.scheme == "postgresql":
        cache = store.tile_cache()
        assert cache.get(spec.layer_id, spec.version, spec.cache_variant, 14, away.x, away.y) is None
        cache.clear(spec.layer_id)  # no pre-built set any more: made on demand, as before
        try:
            with caplog.at_level(logging.DEBUG, logger=postgis_tiles.__name__):
                assert store.tile(record, spec, 14, away.x, away.y) == b""
            assert "ST_AsMVT pass" in caplog.text
        finally:
            store.publish_tiles(record, [spec])


def test_tiles_outside_the_zoom_range_are_not_built(dense):
    store, record, spec = dense
    tile = TMS.tile(*CENTRE, 8)
    assert store.rebuild_tiles(record, spec, [(8, tile.x, tile.y)]) == 0


def test_tippecanoe_threads_follow_the_layer_size_and_an_operator_setting_wins(dense, monkeypatch, tmp_path):
    # One per 5,000 features (a small layer pays for each at start), and ~50 bytes per feature
    # per thread within 400 MB: 16 from 80,000 up to 500,000 features, 2 at least.
    sizes = (0, 311, 20_000, 80_000, 500_000, 1_000_000, 2_000_000, 50_000_000)
    assert [mbtiles.threads_for(n) for n in sizes] == ["2", "2", "4", "16", "16", "8", "4", "2"]
    seen = {}
    real = mbtiles.subprocess.run

    def recording(command, **kwargs):
        seen["threads"] = kwargs["env"]["TIPPECANOE_MAX_THREADS"]
        return real(command, **kwargs)

    monkeypatch.setattr(mbtiles.subprocess, "run", recording)
    store, record, spec = dense
    monkeypatch.delenv("TIPPECANOE_MAX_THREADS", raising=False)
    mbtiles.build_mbtiles(store, record, spec, tmp_path / "own.mbtiles")
    assert seen["threads"] == mbtiles.threads_for(record.feature_count) == "4"  # 20,000 buildings
    monkeypatch.setenv("TIPPECANOE_MAX_THREADS", "2")
    path = mbtiles.build_mbtiles(store, record, spec, tmp_path / "operator.mbtiles")
    assert seen["threads"] == "2" and path.stat().st_size > 0


def test_tippecanoe_keeps_a_small_layers_temporary_files_in_ram_and_a_large_ones_on_disk(
    dense, monkeypatch, tmp_path
):
    """Its hundreds of temporary files cost most of a small layer's build on disk (bench/README.md)."""
    seen = []
    real = mbtiles.subprocess.run

    def recording(command, **kwargs):
        scratch = Path(next(a for a in command if a.startswith("--temporary-directory=")).split("=", 1)[1])
        seen.append((scratch, scratch.is_dir()))
        return real(command, **kwargs)

    monkeypatch.setattr(mbtiles.subprocess, "run", recording)
    store, record, spec = dense  # 20,000 buildings: a few MB of FlatGeobuf
    small = mbtiles.build_mbtiles(store, record, spec, tmp_path / "small.mbtiles")
    monkeypatch.setattr(mbtiles, "RAM_SCRATCH_INPUT", 1000)  # now the same input counts as large
    large = mbtiles.build_mbtiles(store, record, spec, tmp_path / "large.mbtiles")
    (ram, existed), (disk, _) = seen
    assert existed and ram.parent == mbtiles.RAM_SCRATCH and not ram.exists()  # removed after
    assert disk.parent == tmp_path  # the staging directory beside the target
    tiles = [sorted(mbtiles.read_mbtiles(p)) for p in (small, large)]
    assert tiles[0] == tiles[1] and len(tiles[0]) > 10
    # A tmpfs without room for them (a container's 64 MB /dev/shm): on disk
    seen.clear()
    monkeypatch.setattr(mbtiles, "RAM_SCRATCH_INPUT", 2**40)
    monkeypatch.setattr(mbtiles, "RAM_SCRATCH_FACTOR", 2**40)
    mbtiles.build_mbtiles(store, record, spec, tmp_path / "no-room.mbtiles")
    assert seen[0][0].parent == tmp_path


def test_tippecanoe_failing_in_ram_builds_again_on_disk(dense, monkeypatch, tmp_path, caplog):
    """Room in the tmpfs is checked before, but other processes share it: ENOSPC is retried."""
    calls = []
    real = mbtiles.subprocess.run

    def first_run_out_of_room(command, **kwargs):
        scratch = next(a for a in command if a.startswith("--temporary-directory="))
        calls.append(scratch)
        if len(calls) == 1:  # what tippecanoe says when its temporary files fill the tmpfs
            return mbtiles.subprocess.CompletedProcess(
                command, 120, "", "index: Write to temporary file failed: No space left on device"
            )
        return real(command, **kwargs)

    monkeypatch.setattr(mbtiles.subprocess, "run", first_run_out_of_room)
    store, record, spec = dense
    with caplog.at_level(logging.WARNING, logger=mbtiles.__name__):
        path = mbtiles.build_mbtiles(store, record, spec, tmp_path / "retried.mbtiles")
    assert str(mbtiles.RAM_SCRATCH) in calls[0] and str(tmp_path) in calls[1] and len(calls) == 2
    assert "No space left on device" in caplog.text
    assert len(list(mbtiles.read_mbtiles(path))) > 10


@pytest.mark.parametrize("dense", ["postgis"], indirect=True)  # the store that makes tiles on demand
def test_a_tile_made_on_demand_over_budget_halves_the_grid_then_keeps_the_largest(dense, caplog):
    """ST_AsMVT for a tile never pre-built (``postgis_tiles.render_mvt``): over the size budget the
    grid is halved, but never to one on which every building collapses (an empty tile: a hole),
    then only the largest features are kept until it fits. Each pass is logged (``PASS_LOG``,
    which ``bench/pg_tile_parts.py`` reads)."""
    store, record, spec = dense
    tile = TMS.tile(*CENTRE, 12)  # the whole 2 km square: every building is a candidate
    budget = 2_000  # bytes, gzip-compressed: far below what 20,000 buildings need at any grid
    request = postgis_tiles.MvtRequest(
        name="dense",
        geometry=spec.geometry,
        bounds=grid.xy_bounds(12, tile.x, tile.y),
        fields=spec.fields,
        tolerance=tolerance_units(spec, 12),
        max_size=budget,
    )
    with caplog.at_level(logging.DEBUG, logger=postgis_tiles.LOG.name):
        made = postgis_tiles.render_mvt(store, record, request)
    # (layer, grid, limit, features, bytes, ms) of each pass
    passes = [r.args for r in caplog.records if r.msg == postgis_tiles.PASS_LOG]
    whole = [p for p in passes if p[2] is None]
    assert [p[1] for p in whole] == [EXTENT >> i for i in range(len(whole))] and whole[-1][1] >= MIN_EXTENT
    # At z12 the 6-14 m buildings all collapse on the 256-unit grid (38 m cells): not taken.
    assert whole[-1][1] == MIN_EXTENT and whole[-1][3] == 0
    kept_grid = whole[-2][1]
    limited = [p for p in passes if p[2] is not None]
    assert limited and all(p[1] == kept_grid for p in limited)
    limits = [p[2] for p in limited]
    assert limits == sorted(limits, reverse=True) and limits[-1] < COUNT
    assert 0 < len(made) <= budget
    # What is kept is among the `limit` largest footprints (ties in fid order, the load order).
    _, _, size = _buildings()
    largest = {f"D{i:06d}" for i in np.lexsort((np.arange(COUNT), -size))[: limits[-1]]}
    kept = {f["properties"]["bid"] for f in _features(made)}
    assert kept and kept <= largest
