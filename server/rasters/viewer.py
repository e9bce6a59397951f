"""A raster layer as the viewer's config describes it (viewer/src/layer/RasterLayer.js)."""

from typing import Any

from server.rasters.published import PublishedRaster

# How opaque a raster starts: a hazard over the base map, the terrain behind everything.
OPACITY = {"hazard": 0.75, "other": 0.6, "rgb": 1.0}


def raster_entry(raster: PublishedRaster, api: str) -> dict[str, Any]:
    """Title, department, tiles, zooms, bounds, legend and credit of one raster layer."""
    layer, style = raster.definition, raster.style
    legend = [{"color": e.color, "label": e.label.model_dump(), "value": e.value} for e in style.legend()]
    kind = "rgb" if style.kind == "rgb" else "hazard" if style.hazard else "other"
    return {
        "kind": "raster",
        "department": layer.department,
        "title": layer.title.model_dump(),
        "synthetic": layer.synthetic,
        "hazard": style.hazard,
        "style": style.kind,
        "tiles": f"{api}/collections/{layer.id}/map/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}",
        "minzoom": raster.minzoom,
        "maxzoom": raster.maxzoom,
        "bounds": list(raster.record.bbox),
        "opacity": OPACITY[kind],
        "legend": legend if style.kind != "rgb" else [],
        "unit": layer.bands[0].unit.model_dump() if layer.bands[0].unit else None,
        "attribution": layer.license.attribution.model_dump(),
        "license": {"id": layer.license.id, "url": layer.license.url},
    }
