"""The viewer draws areas from the OGC API vector tiles, with the same styles, and tiled features
still answer a click; the point query over tiled areas is unchanged."""

import json

from viewerpage import WAIT_MS, ZONED, open_viewer, point_report

FLOOD = (36.12, 140.08)  # inside the synthetic flood areas near the Sakura river


def test_areas_draw_from_tiles_with_their_category_colours(page, live_server, api):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    open_viewer(page, live_server, f"#map=12/{FLOOD[0]}/{FLOOD[1]}&layers=flood_sample")
    page.wait_for_selector(".tg-vector-tile path.tg-layer-flood_sample", timeout=WAIT_MS)
    flood = [u for u in requests if "/collections/flood_sample/" in u]
    assert any("/tiles/WebMercatorQuad/12/" in u for u in flood)
    assert not any("/items" in u for u in flood)  # no GeoJSON for a tiled layer
    style = api["config"]["layers"]["flood_sample"]["style"]
    colours = set(
        page.eval_on_selector_all(
            ".tg-vector-tile path.tg-layer-flood_sample", "paths => paths.map(p => p.getAttribute('fill'))"
        )
    )
    assert colours and colours <= {c["color"] for c in style["categories"]}
    # The tile's own data: the style's category field is there for every feature.
    assert page.locator('.tg-layer[data-layer="flood_sample"][data-status="loaded"]').count() == 1


def test_a_click_on_a_tiled_feature_shows_its_attributes(page, live_server, api):
    def config(route):
        body = route.fetch().json()
        body["layers"]["shelters"]["tiles"] = True  # the config may tile a point layer too
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route("**/viewer-config.json", config)
    item_requests = []
    page.on(
        "request",
        lambda request: (
            item_requests.append(request.url) if "/collections/shelters/items/" in request.url else None
        ),
    )
    open_viewer(page, live_server, "#map=14/36.0828/140.1115&layers=shelters")
    marker = page.wait_for_selector(".tg-vector-tile circle.tg-layer-shelters", timeout=WAIT_MS)
    # Click where the marker is drawn, as a user does: a point near a tile edge is also in the
    # neighbouring tile's buffer (tippecanoe keeps it there), whose copy is drawn on top.
    box = marker.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.wait_for_selector(".leaflet-popup .tg-popup", timeout=WAIT_MS)
    names = {f["properties"]["name"] for f in api["shelters"]["features"]}
    assert popup.query_selector(".tg-popup-title").inner_text() in names
    # Then the whole feature from /items/{id}: every public field, not only the tile's.
    page.wait_for_selector(".leaflet-popup .tg-popup-fields th:has-text('住所')", timeout=WAIT_MS)
    assert item_requests
    # The click opened the popup only: no point report was asked for.
    assert page.locator(".tg-point h3").count() == 0


def test_the_point_query_over_tiled_areas_is_unchanged(page, live_server):
    open_viewer(page, live_server, f"#map=16/{ZONED[0]}/{ZONED[1]}&layers=zoning")
    page.wait_for_selector(".tg-vector-tile path.tg-layer-zoning", timeout=WAIT_MS)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    point_report(page)
    assert "第1種低層住居専用地域" in page.inner_text(".tg-point")


def test_point_layers_switch_to_tiles_when_their_tile_set_is_dense(page, live_server):
    def dense(route):  # as the server says it for tens of thousands of points
        body = route.fetch().json()
        body["layers"]["shelters"]["tilejson"]["minzoom"] = 11  # the TileJSON the config carries
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    requests = []
    page.on(
        "request",
        lambda request: requests.append(request.url) if "/collections/shelters/" in request.url else None,
    )
    page.route("**/viewer-config.json", dense)
    open_viewer(page, live_server, "#map=14/36.0828/140.1115&layers=shelters")
    page.wait_for_selector(".tg-vector-tile circle.tg-layer-shelters", timeout=WAIT_MS)
    assert not any("/items" in url for url in requests)
    # The switch and the tiled layer it made read the TileJSON of the config: no tilesets list,
    # no TileJSON request (server/viewer.py puts it there), only tiles.
    assert not any("f=tilejson" in url or url.split("?")[0].endswith("/shelters/tiles") for url in requests)
    assert any("/shelters/tiles/WebMercatorQuad/14/" in url for url in requests)
    # Sparse (the real tile set, from zoom 8): GeoJSON markers, every attribute at hand.
    page.unroute("**/viewer-config.json")
    open_viewer(page, live_server, "#map=14/36.0828/140.1115&layers=shelters")
    page.wait_for_selector("path.tg-layer-shelters", timeout=WAIT_MS)
    assert page.locator(".tg-vector-tile circle.tg-layer-shelters").count() == 0
