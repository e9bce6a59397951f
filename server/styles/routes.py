"""The style routes of one audience's OGC API: ``/styles`` (the whole map) and per collection.

``/styles`` lists the map style ``city`` (every layer of the audience, in the one order, bottom
first as the viewer stacks them); ``/collections/{id}/styles`` lists ``default``. A style is
answered as MapLibre/Mapbox GL JSON (``f=mapbox``, the default), and per collection also as
SLD 1.0 (``f=sld10``) and QGIS QML (``f=qml``); ``.../metadata`` describes it, legend included.
"""

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.snapshot import Snapshot, Snapshots
from server.styles import encode
from server.styles.encode import LAYER_STYLE, MAP_STYLE
from server.tiles.documents import tile_template
from tsukuba_gis.errors import BadRequest, NotFound
from tsukuba_gis.layerdef import Access

MEDIA = {
    "mapbox": "application/vnd.mapbox.style+json",
    "sld10": "application/vnd.ogc.sld+xml;version=1.0",
    "qml": "application/vnd.qgis.qml+xml",
}
TITLES = {"mapbox": "MapLibre / Mapbox GL style", "sld10": "OGC SLD 1.0", "qml": "QGIS QML"}
CACHE = {"Cache-Control": "public, max-age=60"}


def _template(base: str) -> Callable[[str], str]:
    def template(layer_id: str) -> str:
        url = tile_template(base, layer_id)
        return url.replace("{tileMatrix}", "{z}").replace("{tileRow}", "{y}").replace("{tileCol}", "{x}")

    return template


def _format(request: Request, allowed: tuple[str, ...]) -> str:
    chosen = request.query_params.get("f") or "mapbox"
    if chosen not in allowed:
        raise BadRequest(f"f: one of {', '.join(allowed)}")
    return chosen


def _stylesheets(url: str, formats: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"title": TITLES[f], "version": "8" if f == "mapbox" else ("1.0" if f == "sld10" else "3.22"),
         "native": True, "link": {"rel": "stylesheet", "type": MEDIA[f], "href": f"{url}?f={f}"}}
        for f in formats
    ]  # fmt: skip


def _ordered(snapshot: Snapshot) -> list:
    """Tile sets bottom first: polygons, then lines, then points (the viewer's stacking)."""
    rank = {"polygon": 0, "line": 1, "point": 2}
    found = [snapshot.tilesets[p.id] for p in snapshot.layers if p.id in snapshot.tilesets]
    return sorted(found, key=lambda t: rank.get(t.layer.geometry, 0))


def _tileset(snapshot: Snapshot, collection_id: str):
    tileset = snapshot.tilesets.get(collection_id)
    if tileset is None:
        raise NotFound("no such collection, or it has no style")
    return tileset


def _list(base: str, url: str, style_id: str, title: str, formats: tuple[str, ...]) -> dict[str, Any]:
    style_url = f"{url}/{style_id}"
    links = [
        {"rel": "stylesheet", "type": MEDIA[f], "title": TITLES[f], "href": f"{style_url}?f={f}"}
        for f in formats
    ]
    links.append(
        {
            "rel": "describedby",
            "type": "application/json",
            "title": "metadata",
            "href": f"{style_url}/metadata",
        }
    )
    return {
        "default": style_id,
        "styles": [{"id": style_id, "title": title, "links": links}],
        "links": [{"rel": "self", "type": "application/json", "href": url}],
    }


def _metadata(url: str, style_id: str, title: str, formats, layers: list) -> dict[str, Any]:
    return {
        "id": style_id,
        "title": title,
        "scope": "style",
        "stylesheets": _stylesheets(f"{url}/{style_id}", formats),
        "layers": [
            {
                "id": t.layer.id,
                "type": t.layer.geometry,
                "legend": encode.legend(t.layer),
                "legend_en": encode.legend(t.layer, "en"),
            }
            for t in layers
        ],  # fmt: skip
        "links": [{"rel": "self", "type": "application/json", "href": f"{url}/{style_id}/metadata"}],
    }


def _answer(snapshot: Snapshot, request: Request, kind: str) -> Response:
    base = snapshot.base_url
    collection_id = request.path_params.get("collection_id")
    style_id = request.path_params.get("style_id")
    if collection_id is None:
        url, formats, title = f"{base}/styles", ("mapbox",), "つくば市 統合型GIS / Tsukuba City GIS"
        layers = _ordered(snapshot)
        wanted = MAP_STYLE
    else:
        tileset = _tileset(snapshot, collection_id)
        url, formats = f"{base}/collections/{collection_id}/styles", ("mapbox", "sld10", "qml")
        title, layers, wanted = f"{tileset.layer.title.ja} / {tileset.layer.title.en}", [tileset], LAYER_STYLE
    if kind == "list":
        return JSONResponse(_list(base, url, wanted, title, formats), headers=CACHE)
    if style_id != wanted:
        raise NotFound("no such style")
    if kind == "metadata":
        return JSONResponse(_metadata(url, wanted, title, formats, layers), headers=CACHE)
    chosen = _format(request, formats)
    if chosen == "mapbox":
        body = encode.gl_style(title, layers, _template(base))
        return JSONResponse(body, media_type=MEDIA["mapbox"], headers=CACHE)
    text = encode.sld(layers[0].layer) if chosen == "sld10" else encode.qml(layers[0].layer)
    name = f"{collection_id}.{'sld' if chosen == 'sld10' else 'qml'}"
    return Response(
        text, media_type=MEDIA[chosen], headers={**CACHE, "Content-Disposition": f'inline; filename="{name}"'}
    )


def _endpoint(snapshots: Snapshots, audience: Access, kind: str) -> Callable:
    async def endpoint(request: Request) -> Response:
        snapshot = snapshots.ready(audience) or await run_in_threadpool(snapshots.get, audience)
        return _answer(snapshot, request, kind)

    return endpoint


def style_routes(snapshots: Snapshots, audience: Access) -> list[Route]:
    """The style routes, to mount with the audience's OGC API."""
    methods = ["GET", "HEAD"]
    collection = "/collections/{collection_id}/styles"
    return [
        Route("/styles", _endpoint(snapshots, audience, "list"), methods=methods),
        Route("/styles/{style_id}", _endpoint(snapshots, audience, "style"), methods=methods),
        Route("/styles/{style_id}/metadata", _endpoint(snapshots, audience, "metadata"), methods=methods),
        Route(collection, _endpoint(snapshots, audience, "list"), methods=methods),
        Route(collection + "/{style_id}", _endpoint(snapshots, audience, "style"), methods=methods),
        Route(
            collection + "/{style_id}/metadata", _endpoint(snapshots, audience, "metadata"), methods=methods
        ),
    ]
