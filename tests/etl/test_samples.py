"""The repo's real sample department files load completely and correctly."""

from pathlib import Path

import pyogrio
import pytest
from pyproj import Geod

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import Query, open_store

SOURCES = PROJECT_ROOT / "sources"


@pytest.fixture(scope="module")
def report(each_sample_report) -> dict:
    return each_sample_report


@pytest.fixture(scope="module")
def store(each_sample_settings):
    return open_store(each_sample_settings.store_url)


def _source_rows(path: Path, layer: str | None) -> int:
    if path.suffix == ".csv":
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip()) - 1  # minus the header
    return pyogrio.read_info(path, layer=layer)["features"]


def test_every_layer_loads(report):
    catalog = load_catalog(PROJECT_ROOT / "layers")
    assert report["ok"] is True
    assert {r["layer_id"] for r in report["layers"]} == set(catalog.layers)
    assert all(r["status"] == "loaded" for r in report["layers"])


@pytest.mark.parametrize(
    "layer_id", ["shelters", "emergency_sites", "shelters_staff", "flood_sample", "towns", "city_boundary"]
)
def test_counts_equal_the_source(report, layer_id):
    catalog = load_catalog(PROJECT_ROOT / "layers")
    source = catalog.get(layer_id).sources[0]
    expected = _source_rows(SOURCES / source.path, source.layer)
    entry = next(r for r in report["layers"] if r["layer_id"] == layer_id)
    assert entry["read"] == expected
    assert entry["loaded"] + entry["rejected"] == expected


def test_towns_without_coordinates_are_quarantined_with_reason(report, store):
    entry = next(r for r in report["layers"] if r["layer_id"] == "towns")
    assert (entry["read"], entry["loaded"], entry["rejected"]) == (314, 311, 3)
    rejects = store.rejects("towns", entry["version"])
    assert sorted(r.attributes["大字町丁目名"] for r in rejects) == ["さくらの森", "春風台", "流星台"]
    assert all("no coordinates" in r.reason for r in rejects)
    assert all(r.source == "planning/tsukuba_towns_sjis.csv" and r.row > 0 for r in rejects)


def test_cp932_shapefile_without_cpg_reads_japanese(store, report):
    entry = next(r for r in report["layers"] if r["layer_id"] == "shelters")
    assert "cp932" in entry["sources"][0]["decisions"]["encoding"]
    page = store.query(store.current("shelters"), Query(limit=200))
    names = [p["name"] for p in page.properties]
    assert "桜中学校" in names
    assert all(name and "\ufffd" not in name for name in names)
    assert any(p["address"].startswith("茨城県つくば市") for p in page.properties)


def test_reprojected_shelter_lands_within_half_a_metre(store):
    # GSI publishes 桜中学校 (共通ID E0822000021111) at 140.129771 E, 36.098502 N (JGD2011);
    # the department's shapefile holds it in plane rectangular zone IX (EPSG:6677).
    import shapely

    page = store.get(store.current("shelters"), "E0822000021111")
    point = shapely.from_wkb(page.wkb[0])
    _, _, distance = Geod(ellps="GRS80").inv(point.x, point.y, 140.129771, 36.098502)
    assert distance < 0.5


def test_rerun_skips_unchanged_layers(each_sample_settings):
    from etl.runner import run_etl

    again = run_etl(each_sample_settings, ["shelters"], quiet=True)
    assert [r.status for r in again.layers] == ["skipped"]
