"""Raster layer definitions (kind: raster): the repo's are valid; broken ones name file and line."""

import pytest
from click.testing import CliRunner

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.cli.main import cli
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import PROJECT_ROOT

HEAD = (
    "kind: raster\n"
    "title: {ja: 浸水深, en: Depth}\n"
    "description: {ja: 説明, en: Text}\n"
    "license:\n  attribution: {ja: 出典, en: Source}\n"
    "source: {path: depth.tif}\n"
    "bands:\n  - {name: depth, label: {ja: 浸水深, en: Depth}, unit: m}\n"
)  # 8 lines


def test_repo_rasters_are_valid_and_vectors_unchanged():
    catalog = load_catalog(PROJECT_ROOT / "layers", PROJECT_ROOT / "sources")
    assert catalog.problems == []
    assert {"flood_depth_sample", "dem_sample", "aerial_photo_sample"} <= set(catalog.rasters)
    assert not set(catalog.rasters) & set(catalog.layers)
    flood = catalog.rasters["flood_depth_sample"]
    assert flood.synthetic and "サンプル（架空）" in flood.title.ja and flood.access == "public"
    assert [b.min for b in flood.breaks] == [0.0, 0.5, 3.0, 5.0, 10.0, 20.0] and flood.breaks[-1].max is None
    assert flood.bands[0].unit.ja == "m" and flood.resolved_resampling == "bilinear"
    assert catalog.rasters["aerial_photo_sample"].access == "internal"
    assert catalog.rasters["dem_sample"].sources[0].is_glob
    # kind stays out of a vector definition's dump, so its checksum (and skip) is unchanged
    assert "kind" not in catalog.layers["shelters"].model_dump()
    assert isinstance(catalog.layers["shelters"], LayerDef)


def _problems(tmp_path, body: str) -> list[str]:
    dept = tmp_path / "disaster"
    dept.mkdir(exist_ok=True)
    (dept / "_department.yaml").write_text("name: {ja: 防災, en: Disaster}\n", encoding="utf-8")
    (dept / "depth.yaml").write_text(HEAD + body, encoding="utf-8")
    return [str(p) for p in load_catalog(tmp_path).problems]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            "resampling: bilinear\nclasses:\n  - {value: 1, color: '#ff0000', label: {ja: a, en: a}}\n",
            1,
            "would invent class values",
        ),
        (
            "breaks:\n  - {min: 0, max: 0.5, color: '#ffffff', label: {ja: a, en: a}}\n"
            "  - {min: 1.0, color: '#ffffff', label: {ja: b, en: b}}\n",
            1,
            "must equal the max 0.5",
        ),
        ("ramp:\n  - {value: 0, color: green}\n  - {value: 9, color: '#ffffff'}\n", 10, "must be #rrggbb"),
        ("value_range: {min: 10, max: 0}\n", 9, "value_range min 10.0 must be below max 0.0"),
        ("resampling: lanczos\n", 9, "resampling"),
        (
            "ramp:\n  - {value: 0, color: '#000000'}\n  - {value: 9, color: '#ffffff'}\n"
            "breaks:\n  - {min: 0, color: '#ffffff', label: {ja: a, en: a}}\n",
            1,
            "not breaks and ramp",
        ),
        ("synthetic: true\n", 1, "サンプル（架空）"),
        ("colour_ramp: []\n", 9, "colour_ramp: Extra inputs are not permitted"),
    ],
)
def test_raster_problems_name_file_and_line(tmp_path, body, line, message):
    messages = _problems(tmp_path, body)
    assert any(message in m for m in messages), messages
    assert any(
        m.startswith(f"{tmp_path / 'disaster/depth.yaml'}:{line}:") and message in m for m in messages
    ), messages


def test_unknown_extension_and_bad_band_name(tmp_path):
    text = HEAD.replace("depth.tif", "depth.jp2").replace("name: depth", "name: 深さ")
    dept = tmp_path / "disaster"
    dept.mkdir()
    (dept / "_department.yaml").write_text("name: {ja: 防災, en: Disaster}\n", encoding="utf-8")
    (dept / "depth.yaml").write_text(text, encoding="utf-8")
    messages = [str(p) for p in load_catalog(tmp_path).problems]
    assert any(
        ":6: sources.0" in m and "cannot tell the raster format of 'depth.jp2'" in m for m in messages
    ), messages
    assert any(":8: bands.0.name" in m for m in messages), messages


def test_ids_are_unique_across_vectors_and_rasters(tmp_path):
    _problems(tmp_path, "")
    (tmp_path / "planning").mkdir()
    (tmp_path / "planning/_department.yaml").write_text("name: {ja: 計画, en: Planning}\n", encoding="utf-8")
    (tmp_path / "planning/depth.yaml").write_text(HEAD, encoding="utf-8")
    messages = [str(p) for p in load_catalog(tmp_path).problems]
    assert any("layer id 'depth' is already defined" in m for m in messages), messages


def test_cli_lists_rasters():
    listed = CliRunner().invoke(cli, ["layers", "list"]).output.splitlines()
    assert "flood_depth_sample\tpublic\tdisaster\traster\t想定浸水深 サンプル（架空）" in listed
    validated = CliRunner().invoke(cli, ["layers", "validate"])
    assert validated.exit_code == 0 and "(3 raster)" in validated.output
