"""The run report: what staff read after a run, offline on LGWAN."""

import json
import re

import numpy as np
import pytest
import shapely
from handover import entry, site_features, write_csv, write_geojson

from etl.qamap import MapSample

# Anything the browser would fetch by itself from another host.
EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.I,
)


def _big_csv(project, n: int, bad_every: int = 0):
    rng = np.random.default_rng(1)
    rows = [["番号", "名称", "区分", "緯度", "経度"]]
    for i in range(n):
        lat, lon = 36.0 + rng.random() * 0.2, 140.0 + rng.random() * 0.2
        if bad_every and i % bad_every == 0:
            lat, lon = lon, lat  # swapped: a reject with a geometry
        rows.append([str(i + 1), f"地点{i + 1}", "x", f"{lat:.6f}", f"{lon:.6f}"])
    write_csv(project.sources / "many.csv", rows)
    project.define(
        "many",
        {"path": "many.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度"},
        id_field="site_id",
        title_field="name",
    )


def test_report_json_has_counts_decisions_warnings_timings(project):
    write_geojson(project.sources / "sites.geojson", site_features())
    project.define("sites", {"path": "sites.geojson"}, drop=[])
    project.run("sites")
    saved = json.loads((project.settings.data_dir / "report.json").read_text(encoding="utf-8"))
    assert saved["ok"] is True and saved["duration_s"] > 0
    (layer,) = saved["layers"]
    assert {k: layer[k] for k in ("status", "read", "loaded", "repaired", "rejected")} == {
        "status": "loaded",
        "read": 3,
        "loaded": 3,
        "repaired": 0,
        "rejected": 0,
    }
    assert layer["sources"][0]["decisions"]["crs"].startswith("EPSG:4326, as the file declares")
    assert set(layer["timings"]) >= {"read", "reproject", "validate", "schema", "write", "total"}
    assert layer["transforms"][0]["accuracy_m"] is not None
    assert "folium" not in json.dumps(saved) and "L.map" not in json.dumps(saved)  # HTML only


def test_report_html_is_closed_network_safe(project):
    _big_csv(project, 300, bad_every=50)
    project.run("many")
    html = (project.settings.data_dir / "report.html").read_text(encoding="utf-8")
    assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    assert "cdn.jsdelivr" not in html and "code.jquery.com" not in html
    assert "Leaflet 1.9.4" in html and "L.map(" in html  # Leaflet inlined, the map built on it
    assert html.count('class="folium-map"') == 1


def test_map_sample_is_bounded_and_uniform():
    sample = MapSample(seed=3, loaded_cap=200, marked_cap=50)
    for start in range(0, 10_000, 1000):  # ten chunks
        geoms = shapely.points(np.full(1000, 140.1), np.full(1000, 36.1))
        sample.add_loaded(geoms, lambda positions, s=start: positions + s)
    for i in range(80):
        sample.add_marked("rejected", "POINT (140 36)", f"row {i}")
    assert sample.loaded_total == 10_000 and len(sample.geoms) == 200
    chunks = np.bincount(np.asarray(sample.labels, dtype=int) // 1000, minlength=10)
    assert chunks.min() > 5  # every chunk is represented, not just the first
    collections = sample.collections()
    assert len(collections["loaded"]["features"]) == 200
    assert len(collections["rejected"]["features"]) == 50


def test_big_layer_map_stays_small(project):
    _big_csv(project, 20_000, bad_every=10)
    result = entry(project.run("many"), "many")
    assert (result.loaded, result.rejected) == (18_000, 2_000)
    html = (project.settings.data_dir / "report.html").read_text(encoding="utf-8")
    assert "loaded (2000 of 18000)" in html and "rejected (500)" in html
    assert len(html) < 1_500_000


@pytest.mark.browser
def test_report_map_shows_features_without_internet(project, browser):
    _big_csv(project, 200, bad_every=40)
    write_geojson(project.sources / "sites.geojson", site_features())
    project.define("sites", {"path": "sites.geojson"})
    project.run()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    fetched: list[str] = []

    def offline(route):
        fetched.append(route.request.url)
        local = route.request.url.startswith(("file:", "data:"))
        return route.continue_() if local else route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto((project.settings.data_dir / "report.html").as_uri())
    page.wait_for_function("document.querySelectorAll('.leaflet-container canvas').length >= 2")
    assert errors == []
    assert page.locator(".leaflet-container").count() == 2
    assert page.locator(".leaflet-control-layers-overlays label").count() >= 3  # loaded, rejected
    external = [u for u in fetched if not u.startswith(("file:", "data:"))]
    assert all("cyberjapandata.gsi.go.jp" in u for u in external), external  # tiles only
    context.close()
