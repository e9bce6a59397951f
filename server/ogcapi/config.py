"""Generate pygeoapi's configuration from the layer definitions and the store registry.

One configuration per audience: the public one never even names an internal layer or field,
so no route of pygeoapi can serve one (there is nothing to filter, nothing to forget).
"""

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pygeoapi.config import validate_config

from server.ogcapi import crs, translations
from server.opendata.records import RECORDS_COLLECTION, records_resource
from server.rasters.config import raster_collection
from server.rasters.published import PublishedRaster
from server.tiles.provider import provider_config as tile_provider
from tsukuba_gis.layerdef import Access, LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, redact_url

PROVIDER = "server.ogcapi.provider.StoreProvider"
HERE = Path(__file__).resolve().parent
GSI_ATTRIBUTION = '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'


# The definitions' languages pygeoapi handles (Babel locales); pygeoapi picks a title by the
# request's language. Not ja-x-easy (a private-use tag Babel refuses), and not zh-Hans/zh-Hant:
# pygeoapi 0.24 matches a browser's zh-TW to "zh" and then lists only the collections without
# script-tagged titles (one of thirteen), so Chinese readers get the Japanese titles as before.
PYGEOAPI_LANGUAGES = ("ja", "en", "ko", "vi", "pt")


def _i18n(text) -> dict[str, str]:
    return {lang: text.get(lang) for lang in PYGEOAPI_LANGUAGES if text.get(lang)}


def _collection(layer: LayerDef, record: LayerRecord, settings: Settings, audience: Access) -> dict[str, Any]:
    fields = layer.fields_for(audience)
    links = [{"type": "text/html", "rel": "license", "title": layer.license.id, "href": layer.license.url}]
    if layer.access == "public":
        links.append(
            {
                "type": "text/html",
                "rel": "describedby",
                "title": "オープンデータ / Open data",
                "href": f"{settings.public_url}/opendata#{layer.id}",
            }
        )
    provider = {
        "type": "feature",
        "name": PROVIDER,
        "data": settings.store_url,
        "id_field": "id",
        # OGC API - Features Part 2 (server/ogcapi/crs.py): the store keeps CRS84.
        "crs": list(crs.SUPPORTED),
        "storage_crs": crs.STORAGE,
        "title_field": layer.title_field if any(f.name == layer.title_field for f in fields) else None,
        "options": {
            "layer": layer.id,
            "fields": [[f.name, f.type] for f in fields],
            "titles": {f.name: f.label.ja for f in fields},
            "labels": {f.name: _i18n(f.label) for f in fields},
            "geometry": layer.geometry,
        },
    }
    if provider["title_field"] is None:
        del provider["title_field"]
    return {
        "type": "collection",
        "title": _i18n(layer.title),
        "description": _i18n(layer.description),
        "keywords": layer.keywords or [layer.department],
        "links": links,
        "extents": {
            "spatial": {
                "bbox": list(record.bbox or (122.0, 20.0, 154.0, 46.0)),
                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            }
        },
        "limits": {
            "default_items": settings.items_default_limit,
            "max_items": settings.items_max_limit,
            "on_exceed": "error",
        },
        "providers": [provider, tile_provider(layer, record)],
    }


def _server(settings: Settings, base_url: str) -> dict[str, Any]:
    return {
        "bind": {"host": "127.0.0.1", "port": 8000},
        "url": base_url,
        "mimetype": "application/json; charset=UTF-8",
        "encoding": "utf-8",
        "languages": list(PYGEOAPI_LANGUAGES),
        "pretty_print": False,
        "limits": {
            "default_items": settings.items_default_limit,
            "max_items": settings.items_max_limit,
            "on_exceed": "error",
        },
        "map": {"url": settings.basemap_std_url, "attribution": GSI_ATTRIBUTION},
        "templates": {"path": str(HERE / "templates"), "static": str(HERE / "static")},
        "locale_dir": translations.locale_dir(),  # the Japanese chrome (server/ogcapi/translations.py)
    }


def _metadata(settings: Settings, audience: Access) -> dict[str, Any]:
    staff = audience == "internal"
    return {
        "identification": {
            "title": {
                "ja": f"{settings.city_name_ja} 統合型GIS" + ("（庁内）" if staff else ""),
                "en": f"{settings.city_name_en} integrated GIS" + (" (staff)" if staff else ""),
            },
            "description": {
                "ja": "つくば市の各課の地理空間データを OGC API で提供します。",
                "en": "Geospatial data of Tsukuba City's departments as OGC API.",
            },
            "keywords": ["つくば市", "Tsukuba", "GIS", "OGC API"],
            "keywords_type": "theme",
            "terms_of_service": "https://creativecommons.org/licenses/by/4.0/deed.ja",
            "url": settings.public_url or "http://127.0.0.1:8000",
        },
        "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
        "provider": {"name": settings.city_name_ja, "url": "https://www.city.tsukuba.lg.jp/"},
        "contact": {
            "name": settings.city_name_ja,
            "position": "GIS",
            "address": "研究学園一丁目1番地1",
            "city": "つくば市",
            "stateorprovince": "茨城県",
            "postalcode": "305-8555",
            "country": "Japan",
            "url": "https://www.city.tsukuba.lg.jp/",
            "role": "pointOfContact",
        },
    }


def build_config(
    settings: Settings,
    layers: Sequence[tuple[LayerDef, LayerRecord]],
    audience: Access,
    base_url: str,
    rasters: Sequence[PublishedRaster] = (),
) -> dict[str, Any]:
    """The pygeoapi config for one audience: the layers of its snapshot, in the snapshot's order,
    then its raster layers (coverages, ``server/rasters``), in the same order."""
    config = {
        "server": _server(settings, base_url),
        "logging": {"level": "WARNING"},
        "metadata": _metadata(settings, audience),
        "resources": {layer.id: _collection(layer, record, settings, audience) for layer, record in layers},
    }
    for raster in rasters:
        config["resources"][raster.id] = raster_collection(raster, settings, base_url)
    # The open-data catalog as OGC API - Records, on the public side only (it lists public data).
    if audience == "public" and (catalog_records := records_resource(settings)) is not None:
        config["resources"][RECORDS_COLLECTION] = catalog_records
    validate_config(config)
    return config


def _redacted(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every provider's store URL stripped of its password."""
    out = copy.deepcopy(config)
    for resource in out["resources"].values():
        for provider in resource.get("providers", []):
            if isinstance(provider.get("data"), str):
                provider["data"] = redact_url(provider["data"])
    return out


def write_config(config: dict[str, Any], path: Path) -> Path:
    """Keep the generated config on disk for inspection (never read back; no secrets in it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# GENERATED from layers/ and the store registry by tsukuba-gis; do not edit.\n"
    tmp = path.with_suffix(".tmp")
    text = yaml.safe_dump(_redacted(config), allow_unicode=True, sort_keys=False)
    tmp.write_text(header + text, encoding="utf-8")
    tmp.replace(path)
    return path
