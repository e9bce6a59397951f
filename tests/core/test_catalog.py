"""Layer definitions: the repo's are valid; a broken one is reported with file and line."""

from click.testing import CliRunner

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.cli.main import cli
from tsukuba_gis.settings import PROJECT_ROOT


def test_repo_definitions_are_valid():
    catalog = load_catalog(PROJECT_ROOT / "layers", PROJECT_ROOT / "sources")
    assert catalog.problems == []
    assert len(catalog.layers) >= 6
    assert len({layer.department for layer in catalog.layers.values()}) >= 3
    assert any(layer.access == "internal" for layer in catalog.layers.values())


def test_problems_name_file_and_line(tmp_path):
    dept = tmp_path / "disaster"
    dept.mkdir()
    (dept / "_department.yaml").write_text("name: {ja: 防災, en: Disaster}\n", encoding="utf-8")
    (dept / "bad.yaml").write_text(
        "title: {ja: 避難所, en: Shelters}\n"
        "description: {ja: 説明, en: Text}\n"
        "license:\n  attribution: {ja: 出典, en: Source}\n"
        "source: {path: x.shp}\n"
        "geometry: pointy\n"
        "fields:\n"
        "  - {name: 名前, label: {ja: 名前, en: Name}}\n",
        encoding="utf-8",
    )
    catalog = load_catalog(tmp_path)
    messages = [str(p) for p in catalog.problems]
    assert any(m.startswith(f"{dept / 'bad.yaml'}:6: geometry") for m in messages), messages
    assert any(":8: fields.0.name" in m for m in messages), messages


def test_cli_validate_and_list(tmp_path, monkeypatch):
    runner = CliRunner()
    result = runner.invoke(cli, ["layers", "validate"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(cli, ["layers", "list"])
    first_columns = [line.split("\t")[0] for line in listed.output.splitlines()]
    assert "shelters" in first_columns and "zoning" in first_columns
    monkeypatch.setenv("TSUKUBA_GIS_LAYERS_DIR", str(tmp_path))
    (tmp_path / "roads").mkdir()
    broken = runner.invoke(cli, ["layers", "validate"])
    assert broken.exit_code == 1
    assert "_department.yaml" in broken.output
