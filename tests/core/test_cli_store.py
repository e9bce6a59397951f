"""``tsukuba-gis store migrate|copy``: schema upgrades and moving a city between stores."""

import geopandas as gpd
import shapely
from click.testing import CliRunner

from tsukuba_gis.cli.main import cli
from tsukuba_gis.store import open_store


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
    assert open_store(postgis_url).rasters() == open_store(source).rasters()
    again = run("store", "copy", "--from", source, "--to", postgis_url, *rasters)
    assert again.exit_code == 0 and ": copied" not in again.output  # all "present"
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
