"""bench/etl.py works: its generator makes what it promises and both of its cases run (small)."""

import json

import pyogrio
import pytest
import shapely


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("etl")


def test_generator_is_a_seeded_cp932_shapefile_without_cpg(bench, tmp_path):
    path = bench.generate(tmp_path / "a" / "parcels.shp", 2000, chunk=700)
    again = bench.generate(tmp_path / "b" / "parcels.shp", 2000, chunk=700)
    assert not path.with_suffix(".cpg").exists()
    assert path.with_suffix(".dbf").read_bytes() == again.with_suffix(".dbf").read_bytes()
    info = pyogrio.read_info(path, encoding="cp932")
    assert (info["features"], info["crs"], len(info["fields"])) == (2000, "EPSG:6677", 8)
    assert "筆番号" in info["fields"]
    frame = pyogrio.read_dataframe(path, encoding="cp932")
    assert frame["地目"].isin(["田", "畑", "宅地", "山林", "雑種地", "公衆用道路"]).all()


def test_both_cases_run_and_the_etl_loads_everything(bench, tmp_path):
    project = bench.prepare(tmp_path, 2000)
    etl = bench.child("etl", project)
    report = json.loads((project / "data" / "report.json").read_text(encoding="utf-8"))
    (layer,) = report["layers"]
    assert (layer["status"], layer["loaded"], layer["rejected"]) == ("loaded", 2000, 0)
    handed_over = pyogrio.read_dataframe(project / "sources" / "parcels.shp", encoding="cp932")
    invalid = int((~shapely.is_valid(handed_over.geometry.to_numpy())).sum())
    assert 0 < invalid < 20 and layer["repaired"] == invalid  # the generator's ~0.1 % bowties
    floor = bench.child("floor", project)  # (starts from an empty data folder)
    assert etl["features"] == floor["features"] == 2000
    assert etl["peak_rss_mb"] > 0 and etl["cpu_s"] > 0 and floor["seconds"] > 0
