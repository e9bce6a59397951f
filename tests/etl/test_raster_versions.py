"""Raster versions on both stores: skip unchanged, history, diff, rollback, activate, pruning, copy."""

import json

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasters import RasterProject, ramp, write_tif

from etl.raster import versions
from tsukuba_gis.cli.main import cli
from tsukuba_gis.store import open_store
from tsukuba_gis.store.transfer import copy_store


@pytest.fixture(params=["gpkg", "postgis"])
def rp(request, tmp_path) -> RasterProject:
    url = request.getfixturevalue("postgis_url") if request.param == "postgis" else None
    return RasterProject(tmp_path, store_url=url)


def _cli(rp: RasterProject, *args: str):
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(rp.settings.data_dir),
        "TSUKUBA_GIS_LAYERS_DIR": str(rp.settings.layers_dir),
        "TSUKUBA_GIS_SOURCES_DIR": str(rp.settings.sources_dir),
        "TSUKUBA_GIS_STORE": rp.store_url or "",
        "TSUKUBA_GIS_KEEP_VERSIONS": "3",
    }
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    result.text = " ".join(result.output.split())  # rich wraps long lines at 80 columns
    return result


def _hand_over(rp: RasterProject, data: np.ndarray) -> None:
    write_tif(rp.sources / "depth.tif", data)
    rp.define_raster("depth", {"path": "depth.tif"}, value_range={"min": -10, "max": 100})


def test_unchanged_sources_are_skipped_and_changes_make_versions(rp):
    _hand_over(rp, ramp())
    first = _cli(rp, "etl")
    assert first.exit_code == 0, first.output
    assert "✓ depth raster v1: 30 x 40 x 1 float32, EPSG:6677" in first.text
    generation = rp.store().generation()
    assert "= depth: unchanged (raster v1)" in _cli(rp, "etl").text
    assert rp.store().generation() == generation  # a skip changes nothing
    edited = ramp()
    edited[10:12, 5:10] += 7.5  # 10 cells raised by 7.5 m
    _hand_over(rp, edited)
    second = _cli(rp, "etl", "depth")
    assert "✓ depth raster v2" in second.text and "vs v1: 10 cells changed (1000.0 m²)" in second.text
    assert rp.store().generation() > generation
    saved = json.loads((rp.settings.data_dir / "report.json").read_text(encoding="utf-8"))
    entry = saved["rasters"][0]
    assert (entry["status"], entry["raster"]["crs"], entry["raster"]["nodata"]) == (
        "loaded",
        "EPSG:6677",
        -9999.0,
    )
    assert entry["diff"]["largest_change"]["delta"] == pytest.approx(7.5)
    assert "depth" in (rp.settings.data_dir / "report.html").read_text(encoding="utf-8")


def test_history_diff_rollback_activate(rp):
    _hand_over(rp, ramp())
    _cli(rp, "etl")
    edited = ramp()
    edited[20, 3] = 99.0
    edited[0:2, 0:2] = -9999  # four cells lose their value
    _hand_over(rp, edited)
    _cli(rp, "etl")
    history = _cli(rp, "etl", "history", "depth").output.splitlines()
    assert history[0].startswith("* v2\t") and history[1].startswith("  v1\t")
    assert "30 x 40 x 1 float32\tEPSG:6677" in history[0]

    diff = _cli(rp, "etl", "diff", "depth").output
    assert "depth raster v1 -> v2 (grid same)" in diff
    assert "changed 5 cells (500.0 m²)" in diff and "lost it 4" in diff
    assert "largest change: band 1 20.03 -> 99 at row 20, column 3" in diff
    as_json = json.loads(_cli(rp, "etl", "diff", "depth", "--json").output)
    assert as_json["largest_change"]["lat"] == pytest.approx(36.07, abs=0.01)

    before = rp.store().generation()
    rolled = _cli(rp, "etl", "rollback", "depth")
    assert rolled.exit_code == 0 and "depth: raster v1 is current" in rolled.output
    assert rp.store().current_raster("depth").version == 1
    assert rp.store().generation() > before
    with rasterio.open(rp.cog("depth")) as ds:
        assert ds.read(1)[20, 3] == pytest.approx(20.03)  # v1's file is served again
    # loading the same sources again would re-publish what was rolled back: it says so
    again = _cli(rp, "etl")
    assert "already in v2, which is not current" in again.text
    assert _cli(rp, "etl", "activate", "depth", "2").exit_code == 0
    assert rp.store().current_raster("depth").version == 2
    missing = _cli(rp, "etl", "activate", "depth", "9")
    assert missing.exit_code == 1 and "has no version 9 (kept: [2, 1])" in missing.output


def test_dry_run_stages_and_old_versions_are_pruned_with_their_files(rp):
    for step in range(5):
        _hand_over(rp, ramp() + step)
        assert rp.run().ok
    kept = rp.store().raster_history("depth")
    assert [r.version for r in kept] == [5, 4, 3]  # keep_versions = 3
    files = sorted(p.name for p in (rp.settings.rasters_path / "depth").iterdir())
    assert files == sorted(r.file.split("/")[1] for r in kept)  # pruned COGs are gone, no leftovers
    _hand_over(rp, ramp() + 10)
    staged = rp.run(dry_run=True).rasters[0]
    assert staged.status == "staged" and staged.diff["changed_cells"] == 1200
    assert rp.store().current_raster("depth").version == 5
    assert versions.activate(rp.settings, "depth", staged.version).version == staged.version


def test_store_copy_takes_rasters_and_their_files(rp, tmp_path):
    _hand_over(rp, ramp())
    rp.run()
    _hand_over(rp, ramp() + 1)
    rp.run()
    rp.store().activate_raster("depth", 1)
    target = open_store(str(tmp_path / "copy.gpkg"))
    other_dir = tmp_path / "other-rasters"
    copy_store(rp.store(), target, raster_dirs=(rp.settings.rasters_path, other_dir))
    copied = target.raster_history("depth")
    assert [(r.version, r.current, r.checksum) for r in copied] == [
        (r.version, r.current, r.checksum) for r in rp.store().raster_history("depth")
    ]
    for record in copied:
        assert record.path(other_dir).read_bytes() == record.path(rp.settings.rasters_path).read_bytes()
    again = copy_store(rp.store(), target, raster_dirs=(rp.settings.rasters_path, other_dir))
    assert {r.status for r in again if r.kind == "raster"} == {"present"}
