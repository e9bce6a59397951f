"""Raster layers in the viewer (headless Chromium): in the panel with legend and opacity, drawn
from the map tiles in a pane under every vector pane, and first in the point report when they
are hazards (想定浸水深 then 標高)."""

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from viewerpage import WAIT_MS, checkbox, open_viewer, point_report

from tsukuba_gis.store import open_store

pytestmark = pytest.mark.browser
FLOOD, DEM = "flood_depth_sample", "dem_sample"


@pytest.fixture(scope="module")
def flood_point(sample_settings) -> tuple[float, float]:
    """(lat, lon) of a cell in the 0.5–3.0 m class whose neighbours are in it too."""
    record = open_store(sample_settings.store_url).current_raster(FLOOD)
    with rasterio.open(record.path(sample_settings.rasters_path)) as ds:
        data = ds.read(1)
        ok = (data >= 0.5) & (data < 3.0)
        inner = ok[2:-2, 2:-2] & ok[:-4, 2:-2] & ok[4:, 2:-2] & ok[2:-2, :-4] & ok[2:-2, 4:]
        row, col = (int(v) + 2 for v in np.argwhere(inner)[len(np.argwhere(inner)) // 2])
        lon, lat = Transformer.from_crs(ds.crs, "EPSG:4326", always_xy=True).transform(*ds.xy(row, col))
    return lat, lon


def test_rasters_are_in_the_panel_with_legend_and_under_the_vectors(page, live_server):
    open_viewer(page, live_server, "#map=12/36.10/140.10")
    for layer_id in (FLOOD, DEM):
        assert page.is_checked(checkbox(layer_id)), layer_id  # shown at start
    legend = page.locator(f'.tg-layer[data-layer="{FLOOD}"] .tg-raster-legend li')
    assert legend.count() == 6 and "0.5〜3.0m" in legend.nth(1).inner_text()
    page.wait_for_selector(f".tg-raster-{FLOOD} img.leaflet-tile-loaded", timeout=WAIT_MS)
    zindex = page.evaluate(
        "() => getComputedStyle(document.querySelector('.leaflet-tg-rasters-pane')).zIndex"
    )
    vector_panes = page.evaluate(
        "() => [...document.querySelectorAll('.leaflet-pane')].filter(p => /tg-pane-/.test(p.className))"
        ".map(p => Number(getComputedStyle(p).zIndex))"
    )
    assert vector_panes and int(zindex) < min(vector_panes)
    src = page.get_attribute(f".tg-raster-{FLOOD} img.leaflet-tile-loaded", "src")
    assert f"/api/collections/{FLOOD}/map/tiles/WebMercatorQuad/" in src
    # Opacity follows the slider; unticking removes the tiles.
    page.fill(f'.tg-layer[data-layer="{FLOOD}"] input.tg-opacity', "30")
    page.dispatch_event(f'.tg-layer[data-layer="{FLOOD}"] input.tg-opacity', "input")
    opacity = page.evaluate(f"() => getComputedStyle(document.querySelector('.tg-raster-{FLOOD}')).opacity")
    assert abs(float(opacity) - 0.3) < 0.01
    page.uncheck(checkbox(FLOOD))
    assert page.locator(f".tg-raster-{FLOOD}").count() == 0
    assert "tg-rasters" not in (page.evaluate("() => location.hash") or "")


def test_a_tap_in_the_flood_area_reports_depth_first_then_elevation(page, live_server, flood_point):
    lat, lon = flood_point
    open_viewer(page, live_server, f"#map=17/{lat}/{lon}")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    point_report(page)
    page.wait_for_selector(f'.tg-point-raster[data-layer="{FLOOD}"]', timeout=WAIT_MS)
    text = page.inner_text(".tg-point")
    depth = page.inner_text(f'.tg-point-raster[data-layer="{FLOOD}"] li[data-band="depth"]')
    assert depth.startswith("想定浸水深 0.5〜3.0m（")
    elevation = page.inner_text(f'.tg-point-raster[data-layer="{DEM}"] li[data-band="elevation"]')
    assert elevation.startswith("標高 ") and elevation.endswith(" m")
    headings = page.locator(".tg-point h3").all_inner_texts()
    assert headings[0] == "災害の危険"  # the hazards lead; the depth is shown with them
    in_hazards = f'.tg-point-section[data-section="hazard"] .tg-point-raster[data-layer="{FLOOD}"]'
    assert page.locator(in_hazards).count() == 1
    assert headings.index("地形など") > 1 and text.index("想定浸水深 0.5") < text.index("標高 ")
    assert "サンプル（架空）" in page.inner_text(f'.tg-point-raster[data-layer="{FLOOD}"] h4')
