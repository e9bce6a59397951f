"""The viewer: its static files, its npm packages under /vendor, and its configuration."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.staticfiles import StaticFiles

from server.rasters.viewer import raster_entry
from server.snapshot import PREFIXES, Snapshot, Snapshots, audience_endpoint
from server.tiles.documents import tilejson
from server.vendor import VendorFiles, vendor_files
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


def _with_tiles(snapshot: Snapshot, layer: LayerDef) -> dict[str, Any]:
    """A layer's config, with the TileJSON of its tile set inline when it has one: the same
    document as ``/collections/{id}/tiles/WebMercatorQuad?f=tilejson`` (two round trips fewer
    per tiled layer on a phone)."""
    entry = _layer(layer, snapshot.audience)
    tileset = snapshot.tilesets.get(layer.id)
    if tileset is not None:
        entry["tilejson"] = tilejson(snapshot.base_url, tileset)
    return entry


def viewer_config(settings: Settings, snapshot: Snapshot) -> dict[str, Any]:
    """What the viewer needs besides the OGC API: styles, labels, departments, base maps.

    From the audience's snapshot: the staff config has every layer and field, and the staff API.
    """
    audience = snapshot.audience
    return {
        "title": {
            "ja": f"{settings.city_name_ja} 統合型GIS",
            "en": f"{settings.city_name_en} integrated GIS",
        },
        "api": PREFIXES[audience],
        "center": [36.083, 140.111],
        "zoom": 12,
        "basemaps": basemaps(settings),
        "departments": [{"id": d.id, "name": d.name.model_dump()} for d in snapshot.departments],
        "layers": {layer.id: _with_tiles(snapshot, layer.definition) for layer in snapshot.layers},
        # Raster layers (map tiles under the vector layers, viewer/src/layer/RasterLayer.js).
        "rasters": {raster.id: raster_entry(raster, PREFIXES[audience]) for raster in snapshot.rasters},
        # Staff search and point reports also see internal layers, behind the same wall.
        "endpoints": {
            name: f"{PREFIXES[audience].removesuffix('/api')}/{name}" for name in ("search", "point")
        },
    }


def config_endpoint(snapshots: Snapshots, audience: Access) -> Callable:
    """``/viewer-config.json`` of one audience (the staff one lives behind the /internal wall)."""

    def answer(request: Request, snapshot: Snapshot) -> JSONResponse:
        return JSONResponse(viewer_config(snapshots.settings, snapshot))

    return audience_endpoint(answer, snapshots, audience)


def mount(app: FastAPI, settings: Settings, snapshots: Snapshots) -> None:
    """Add the viewer's routes; the static mount comes last because it catches every path."""
    app.add_route("/viewer-config.json", config_endpoint(snapshots, "public"), include_in_schema=False)
    modules = settings.viewer_dir / "node_modules"
    if modules.is_dir():
        app.mount("/vendor", VendorFiles(modules, vendor_files(modules)), name="vendor")
    app.mount("/", StaticFiles(directory=settings.viewer_dir / "public", html=True), name="viewer")
