"""The raster collections in the generated pygeoapi config, and the provider that describes them.

pygeoapi lists each raster layer among the collections (JSON, HTML, JSON-LD), with its schema
(one property per band) and its extent, through :class:`CoverageDescription`. The coverage,
its domain set and range type, the map tiles and the legend have their own routes
(``coverage.py``, ``tiles.py``): pygeoapi never reads a raster file.
"""

from typing import Any

from pygeoapi.provider.base import BaseProvider, ProviderQueryError

from server.rasters.published import PublishedRaster
from tsukuba_gis.settings import Settings

NAME = "server.rasters.config.CoverageDescription"
REL = "http://www.opengis.net/def/rel/ogc/1.0"
GEOTIFF = "image/tiff; application=geotiff"
GEOTIFF_FORMAT = "GTiff"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def _i18n(text) -> dict[str, str]:
    return {"ja": text.ja, "en": text.en}


def band_fields(raster: PublishedRaster) -> dict[str, dict[str, Any]]:
    """One schema property per band: its label, number type and unit."""
    integer = raster.record.dtype.startswith(("int", "uint"))
    fields = {}
    for band in raster.definition.bands:
        field = {"title": f"{band.label.ja} / {band.label.en}", "type": "integer" if integer else "number"}
        if band.unit:
            field["x-ogc-unit"] = band.unit.en
        fields[band.name] = field
    return fields


def _links(raster: PublishedRaster, settings: Settings, base_url: str) -> list[dict[str, str]]:
    layer, url = raster.definition, f"{base_url}/collections/{raster.id}"
    links = [
        {"type": "text/html", "rel": "license", "title": layer.license.id, "href": layer.license.url},
        {
            "type": "application/json",
            "rel": f"{REL}/coverage-domainset",
            "title": "Domain set of the coverage",
            "href": f"{url}/coverage/domainset?f=json",
        },
        {
            "type": "application/json",
            "rel": f"{REL}/coverage-rangetype",
            "title": "Range type of the coverage",
            "href": f"{url}/coverage/rangetype?f=json",
        },
        {
            "type": "application/json",
            "rel": f"{REL}/tilesets-map",
            "title": "Map tiles (PNG, WebP)",
            "href": f"{url}/map/tiles?f=json",
        },
    ]
    if raster.style.kind != "rgb":
        links.append(
            {"type": "image/png", "rel": f"{REL}/legend", "title": "凡例 / Legend", "href": f"{url}/legend"}
        )
    if layer.access == "public":
        links.append(
            {
                "type": "text/html",
                "rel": "describedby",
                "title": "オープンデータ / Open data",
                "href": f"{settings.public_url}/opendata#{layer.id}",
            }
        )
    return links


def raster_collection(raster: PublishedRaster, settings: Settings, base_url: str) -> dict[str, Any]:
    """The collection entry of a raster layer in the generated pygeoapi config."""
    layer, record = raster.definition, raster.record
    return {
        "type": "collection",
        "title": _i18n(layer.title),
        "description": _i18n(layer.description),
        "keywords": layer.keywords or [layer.department],
        "links": _links(raster, settings, base_url),
        "extents": {"spatial": {"bbox": list(record.bbox), "crs": CRS84}},
        "providers": [
            {
                "type": "coverage",
                "name": NAME,
                "data": layer.id,
                "options": {
                    "fields": band_fields(raster),
                    "width": record.width,
                    "height": record.height,
                    "resolution": list(record.resolution),
                    "crs": record.crs,
                },
                "format": {"name": GEOTIFF_FORMAT, "mimetype": GEOTIFF},
            }
        ],
    }


class CoverageDescription(BaseProvider):
    """A raster collection as pygeoapi's collection, schema and OpenAPI code see it.

    Everything comes from the generated config (the registry record); the file is never opened.
    """

    def __init__(self, provider_def: dict[str, Any]):
        super().__init__(provider_def)
        options = provider_def["options"]
        self._fields = dict(options["fields"])
        self.axes = ["x", "y"]
        resx, resy = options["resolution"]
        self._coverage_properties = {
            "width": options["width"],
            "height": options["height"],
            "resx": resx,
            "resy": resy,
            "axes": self.axes,
        }

    def get_fields(self) -> dict[str, Any]:
        """One field per band."""
        return self._fields

    def query(self, **kwargs):
        """Never called: the coverage has its own route (server/rasters/coverage.py)."""
        raise ProviderQueryError("the coverage is served by its own route")


def is_raster(resource: dict[str, Any]) -> bool:
    """Whether a generated collection config is one of ours (described by CoverageDescription)."""
    return any(p.get("name") == NAME for p in resource.get("providers", []))


def served_links(collection: dict[str, Any]) -> dict[str, Any]:
    """A raster collection document with only the links that are served.

    pygeoapi links every coverage to its CoverageJSON and HTML renderings and to queryables;
    this product serves the coverage as GeoTIFF only, and a coverage has no queryables.
    """

    def served(link: dict[str, Any]) -> bool:
        href = link.get("href", "")
        if link.get("rel", "").endswith("/queryables"):
            return False
        return not (
            "/coverage?" in href and link.get("type") in ("application/prs.coverage+json", "text/html")
        )

    collection["links"] = [link for link in collection.get("links", []) if served(link)]
    return collection


# What the raster routes implement (declared only when the API has a raster collection).
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/geodata-coverage",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-subset",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-rangesubset",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/coverage-bbox",
    "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/geotiff",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/png",
)


def conformance(config: dict[str, Any]) -> set[str]:
    """The raster conformance classes, when the config has a raster collection."""
    return set(CONFORMANCE) if any(is_raster(r) for r in config["resources"].values()) else set()
