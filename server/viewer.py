"""The viewer: its static files, its npm packages under /vendor, and its configuration."""

import os
import posixpath
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from server.ogcapi.config import HERE as OGCAPI_DIR
from server.publications import PREFIXES
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.layerdef import Access, LayerDef
from tsukuba_gis.settings import Settings

GSI_CREDIT = '<a href="https://maps.gsi.go.jp/development/ichiran.html" target="_blank">地理院タイル</a>'
PHOTO_CREDIT = (
    "Landsat8画像（GSI,TSIC,GEO Grid/AIST）, Landsat8画像（courtesy of the U.S. Geological"
    " Survey）, 海底地形（GEBCO）"
)
OSM_CREDIT = (
    '&copy; <a href="https://www.openstreetmap.org/copyright" target="_blank">OpenStreetMap</a> contributors'
)


def basemaps(settings: Settings) -> list[dict[str, Any]]:
    """Base maps, each URL a setting so a closed network can point at its own tile server."""
    return [
        {
            "id": "std",
            "title": {"ja": "地理院地図 標準", "en": "GSI standard"},
            "url": settings.basemap_std_url,
            "attribution": GSI_CREDIT,
            "minZoom": 2,
            "maxNativeZoom": 18,
        },
        {
            "id": "pale",
            "title": {"ja": "地理院地図 淡色", "en": "GSI pale"},
            "url": settings.basemap_pale_url,
            "attribution": GSI_CREDIT,
            "minZoom": 2,
            "maxNativeZoom": 18,
        },
        {
            "id": "photo",
            "title": {"ja": "地理院地図 写真", "en": "GSI aerial photo"},
            "url": settings.basemap_photo_url,
            "attribution": GSI_CREDIT,
            "minZoom": 2,
            "maxNativeZoom": 18,
            # GSI asks for the satellite credits where the seamless photo shows Landsat (small scales).
            "smallScaleAttribution": PHOTO_CREDIT,
            "smallScaleMaxZoom": 8,
        },
        {
            "id": "osm",
            "title": {"ja": "OpenStreetMap", "en": "OpenStreetMap"},
            "url": settings.basemap_osm_url,
            "attribution": OSM_CREDIT,
            "minZoom": 0,
            "maxNativeZoom": 19,
        },
        {"id": "none", "title": {"ja": "背景なし", "en": "No base map"}, "url": None, "attribution": ""},
    ]


def _layer(layer: LayerDef, audience: Access) -> dict[str, Any]:
    return {
        "department": layer.department,
        "title": layer.title.model_dump(),
        "geometry": layer.geometry,
        "synthetic": layer.synthetic,
        "title_field": layer.title_field,
        "style": layer.style.model_dump(),
        "fields": [{"name": f.name, "label": f.label.model_dump()} for f in layer.fields_for(audience)],
        "attribution": layer.license.attribution.model_dump(),
        "license": {"id": layer.license.id, "url": layer.license.url},
    }


def viewer_config(settings: Settings, audience: Access = "public") -> dict[str, Any]:
    """What the viewer needs besides the OGC API: styles, labels, departments, base maps.

    The staff config (``audience="internal"``) has every layer and field, and the staff API.
    """
    catalog = cached_catalog(settings.layers_dir)
    layers = catalog.public_layers() if audience == "public" else list(catalog.layers.values())
    departments = sorted(catalog.departments.values(), key=lambda d: (d.order, d.id))
    return {
        "title": {
            "ja": f"{settings.city_name_ja} 統合型GIS",
            "en": f"{settings.city_name_en} integrated GIS",
        },
        "api": PREFIXES[audience],
        "center": [36.083, 140.111],
        "zoom": 12,
        "basemaps": basemaps(settings),
        "departments": [{"id": d.id, "name": d.name.model_dump()} for d in departments],
        "layers": {layer.id: _layer(layer, audience) for layer in layers},
        # Staff search and point reports also see internal layers, behind the same wall.
        "endpoints": {
            name: f"{PREFIXES[audience].removesuffix('/api')}/{name}" for name in ("search", "point")
        },
    }


_TEMPLATE_ASSET = re.compile(r"local\.vendor \}\}/([^\"'\s]+)")
_CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)")


def vendor_files(modules: Path, templates: Path = OGCAPI_DIR / "templates") -> frozenset[str]:
    """The npm files the pages load: those the templates name, and what their CSS names.

    node_modules holds far more (package.json files, the lock file, sources, licences, tools):
    serving all of it published the dependency tree with versions to anyone who asked.
    """
    named = {
        m for path in templates.rglob("*.html") for m in _TEMPLATE_ASSET.findall(path.read_text("utf-8"))
    }
    files = {n for n in named if (modules / n).is_file()}
    for css in [n for n in files if n.endswith(".css")]:
        for ref in _CSS_URL.findall((modules / css).read_text("utf-8", errors="replace")):
            if ref.startswith(("data:", "#", "http:", "https:", "/")):
                continue
            target = posixpath.normpath(
                posixpath.join(posixpath.dirname(css), ref.split("?")[0].split("#")[0])
            )
            if not target.startswith("..") and (modules / target).is_file():
                files.add(target)
                # Leaflet's script finds its marker images next to the one its CSS names.
                folder = posixpath.dirname(target)
                files.update(f"{folder}/{p.name}" for p in (modules / folder).glob("*.png"))
    return frozenset(files)


class VendorFiles(StaticFiles):
    """StaticFiles over node_modules that serves only an allow-list of files (others: 404).

    Attributes:
        allowed: paths relative to node_modules, with forward slashes.
    """

    def __init__(self, directory: Path, allowed: frozenset[str]):
        super().__init__(directory=directory)
        self.allowed = allowed

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file if it is on the list, else 404 (as if it did not exist)."""
        if path.replace(os.sep, "/") not in self.allowed:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def mount(app: FastAPI, settings: Settings) -> None:
    """Add the viewer's routes; the static mount comes last because it catches every path."""

    @app.get("/viewer-config.json", include_in_schema=False)
    def config(request: Request) -> JSONResponse:
        return JSONResponse(viewer_config(request.app.state.settings))

    modules = settings.viewer_dir / "node_modules"
    if modules.is_dir():
        app.mount("/vendor", VendorFiles(modules, vendor_files(modules)), name="vendor")
    app.mount("/", StaticFiles(directory=settings.viewer_dir / "public", html=True), name="viewer")
