"""OGC API - Records for the open-data catalog: one record per published layer, in a TinyDB file.

pygeoapi serves the file as a record collection (its TinyDBCatalogue provider), so GIS tools
can search the catalog with ``q=``. Links are root-relative (``/api/…``, ``/opendata/…``): the
ETL does not know the address the server is reached at; the server's provider resolves them.
"""

from pathlib import Path
from typing import Any

from etl.publish.manifest import RECORDS, opendata_dir, published, write_json_atomic
from tsukuba_gis.catalog import Catalog
from tsukuba_gis.layerdef import LayerDef

RECORD_CORE = "http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"


def bbox_polygon(bbox: list[float] | None) -> dict[str, Any] | None:
    """The GeoJSON polygon of a lon/lat box."""
    if not bbox:
        return None
    w, s, e, n = bbox
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def _api_links(layer: LayerDef, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    if manifest.get("kind") == "raster":
        return [
            {
                "rel": "item",
                "type": "image/tiff; application=geotiff",
                "title": "OGC API - Coverages",
                "href": f"/api/collections/{layer.id}/coverage",
            },
            {
                "rel": "collection",
                "type": "application/json",
                "title": "OGC API - Coverages collection",
                "href": f"/api/collections/{layer.id}?f=json",
            },
        ]
    return [
        {
            "rel": "item",
            "type": "application/geo+json",
            "title": "OGC API - Features",
            "href": f"/api/collections/{layer.id}/items?f=json",
        },
        {
            "rel": "collection",
            "type": "application/json",
            "title": "OGC API - Features collection",
            "href": f"/api/collections/{layer.id}?f=json",
        },
    ]


def _links(layer: LayerDef, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    links = [
        {
            "rel": "describedby",
            "type": "text/html",
            "href": f"/opendata#{layer.id}",
            "title": "オープンデータ / Open data",
        },
        *_api_links(layer, manifest),
        {"rel": "license", "type": "text/html", "title": layer.license.id, "href": layer.license.url},
    ]
    for item in manifest["files"]:
        links.append(
            {
                "rel": "enclosure",
                "type": item["media_type"],
                "title": item["format"],
                "length": item["size"],
                "href": f"/opendata/files/{layer.id}/{item['name']}",
            }
        )
    return links


def record(layer: LayerDef, manifest: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """An OGC API - Records core record (GeoJSON) describing one published layer."""
    department = catalog.departments.get(layer.department)
    dept_ja = department.name.ja if department else layer.department
    dept_en = department.name.en if department else layer.department
    keywords = list(layer.keywords) or [dept_ja]
    anytext = " ".join(
        [
            layer.id,
            layer.title.ja,
            layer.title.en,
            layer.description.ja,
            layer.description.en,
            dept_ja,
            dept_en,
            *keywords,
        ]
    )
    return {
        "id": layer.id,
        "type": "Feature",
        "conformsTo": [RECORD_CORE],
        "time": None,
        "geometry": bbox_polygon(manifest.get("bbox")),
        "properties": {
            "type": "dataset",
            "title": layer.title.ja,
            "title_en": layer.title.en,
            "description": layer.description.ja,
            "description_en": layer.description.en,
            "keywords": keywords,
            "language": {"code": "ja"},
            "languages": [{"code": "ja"}, {"code": "en"}],
            "updated": manifest["loaded_at"],
            "license": layer.license.id,
            "rights": layer.license.attribution.ja,
            "publisher": dept_ja,
            "synthetic": layer.synthetic,
            # A raster counts its cells with a value (records sort by featureCount: never missing).
            "featureCount": manifest.get("feature_count", manifest.get("cell_count", 0)),
            "formats": [{"name": f["format"], "mediaType": f["media_type"]} for f in manifest["files"]],
            # pygeoapi's TinyDBCatalogue searches q= in this property and never returns it.
            "_metadata-anytext": anytext,
        },
        "links": _links(layer, manifest),
    }


def write_records(data_dir: Path, catalog: Catalog) -> Path:
    """Rewrite the records file from every published public layer (untouched when unchanged)."""
    documents = {
        str(i): record(layer, manifest, catalog)
        for i, (layer, manifest) in enumerate(published(data_dir, catalog), start=1)
    }
    path = opendata_dir(data_dir) / RECORDS
    write_json_atomic(path, {"_default": documents})
    return path
