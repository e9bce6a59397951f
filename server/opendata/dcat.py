"""The open-data catalog as DCAT in JSON-LD, for CKAN's DCAT harvester (ckanext-dcat).

DCAT 2 / DCAT-AP terms, GeoDCAT-AP for the extent (``dcat:bbox`` as WKT, ``locn:geometry`` as
GeoJSON), SPDX for checksums. The ``@context`` is inline: a harvester on a closed network
cannot fetch a remote one.
"""

import json
from typing import Any

from server.opendata.datasets import CITY_URL, Dataset
from server.opendata.records import RECORDS_COLLECTION
from tsukuba_gis.layerdef import I18n
from tsukuba_gis.settings import Settings

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "spdx": "http://spdx.org/rdf/terms#",
    "locn": "http://www.w3.org/ns/locn#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
}
IANA = "https://www.iana.org/assignments/media-types/"
GEOJSON_SPEC = "https://www.rfc-editor.org/rfc/rfc7946"
FEATURES_SPEC = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
COVERAGES_SPEC = "http://www.opengis.net/spec/ogcapi-coverages-1/1.0/conf/core"
COG_SPEC = "http://www.opengis.net/def/geotiff-profile/cloud-optimized"


def _text(value: I18n) -> list[dict[str, str]]:
    return [{"@value": value.ja, "@language": "ja"}, {"@value": value.en, "@language": "en"}]


def _id(url: str) -> dict[str, str]:
    return {"@id": url}


def _spatial(bbox: list[float] | None) -> dict[str, Any] | None:
    if not bbox:
        return None
    w, s, e, n = bbox
    polygon = [[[w, s], [e, s], [e, n], [w, n], [w, s]]]
    return {
        "@type": "dct:Location",
        "dcat:bbox": {
            "@value": f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))",
            "@type": "gsp:wktLiteral",
        },
        "locn:geometry": {
            "@value": json.dumps({"type": "Polygon", "coordinates": polygon}),
            "@type": "gsp:geoJSONLiteral",
        },
    }


def _distribution(dataset: Dataset, item: dict[str, Any]) -> dict[str, Any]:
    media_type = item["media_type"].split(";")[0].strip()
    entry: dict[str, Any] = {
        "@id": item["url"],
        "@type": "dcat:Distribution",
        "dct:title": _text(
            I18n(
                ja=f"{dataset.layer.title.ja}（{item['format']}）",
                en=f"{dataset.layer.title.en} ({item['format']})",
            )
        ),
        "dct:format": item["format"],
        "dcat:mediaType": _id(IANA + media_type),
        "dcat:downloadURL": _id(item["url"]),
        "dcat:accessURL": _id(item["url"]),
        "dcat:byteSize": {"@value": str(item["size"]), "@type": "xsd:nonNegativeInteger"},
        "spdx:checksum": {
            "@type": "spdx:Checksum",
            "spdx:algorithm": _id("http://spdx.org/rdf/terms#checksumAlgorithm_sha256"),
            "spdx:checksumValue": {"@value": item["sha256"], "@type": "xsd:hexBinary"},
        },
        "dct:license": _id(dataset.layer.license.url),
        "dct:modified": {"@value": dataset.manifest["loaded_at"], "@type": "xsd:dateTime"},
    }
    if "conforms_to" in item:  # the Digital Agency standard CSV
        entry["dct:conformsTo"] = _id(item["conforms_to"])
    elif media_type == "application/geo+json":
        entry["dct:conformsTo"] = _id(GEOJSON_SPEC)
    elif "cloud-optimized" in item["media_type"]:
        entry["dct:conformsTo"] = _id(COG_SPEC)
    return entry


def _api_distribution(dataset: Dataset, base: str) -> dict[str, Any]:
    url = f"{base}/api/collections/{dataset.layer.id}"
    api, media_type, spec = (
        ("OGC API - Coverages", "image/tiff", COVERAGES_SPEC)
        if dataset.raster
        else ("OGC API - Features", "application/geo+json", FEATURES_SPEC)
    )
    return {
        "@id": url,
        "@type": "dcat:Distribution",
        "dct:title": _text(
            I18n(ja=f"{dataset.layer.title.ja}（{api}）", en=f"{dataset.layer.title.en} ({api})")
        ),
        "dct:format": api,
        "dcat:mediaType": _id(IANA + media_type),
        "dcat:accessURL": _id(url),
        "dct:conformsTo": _id(spec),
        "dct:license": _id(dataset.layer.license.url),
    }


def _dataset(dataset: Dataset, base: str, publisher: dict[str, Any]) -> dict[str, Any]:
    layer, manifest = dataset.layer, dataset.manifest
    entry: dict[str, Any] = {
        "@id": dataset.page_url,
        "@type": "dcat:Dataset",
        "dct:identifier": f"tsukuba-gis:{layer.id}",
        "dct:title": _text(layer.title),
        "dct:description": _text(layer.description),
        "dcat:keyword": [*layer.keywords, *([] if not layer.synthetic else ["サンプル（架空）"])],
        "dct:publisher": publisher,
        "dcat:contactPoint": {
            "@type": "vcard:Organization",
            "vcard:fn": f"つくば市 {dataset.department.ja}",
            "vcard:hasURL": _id(CITY_URL),
        },
        "dct:license": _id(layer.license.url),
        "dct:rights": {"@type": "dct:RightsStatement", "rdfs:label": _text(layer.license.attribution)},
        "dct:modified": {"@value": manifest["loaded_at"], "@type": "xsd:dateTime"},
        "dct:language": [_id("http://id.loc.gov/vocabulary/iso639-1/ja")],
        "dcat:landingPage": _id(dataset.page_url),
        "dcat:distribution": [
            *(_distribution(dataset, f) for f in dataset.files),
            _api_distribution(dataset, base),
        ],
    }
    spatial = _spatial(manifest.get("bbox"))
    if spatial is not None:
        entry["dct:spatial"] = spatial
    return entry


def catalog_document(settings: Settings, found: list[Dataset]) -> dict[str, Any]:
    """The whole DCAT catalog (JSON-LD) of the published datasets."""
    base = settings.public_url or ""
    publisher = {
        "@id": CITY_URL,
        "@type": "foaf:Organization",
        "foaf:name": _text(I18n(ja=settings.city_name_ja, en=settings.city_name_en)),
    }
    modified = max((d.manifest["loaded_at"] for d in found), default=None)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": f"{base}/opendata/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _text(
            I18n(
                ja=f"{settings.city_name_ja} オープンデータ（統合型GIS）",
                en=f"{settings.city_name_en} open data (integrated GIS)",
            )
        ),
        "dct:description": _text(
            I18n(
                ja="つくば市の統合型GISが公開する地理空間データの一覧です。",
                en="Geospatial datasets published by Tsukuba City's integrated GIS.",
            )
        ),
        "dct:publisher": publisher,
        "foaf:homepage": _id(f"{base}/opendata"),
        "dct:language": [_id("http://id.loc.gov/vocabulary/iso639-1/ja")],
        "dcat:service": {
            "@id": f"{base}/api/collections/{RECORDS_COLLECTION}",
            "@type": "dcat:DataService",
            "dct:title": "OGC API - Records",
            "dcat:endpointURL": _id(f"{base}/api"),
        },
        "dcat:dataset": [_dataset(d, base, publisher) for d in found],
    }
    if modified:
        document["dct:modified"] = {"@value": modified, "@type": "xsd:dateTime"}
    return document
