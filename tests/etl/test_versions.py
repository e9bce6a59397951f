"""The `tsukuba-gis etl` command: runs, failures, idempotency, history, rollback, diff, dry run."""

import json

import pytest
from click.testing import CliRunner
from handover import point_feature, site_features, sites_frame, write_geojson, write_shapefile

from tsukuba_gis.cli.main import cli

PUBLISHED: list[tuple[str, int]] = []


def recording_publisher(settings, store, layer, record) -> dict:
    """A publisher for the tests: remembers which version it was run for."""
    PUBLISHED.append((layer.id, record.version))
    return {"version": record.version}


@pytest.fixture
def etl(project, monkeypatch):
    """Run `tsukuba-gis ARGS` against the project; returns the click Result."""
    monkeypatch.setattr("etl.publish.PUBLISHERS", ["test_versions:recording_publisher"])
    PUBLISHED.clear()
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(project.settings.data_dir),
        "TSUKUBA_GIS_LAYERS_DIR": str(project.settings.layers_dir),
        "TSUKUBA_GIS_SOURCES_DIR": str(project.settings.sources_dir),
        "TSUKUBA_GIS_STORE": "",
        "TSUKUBA_GIS_KEEP_VERSIONS": "5",
    }

    def invoke(*args: str):
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def _sites(project, features=None, layer_id="sites"):
    write_geojson(project.sources / f"{layer_id}.geojson", features or site_features())
    project.define(layer_id, {"path": f"{layer_id}.geojson"}, id_field="site_id")


def _edit(project):
    """A new hand-over: site 1 renamed, site 2 gone, site 4 new."""
    features = site_features()
    features[0]["properties"]["名称"] = "桜中学校（改築後）"
    del features[1]
    features.append(point_feature(140.11, 36.09, 番号="4", 名称="新設", 区分="学校"))
    write_geojson(project.sources / "sites.geojson", features)


def test_default_run_names_force_and_quiet(project, etl):
    _sites(project)
    _sites(project, layer_id="other")
    first = etl("etl")
    assert first.exit_code == 0, first.output
    assert "✓ sites v1" in first.output and "✓ other v1" in first.output
    named = etl("etl", "sites", "other")
    assert named.exit_code == 0 and "= sites: unchanged (v1" in named.output
    forced = etl("etl", "--force", "sites")
    assert forced.exit_code == 0 and "✓ sites v2" in forced.output and "other" not in forced.output
    assert etl("-q", "etl").output == ""  # cron: nothing on success
    assert etl("etl", "-q", "--force").output == ""
    assert etl("etl", "run", "sites").exit_code == 0


def test_one_broken_layer_does_not_stop_the_others(project, etl, tmp_path):
    _sites(project)
    shp = write_shapefile(sites_frame("EPSG:6677"), project.sources / "broken.shp")
    project.define("broken", {"path": "broken.shp", "encoding": "cp932"})
    assert etl("etl").exit_code == 0
    before = project.snapshot("broken")
    data = shp.read_bytes()
    shp.write_bytes(data[:-30])  # the .shp of a new hand-over is truncated
    _edit(project)
    result = etl("etl")
    assert result.exit_code == 1
    assert "✗ broken: broken.shp: the .shp header says" in result.output.replace("\n", " ")
    assert "✓ sites v2" in result.output
    assert project.snapshot("broken") == before
    saved = json.loads((project.settings.data_dir / "report.json").read_text(encoding="utf-8"))
    assert saved["ok"] is False
    assert {r["layer_id"]: r["status"] for r in saved["layers"]} == {"broken": "failed", "sites": "loaded"}


def test_idempotent_unless_something_changed(project, etl):
    _sites(project)
    assert "✓ sites v1" in etl("etl").output
    assert "= sites: unchanged (v1, 3 features)" in etl("etl").output
    assert "✓ sites v2" in etl("etl", "--force").output
    project.define("sites", {"path": "sites.geojson"}, id_field="site_id", keywords=["changed"])
    assert "✓ sites v3" in etl("etl").output  # a changed definition reloads
    _edit(project)
    assert "✓ sites v4" in etl("etl").output  # a changed source reloads
    versions = [r.version for r in project.store().history("sites")]
    assert versions == [4, 3, 2, 1]
    record = project.store().current("sites")
    assert (record.version, record.feature_count, len(record.source_checksum)) == (4, 3, 64)


def test_history_diff_rollback_and_activate(project, etl):
    _sites(project)
    etl("etl")
    _edit(project)
    etl("etl")
    history = etl("etl", "history", "sites").output.splitlines()
    assert history[0].startswith("* v2\t") and history[1].startswith("  v1\t")
    assert "3 features" in history[0] and "EPSG:4326 via proj" in history[0]

    diff = etl("etl", "diff", "sites").output
    assert "sites v1 -> v2 (matched by site_id)" in diff
    assert "added 1, removed 1, changed 1, unchanged 1" in diff
    assert "+ 4" in diff and "- 2" in diff
    assert "~ 1: name: '桜中学校' -> '桜中学校（改築後）'" in diff
    as_json = json.loads(etl("etl", "diff", "sites", "--from", "2", "--to", "1", "--json").output)
    assert (as_json["added"], as_json["removed"], as_json["changed"]) == (1, 1, 1)

    PUBLISHED.clear()
    rolled = etl("etl", "rollback", "sites")
    assert rolled.exit_code == 0 and "sites: v1 is current" in rolled.output
    assert PUBLISHED == [("sites", 1)]  # publishers ran for the version now current
    assert (
        json.loads((project.settings.data_dir / "rejects/sites.geojson").read_text(encoding="utf-8"))[
            "version"
        ]
        == 1
    )
    # The rolled-back hand-over is still in sources/: a cron run must not re-publish it.
    again = etl("etl")
    assert again.exit_code == 0 and "already in v2, which is not current" in again.output
    assert project.store().current("sites").version == 1

    assert "sites: v2 is current" in etl("etl", "activate", "sites", "2").output
    assert "sites: v1 is current" in etl("etl", "rollback", "sites", "--to", "1").output


def test_dry_run_stages_and_diffs_before_publishing(project, etl):
    _sites(project)
    etl("etl")
    _edit(project)
    PUBLISHED.clear()
    dry = etl("etl", "--dry-run")
    assert dry.exit_code == 0
    assert "staged, not published" in dry.output and "etl activate sites 2" in dry.output
    assert "vs v1: +1 -1 ~1" in dry.output
    assert project.store().current("sites").version == 1  # readers still see v1
    assert PUBLISHED == []
    saved = json.loads((project.settings.data_dir / "report.json").read_text(encoding="utf-8"))
    assert saved["dry_run"] is True and saved["layers"][0]["status"] == "staged"
    assert saved["layers"][0]["diff"]["changed"] == 1
    assert (project.settings.data_dir / "rejects/sites.v2.csv").is_file()
    assert "sites v1 -> v2" in etl("etl", "diff", "sites").output  # current vs staged
    assert "sites: v2 is current" in etl("etl", "activate", "sites", "2").output
    assert PUBLISHED == [("sites", 2)]


def test_diff_without_an_id_field_matches_by_content(project, etl):
    write_geojson(project.sources / "p.geojson", site_features())
    project.define("p", {"path": "p.geojson"})
    etl("etl")
    _edit_path = project.sources / "p.geojson"
    features = site_features()
    features[0]["properties"]["名称"] = "改名"
    write_geojson(_edit_path, features)
    etl("etl")
    diff = etl("etl", "diff", "p").output
    assert "matched by content" in diff
    assert "added 1, removed 1, changed 0, unchanged 2" in diff


def test_only_keep_versions_are_kept(project, etl, monkeypatch):
    _sites(project)
    for _ in range(7):
        etl("etl", "--force")
    assert [r.version for r in project.store().history("sites")] == [7, 6, 5, 4, 3]


def test_version_commands_explain_what_is_wrong(project, etl):
    assert "has no version" in etl("etl", "history", "nothing").output
    _sites(project)
    etl("etl")
    only = etl("etl", "rollback", "sites")
    assert only.exit_code == 1 and "keeps no version older than the current v1" in only.output
    assert "nothing to compare with" in etl("etl", "diff", "sites").output
    missing = etl("etl", "activate", "sites", "9")
    assert missing.exit_code == 1 and "has no version 9 (kept: [1])" in missing.output
