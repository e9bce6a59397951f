"""OGC API - Styles: the map style and each layer's, from layers/ style:, read by real clients.

QGIS 3.22 (Debian python3-qgis, in a subprocess) loads a layer over OGC API - Features and
applies its QML; MapLibre GL JS (npm) renders the map style from the vector tiles in Chromium.
"""

import os
import subprocess
import textwrap
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT

CATALOG = load_catalog(PROJECT_ROOT / "layers")
MAPLIBRE = PROJECT_ROOT / "viewer" / "node_modules" / "maplibre-gl" / "dist"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-qgis lives


@pytest.fixture(scope="module")
def client(each_live_server):
    with httpx.Client(base_url=each_live_server.url, timeout=30) as client:
        yield client


def test_map_style_draws_every_public_layer_from_its_tiles(client, each_live_server):
    listing = client.get("/api/styles").json()
    assert listing["default"] == "city" and listing["styles"][0]["id"] == "city"
    response = client.get("/api/styles/city", params={"f": "mapbox"})
    assert response.headers["content-type"] == "application/vnd.mapbox.style+json"
    style = response.json()
    assert style["version"] == 8 and "glyphs" not in style and "sprite" not in style  # nothing external
    public = {layer.id for layer in CATALOG.public_layers() if layer.geometry}
    assert set(style["sources"]) <= public and "shelters_staff" not in style["sources"]
    for source in style["sources"].values():
        assert source["tiles"][0].startswith(f"{each_live_server.url}/api/collections/")
    used = {layer["source"] for layer in style["layers"] if "source" in layer}
    assert used == set(style["sources"])
    tile = client.get(style["sources"]["shelters"]["tiles"][0].format(z=8, y=100, x=227))
    assert tile.status_code in (200, 204)


def test_categorised_layer_in_three_languages(client):
    zoning = CATALOG.layers["zoning"]
    gl = client.get("/api/collections/zoning/styles/default", params={"f": "mapbox"}).json()
    fill = next(layer for layer in gl["layers"] if layer["type"] == "fill")
    expression = fill["paint"]["fill-color"]
    assert expression[:2] == ["match", ["get", "YoutoCode"]]
    assert expression[2:4] == [zoning.style.categories[0].value, zoning.style.categories[0].color]
    sld = client.get("/api/collections/zoning/styles/default", params={"f": "sld10"})
    assert sld.headers["content-type"].startswith("application/vnd.ogc.sld+xml")
    rules = ET.fromstring(sld.content).findall(".//{http://www.opengis.net/sld}Rule")
    assert len(rules) == len(zoning.style.categories) + 1  # and the others
    assert rules[0].findtext("{http://www.opengis.net/sld}Title") == zoning.style.categories[0].label.ja
    qml = ET.fromstring(client.get("/api/collections/zoning/styles/default", params={"f": "qml"}).content)
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "YoutoCode"
    metadata = client.get("/api/collections/zoning/styles/default/metadata").json()
    legend = metadata["layers"][0]["legend"]
    assert legend[0] == {
        "label": zoning.style.categories[0].label.ja,
        "value": zoning.style.categories[0].value,
        "stroke": zoning.style.color,
        "fill": zoning.style.categories[0].color,
        "fill_opacity": zoning.style.fill_opacity,
    }
    tileset = client.get("/api/collections/zoning/tiles/WebMercatorQuad").json()
    assert tileset["style"]["links"][0]["href"].endswith("/collections/zoning/styles/default?f=mapbox")


@pytest.mark.parametrize(
    "path",
    ["/api/styles/other", "/api/collections/shelters_staff/styles", "/api/collections/shelters/styles/x"],
)
def test_unknown_or_internal_styles_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response.json()["code"] == "NotFound"
    assert "shelters_staff" not in response.text
    bad = client.get("/api/collections/shelters/styles/default", params={"f": "svg"})
    assert bad.status_code == 400 and "f:" in bad.json()["description"]


QGIS_SCRIPT = textwrap.dedent(
    """
    import sys, tempfile, urllib.request
    from qgis.core import QgsApplication, QgsVectorLayer
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    base, name = sys.argv[1], sys.argv[2]
    layer = QgsVectorLayer(f"url='{base}' typename='{name}'", name, "OAPIF")
    qml = urllib.request.urlopen(f"{base}/collections/{name}/styles/default?f=qml", timeout=20).read()
    path = tempfile.mktemp(suffix=".qml")
    open(path, "wb").write(qml)
    message, ok = layer.loadNamedStyle(path)
    renderer = layer.renderer()
    print("RESULT", layer.isValid(), layer.featureCount(), ok, renderer.type())
    if renderer.type() == "categorizedSymbol":
        for c in renderer.categories():
            print("CATEGORY", c.value(), c.symbol().color().name(), c.label())
    else:
        print("SYMBOL", renderer.symbol().color().name())
    app.exitQgis()
    """
)


def _qgis(url: str, layer: str) -> list[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QGIS_PREFIX_PATH": "/usr", "NO_PROXY": "127.0.0.1"}
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", QGIS_SCRIPT, f"{url}/api", layer],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if line.startswith(("RESULT", "CATEGORY", "SYMBOL"))]


def _has_qgis() -> bool:
    return Path(SYSTEM_PYTHON).exists() and Path("/usr/lib/python3/dist-packages/qgis").is_dir()


@pytest.mark.skipif(not _has_qgis(), reason="Debian python3-qgis (make test-deps) not installed")
def test_qgis_loads_a_layer_with_its_qml(live_server):
    zoning = CATALOG.layers["zoning"]
    lines = _qgis(live_server.url, "zoning")
    assert lines[0].split()[1:] == ["True", "1", "True", "categorizedSymbol"]
    first = lines[1].split(maxsplit=3)
    assert first[1:] == [
        str(zoning.style.categories[0].value),
        zoning.style.categories[0].color.lower(),
        zoning.style.categories[0].label.ja,
    ]
    # shelters are drawn by their live status (issue 13): a category per allowed value
    status = CATALOG.layers["shelters"].style.categories
    shelters = _qgis(live_server.url, "shelters")
    assert shelters[0].split()[1:] == ["True", "114", "True", "categorizedSymbol"]
    fill = CATALOG.layers["shelters"].style.fill_color.lower()
    assert [line.split(maxsplit=3)[1:] for line in shelters[1:]] == [
        *([c.value, c.color.lower(), c.label.ja] for c in status),
        [fill, "その他"],  # any other value: the layer's own colour (value "": QGIS's else category)
    ]
    # a layer of one symbol: its fill colour
    sites = _qgis(live_server.url, "emergency_sites")
    count = httpx.get(f"{live_server.url}/api/collections/emergency_sites/items", params={"limit": 1}).json()
    assert sites[0].split()[1:] == ["True", str(count["numberMatched"]), "True", "singleSymbol"]
    assert sites[1] == f"SYMBOL {CATALOG.layers['emergency_sites'].style.fill_color.lower()}"


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>map</title>
<link rel="stylesheet" href="/maplibre-gl.css"><script src="/maplibre-gl.js"></script></head>
<body style="margin:0"><div id="map" style="width:800px;height:600px"></div></body></html>"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self):
        files = {"/maplibre-gl.js": "text/javascript", "/maplibre-gl.css": "text/css"}
        if self.path in files:
            body, kind = (MAPLIBRE / self.path.lstrip("/")).read_bytes(), files[self.path]
        else:
            body, kind = PAGE.encode(), "text/html"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def map_page():
    if not (MAPLIBRE / "maplibre-gl.js").is_file():
        pytest.fail(f"{MAPLIBRE} is missing: run `make install` (npm ci in viewer/)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


RENDER = """async (styleUrl) => {
  const map = new maplibregl.Map({container: 'map', style: styleUrl, center: [140.11, 36.08], zoom: 12,
                                   attributionControl: false, fadeDuration: 0});
  await new Promise((resolve, reject) => {
    map.once('idle', resolve); map.on('error', (e) => reject(String(e.error && e.error.message)));
    setTimeout(() => reject('no idle within 30 s'), 30000);
  });
  const features = map.queryRenderedFeatures();
  const canvas = map.getCanvas();
  return {layers: [...new Set(features.map((f) => f.layer.id))], count: features.length,
          size: [canvas.width, canvas.height]};
}"""


@pytest.mark.browser
def test_maplibre_renders_the_map_style(browser, live_server, map_page):
    context = browser.new_context(viewport={"width": 800, "height": 600})
    try:
        page = context.new_page()
        page.goto(map_page)
        rendered = page.evaluate(RENDER, f"{live_server.url}/api/styles/city?f=mapbox")
        assert rendered["count"] > 50
        assert {"shelters", "towns"} <= set(rendered["layers"])
        assert any(name.endswith("-fill") for name in rendered["layers"])  # a polygon layer too
        shot = page.locator("#map").screenshot()
        assert len(shot) > 20_000  # a drawn map, not a blank canvas
    finally:
        context.close()
