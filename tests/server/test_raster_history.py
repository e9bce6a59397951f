"""A raster's history on both stores: a new version or a rollback changes what is served (point
value, map tile, coverage) within about a second, without a restart; the old tiles are not
served again from any cache (their keys carry the version)."""

import time

import numpy as np
import pytest
import rasterio
import yaml
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

from etl.raster import versions
from etl.runner import run_etl
from server.app import create_app
from tsukuba_gis.opendata import read_manifest
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store

ORIGIN = (23000.0, 8000.0)  # near つくば駅, EPSG:6677 easting/northing
DEFINITION = {
    "kind": "raster",
    "title": {"ja": "浸水深 テスト", "en": "Depth test"},
    "description": {"ja": "テスト用", "en": "For tests"},
    "keywords": ["ハザード"],
    "license": {"attribution": {"ja": "テスト", "en": "Test"}},
    "source": {"path": "depth.tif"},
    "bands": [{"name": "depth", "label": {"ja": "浸水深", "en": "Depth"}, "unit": "m"}],
    "value_range": {"min": 0, "max": 30},
    "breaks": [
        {"min": 0.0, "max": 3.0, "color": "#ffd8c0", "label": {"ja": "3m未満", "en": "under 3 m"}},
        {"min": 3.0, "color": "#ffb7b7", "label": {"ja": "3m以上", "en": "3 m and deeper"}},
    ],
}


def hand_over(root, depth: float) -> None:
    data = np.full((1, 40, 30), depth, dtype="float32")
    profile = {"driver": "GTiff", "width": 30, "height": 40, "count": 1, "dtype": "float32"}
    profile.update(crs="EPSG:6677", transform=from_origin(*ORIGIN, 10, 10), nodata=-9999.0)
    with rasterio.open(root / "sources" / "depth.tif", "w", **profile) as ds:
        ds.write(data)


@pytest.fixture(params=["gpkg", "postgis"])
def settings(request, tmp_path) -> Settings:
    for sub in ("layers/test", "sources", "data"):
        (tmp_path / sub).mkdir(parents=True)
    (tmp_path / "layers/test/_department.yaml").write_text("name: {ja: テスト, en: Test}\n", encoding="utf-8")
    (tmp_path / "layers/test/depth.yaml").write_text(yaml.safe_dump(DEFINITION, allow_unicode=True), "utf-8")
    store = request.getfixturevalue("postgis_url") if request.param == "postgis" else None
    return Settings(
        data_dir=tmp_path / "data",
        layers_dir=tmp_path / "layers",
        sources_dir=tmp_path / "sources",
        store=store,
        public_url="http://testserver",
    )


def served(client, lon: float, lat: float) -> tuple[float, str, float]:
    """(depth at the point, the tile's ETag, the coverage's value there)."""
    report = client.get("/point", params={"lat": lat, "lon": lon}).json()
    (entry,) = report["rasters"]
    tile = client.get("/api/collections/depth/map/tiles/WebMercatorQuad/16/25719/58270")
    assert tile.status_code == 200, tile.text
    with MemoryFile(client.get("/api/collections/depth/coverage").content) as memory, memory.open() as ds:
        x, y = Transformer.from_crs("EPSG:4326", "EPSG:6677", always_xy=True).transform(lon, lat)
        value = float(next(ds.sample([(x, y)]))[0])
    return entry["here"][0]["value"], tile.headers["etag"], value


def test_a_new_version_and_a_rollback_are_served_within_a_second(settings, tmp_path):
    hand_over(tmp_path, 1.0)
    assert run_etl(settings, quiet=True).ok
    lon, lat = Transformer.from_crs("EPSG:6677", "EPSG:4326", always_xy=True).transform(23150.0, 7800.0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        v1 = served(client, lon, lat)
        assert v1[0] == 1.0 and v1[2] == 1.0
        hand_over(tmp_path, 4.0)
        assert run_etl(settings, quiet=True).ok
        v2 = wait_for(client, lon, lat, 4.0)
        assert v2[1] != v1[1] and v2[2] == 4.0  # a new tile, a new coverage
        report = client.get("/point", params={"lat": lat, "lon": lon}).json()
        assert report["rasters"][0]["here"][0]["class"]["ja"] == "3m以上"
        assert read_manifest(settings.data_dir, "depth")["version"] == 2
        versions.activate(settings, "depth")  # what `tsukuba-gis etl rollback depth` does
        assert open_store(settings.store_url).current_raster("depth").version == 1
        back = wait_for(client, lon, lat, 1.0)
        assert back == v1  # the same tile (ETag) and values as before
        assert read_manifest(settings.data_dir, "depth")["version"] == 1  # open data followed


def wait_for(client, lon: float, lat: float, depth: float) -> tuple[float, str, float]:
    """Poll until the point says ``depth``: at most 3 s, and it must take about a second at most."""
    started = time.monotonic()
    while time.monotonic() - started < 3:
        found = served(client, lon, lat)
        if found[0] == depth:
            assert time.monotonic() - started < 1.6, "the snapshot refreshes at most a second late"
            return found
        time.sleep(0.05)
    raise AssertionError(f"still serving {found} 3 s after the change")
