"""QGIS 3.22 (Debian python3-qgis, in a subprocess) draws the city's vector tiles, on both stores.

QGIS 3.22 reads no TileJSON: its ``vectortile`` provider takes an XYZ URL template
(``type=xyz&url=.../{z}/{y}/{x}&zmin=..&zmax=..``) and MapLibre GL styles through
QgsMapBoxGlStyleConverter — what README tells a QGIS user to do. Its Python bindings expose no
MVT decoder, so the tiles are checked by rendering: pixels in the layer's own colour where the
features are, none outside the city.
"""

import os
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest
from pyproj import Transformer

from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT

CATALOG = load_catalog(PROJECT_ROOT / "layers")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, where python3-qgis lives
LAYER = "shelters"

QGIS_SCRIPT = textwrap.dedent(
    """
    import json, sys, urllib.request
    from qgis.core import (QgsApplication, QgsVectorTileLayer, QgsMapBoxGlStyleConverter,
        QgsMapSettings, QgsMapRendererSequentialJob, QgsRectangle, QgsCoordinateReferenceSystem)
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    uri, style_url, name, colour = sys.argv[1:5]
    layer = QgsVectorTileLayer(uri, name)
    print("VALID", layer.isValid(), layer.sourceMinZoom(), layer.sourceMaxZoom(), layer.crs().authid())
    converter = QgsMapBoxGlStyleConverter()
    style = json.loads(urllib.request.urlopen(style_url, timeout=20).read())
    ok = converter.convert(style) == QgsMapBoxGlStyleConverter.Success
    renderer = converter.renderer()
    # The map style's background would cover the image: keep the layer's own style only.
    renderer.setStyles([s for s in renderer.styles() if s.layerName() == name])
    layer.setRenderer(renderer)
    print("STYLE", ok, len(renderer.styles()))
    for box in sys.argv[5:]:
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
        settings.setExtent(QgsRectangle(*[float(v) for v in box.split(",")]))
        settings.setOutputSize(QSize(512, 512))
        settings.setBackgroundColor(QColor(255, 255, 255))
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        names = [image.pixelColor(i, j).name() for i in range(512) for j in range(512)]
        print("DRAWN", sum(n != "#ffffff" for n in names), sum(n == colour for n in names), len(job.errors()))
    app.exitQgis()
    """
)


def _has_qgis() -> bool:
    return Path(SYSTEM_PYTHON).exists() and Path("/usr/lib/python3/dist-packages/qgis").is_dir()


def _qgis(*args: str) -> list[list[str]]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QGIS_PREFIX_PATH": "/usr", "NO_PROXY": "127.0.0.1"}
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", QGIS_SCRIPT, *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line.split() for line in done.stdout.splitlines() if line.startswith(("VALID", "STYLE", "DRAWN"))]


@pytest.mark.skipif(not _has_qgis(), reason="Debian python3-qgis (make test-deps) not installed")
def test_qgis_322_draws_the_xyz_vector_tiles_with_the_map_style(each_live_server):
    api = f"{each_live_server.url}/api"
    tileset = httpx.get(f"{api}/collections/{LAYER}/tiles/WebMercatorQuad").json()
    zooms = [int(limit["tileMatrix"]) for limit in tileset["tileMatrixSetLimits"]]
    template = f"{api}/collections/{LAYER}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    uri = f"type=xyz&url={template}&zmin={min(zooms)}&zmax={max(zooms)}"
    (west, south), (east, north) = tileset["boundingBox"]["lowerLeft"], tileset["boundingBox"]["upperRight"]
    to_3857 = Transformer.from_crs("OGC:CRS84", "EPSG:3857", always_xy=True)
    city = ",".join(str(v) for v in to_3857.transform_bounds(west, south, east, north))
    elsewhere = ",".join(str(v) for v in to_3857.transform_bounds(139.60, 35.60, 139.70, 35.70))  # Tokyo
    colour = CATALOG.layers[LAYER].style.fill_color.lower()

    lines = _qgis(uri, f"{api}/collections/{LAYER}/styles/default?f=mapbox", LAYER, colour, city, elsewhere)
    assert lines[0] == ["VALID", "True", str(min(zooms)), str(max(zooms)), "EPSG:3857"]
    assert lines[1] == ["STYLE", "True", "1"]
    drawn, coloured, errors = (int(v) for v in lines[2][1:])
    # The shelters (114 circles), their centres in the style's colour.
    assert drawn > 2000 and coloured > 10 and errors == 0, (drawn, coloured)
    assert lines[3][1:] == ["0", "0", "0"]  # nothing outside the city's tiles
