"""OGC API - Records of the open-data catalog: the collection config and its provider.

The records file is written by the ETL (``etl.publish.records``); pygeoapi's TinyDBCatalogue
provider serves it, with three fixes made here rather than in pygeoapi:
``q`` is passed to a regular expression unescaped (``q=(`` was a 500), an instant
``datetime`` is looked up with a non-string attribute name (a 500), and array or object
properties are offered for sorting (a 500 when compared). Root-relative links in the records
are made absolute with the server's public URL.
"""

import json
import re
from typing import Any

from pygeoapi.provider.base import ProviderInvalidQueryError
from pygeoapi.provider.tinydb_ import TinyDBCatalogueProvider

from tsukuba_gis.opendata import RECORDS, opendata_dir
from tsukuba_gis.settings import Settings

RECORDS_COLLECTION = "opendata-catalog"  # a hyphen: no layer id can take this name

PROVIDER = "server.opendata.records.CatalogueProvider"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class CatalogueProvider(TinyDBCatalogueProvider):
    """The catalog's records, searchable with ``q``, links resolved against the public URL.

    Attributes:
        base_url: prefixed to every root-relative link href.
    """

    def __init__(self, provider_def: dict[str, Any]):
        super().__init__(provider_def)
        self.base_url: str = (provider_def.get("options") or {}).get("base_url") or ""
        first = self.db.all()[0]["properties"] if len(self.db) else {}
        for key in [k for k, v in first.items() if isinstance(v, (dict, list))]:
            self._fields.pop(key, None)  # not sortable or comparable as a queryable

    def _prepare_q_param_with_spaces(self, Q, s: str):
        terms = r"\s+".join(re.escape(term) for term in s.split())
        return Q.properties["_metadata-anytext"].search(terms, flags=re.IGNORECASE)

    def query(self, **kwargs: Any) -> dict[str, Any]:
        """Records matching the query, links absolute."""
        when = kwargs.get("datetime_")
        if when and "/" not in when:
            kwargs["datetime_"] = f"{when}/{when}"
        try:
            result = super().query(**kwargs)
        except TypeError:
            message = "the query cannot be evaluated on these records"
            raise ProviderInvalidQueryError(message) from None
        result["features"] = [self._absolute(r) for r in result["features"]]
        return result

    def get_domains(self, properties: list | None = None, current: bool = False) -> tuple:
        """The values of each field (``profile=actual-domain``), of known fields only (pygeoapi
        lets a name like ``q`` through; TinyDB's version fails with a KeyError on a field some
        record lacks)."""
        keys = [p for p in properties or [] if p in self.fields] or list(self.fields)
        domains = {}
        for key in keys:
            found = {
                r["properties"].get(key)
                for r in self.db.all()
                if not isinstance(r["properties"].get(key), (dict, list))
            }
            domains[key] = sorted(found - {None}, key=str)
        return domains, current

    def get(self, identifier: str, **kwargs: Any) -> dict[str, Any]:
        """One record by id, links absolute."""
        return self._absolute(super().get(identifier, **kwargs))

    def _absolute(self, record: dict[str, Any]) -> dict[str, Any]:
        record = dict(record)
        record["links"] = [
            {**link, "href": self.base_url + link["href"]}
            if str(link.get("href", "")).startswith("/")
            else link
            for link in record.get("links", [])
        ]
        return record


def _records(settings: Settings) -> list[dict[str, Any]]:
    try:
        path = opendata_dir(settings.data_dir) / RECORDS
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(document.get("_default", {}).values())


def _union(boxes: list[list[float]]) -> list[float]:
    if not boxes:
        return [122.0, 20.0, 154.0, 46.0]  # Japan
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]


def records_resource(settings: Settings) -> dict[str, Any] | None:
    """The pygeoapi resource of the catalog collection, or None before anything is published."""
    records = _records(settings)
    if not records:
        return None
    boxes = [
        [min(x for x, _ in ring), min(y for _, y in ring), max(x for x, _ in ring), max(y for _, y in ring)]
        for r in records
        if r.get("geometry")
        for ring in r["geometry"]["coordinates"][:1]
    ]
    base = settings.public_url or ""
    return {
        "type": "collection",
        "title": {"ja": "オープンデータ カタログ", "en": "Open data catalogue"},
        "description": {
            "ja": "公開データセットの目録（OGC API - Records）。q= で検索できます。",
            "en": "The catalogue of open datasets (OGC API - Records); search with q=.",
        },
        "keywords": ["オープンデータ", "open data", "catalogue"],
        "links": [
            {
                "type": "text/html",
                "rel": "alternate",
                "title": "オープンデータ / Open data",
                "href": f"{base}/opendata",
            },
            {
                "type": "application/ld+json",
                "rel": "alternate",
                "title": "DCAT (JSON-LD)",
                "href": f"{base}/opendata/catalog.jsonld",
            },
        ],
        "extents": {"spatial": {"bbox": _union(boxes), "crs": CRS84}},
        "providers": [
            {
                "type": "record",
                "name": PROVIDER,
                "editable": False,
                "data": str(opendata_dir(settings.data_dir) / RECORDS),
                "id_field": "id",
                "time_field": "updated",
                "title_field": "title",
                "options": {"base_url": base},
            }
        ],
    }


__all__ = ["CatalogueProvider", "RECORDS_COLLECTION", "records_resource"]
