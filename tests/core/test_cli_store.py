"""``tsukuba-gis store migrate|copy``: schema upgrades and moving a city between stores."""

import gzip

import geopandas as gpd
import mapbox_vector_tile
import morecantile
import shapely
from click.testing import CliRunner

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.cli.main import cli
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store
from tsukuba_gis.store.base import Editor, EditRequest
from tsukuba_gis.tiles.rules import tile_specs

TMS = morecantile.tms.get("WebMercatorQuad")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_migrate_both_backends_once(postgis_url, tmp_path, postgis_cluster):
    for url in (postgis_url, str(tmp_path / "new.gpkg")):
        first = run("store", "migrate", "--url", url)
        assert first.exit_code == 0 and "applied migrations 1" in first.output, first.output
        assert run("store", "migrate", "--url", url).output.endswith("up to date\n")
    assert postgis_cluster.password not in first.output + run("store", "migrate", "--url", postgis_url).output


def _frames(store, record) -> gpd.GeoDataFrame:
    frames = list(store.iter_frames(record))  # none: a layer with no feature yet (reports)
    return gpd.pd.concat(frames) if frames else gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def _assert_same_city(a, b) -> None:
    assert [r.layer_id for r in a.layers()] == [r.layer_id for r in b.layers()]
    for record in a.layers():
        for kept in a.history(record.layer_id):
            copied = b.version(kept.layer_id, kept.version)
            assert copied is not None, (kept.layer_id, kept.version)
            assert {**copied.__dict__, "table": None} == {**kept.__dict__, "table": None}
            assert b.rejects(kept.layer_id, kept.version) == a.rejects(kept.layer_id, kept.version)
            left, right = _frames(a, kept), _frames(b, copied)
            wkb = [shapely.to_wkb(f.geometry.values) for f in (left, right)]
            assert (wkb[0] == wkb[1]).all()
            gpd.pd.testing.assert_frame_equal(
                left.drop(columns="geometry"), right.drop(columns="geometry"), check_dtype=False
            )


def _tile_sets(store) -> dict:
    """(layer, variant) -> {(z, x, y): tile} of every current version's pre-built tile sets."""
    layers = load_catalog(Settings().layers_dir).layers
    found = {}
    for record in store.layers():
        if record.layer_id not in layers:  # the place-name index the ETL writes: no tiles
            continue
        for spec in tile_specs(layers[record.layer_id], record):
            tiles = store.tile_set(spec)
            assert tiles is not None, (record.layer_id, spec.variant)
            found[record.layer_id, spec.variant] = {(z, x, y): t for z, x, y, t in tiles}
    return found


def test_copy_gpkg_to_postgis_and_back_keeps_versions_records_and_rejects(
    sample_settings, postgis_url, tmp_path, postgis_cluster
):
    source = sample_settings.store_url
    rasters = ("--raster-dir-from", str(sample_settings.rasters_path))  # shared by both stores
    there = run("store", "copy", "--from", source, "--to", postgis_url, *rasters)
    assert there.exit_code == 0, there.output
    assert "* towns v1: copied, 311 features, 3 rejected" in there.output
    assert "* flood_depth_sample raster v1: copied" in there.output
    assert postgis_cluster.password not in there.output
    _assert_same_city(open_store(source), open_store(postgis_url))
    # the tile sets go across byte for byte: PostGIS serves every zoom from its table at once
    assert "* towns v1 tiles (public): copied," in there.output
    assert "  gazetteer v1: no tiles (no layer definition)" in there.output
    sets = _tile_sets(open_store(source))
    assert sum(len(t) for t in sets.values()) > 100
    assert _tile_sets(open_store(postgis_url)) == sets
    assert open_store(postgis_url).rasters() == open_store(source).rasters()
    again = run("store", "copy", "--from", source, "--to", postgis_url, *rasters)
    assert again.exit_code == 0 and ": copied" not in again.output  # all "present"
    assert "* towns v1 tiles (public): present" in again.output
    back = tmp_path / "back.gpkg"
    home = run(
        "store",
        "copy",
        "--from",
        postgis_url,
        "--to",
        str(back),
        *rasters,
        "--raster-dir-to",
        str(tmp_path / "r"),
    )
    assert home.exit_code == 0, home.output
    _assert_same_city(open_store(postgis_url), open_store(str(back)))
    assert _tile_sets(open_store(str(back))) == sets
    home_store, (z, x, y) = open_store(str(back)), min(sets["towns", "public"])
    spec = tile_specs(load_catalog(Settings().layers_dir).layers["towns"], home_store.current("towns"))[0]
    assert home_store.tile(home_store.current("towns"), spec, z, x, y) == sets["towns", "public"][z, x, y]
    for record in open_store(str(back)).rasters():
        assert (
            record.path(tmp_path / "r").read_bytes() == record.path(sample_settings.rasters_path).read_bytes()
        )
    assert not list(sample_settings.rasters_path.rglob(".incoming-*"))


def test_copy_refuses_nonsense(tmp_path, postgis_url):
    same = run("store", "copy", "--from", postgis_url, "--to", postgis_url)
    assert same.exit_code != 0 and "same store" in same.output
    empty = run("store", "copy", "--from", str(tmp_path / "none.gpkg"), "--to", postgis_url)
    assert empty.exit_code != 0 and "no loaded layer" in empty.output


def test_copy_without_layer_definitions_says_so_before_copying(sample_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("TSUKUBA_GIS_LAYERS_DIR", str(tmp_path / "nowhere"))
    target = tmp_path / "copy.gpkg"
    refused = run("store", "copy", "--from", sample_settings.store_url, "--to", str(target))
    assert refused.exit_code != 0 and "TSUKUBA_GIS_LAYERS_DIR" in refused.output
    assert "--no-tiles" in refused.output
    assert not target.exists()


def test_a_layer_edited_since_its_load_gets_its_tiles_built_from_the_copied_features(
    sample_settings, postgis_url, tmp_path
):
    """Its pre-built set is stale where the edit landed (the source makes those tiles from the
    data); the target has no record of the edit, so it builds the set anew."""
    city, rasters = str(tmp_path / "city.gpkg"), ("--raster-dir-from", str(sample_settings.rasters_path))
    first = run(
        "store", "copy", "--from", sample_settings.store_url, "--to", city, "--current-only", *rasters
    )
    assert first.exit_code == 0, first.output
    store = open_store(city)
    shelter = next(store.iter_frames(store.current("shelters"))).iloc[0]
    store.edit(
        store.current("shelters"),
        EditRequest(
            "modify", shelter["common_id"], Editor("test", None, "cli"), properties={"status": "開設"}
        ),
    )
    moved = run("store", "copy", "--from", city, "--to", postgis_url, "--current-only", *rasters)
    assert moved.exit_code == 0, moved.output
    assert "* shelters v1 tiles (public): built (edited since its load)," in moved.output
    assert "* towns v1 tiles (public): copied," in moved.output
    target = open_store(postgis_url)
    spec = tile_specs(load_catalog(Settings().layers_dir).layers["shelters"], target.current("shelters"))[0]
    z = spec.maxzoom
    where = TMS.tile(shelter.geometry.x, shelter.geometry.y, z)
    tiles = {(tz, x, y): t for tz, x, y, t in target.tile_set(spec)}
    features = mapbox_vector_tile.decode(gzip.decompress(tiles[z, where.x, where.y]))["shelters"]["features"]
    statuses = {f["properties"]["common_id"]: f["properties"].get("status") for f in features}
    assert statuses[shelter["common_id"]] == "開設"
