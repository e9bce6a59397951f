"""pygeoapi feature provider over the product's store (GeoPackage or PostGIS).

Registered by dotted path in the generated pygeoapi config. Owning the provider is where
field-level access lives: it only ever reads the columns its config lists, so an internal
field cannot reach a public response even when a request names it.
"""

import logging
from http import HTTPStatus
from typing import Any

import orjson
import shapely
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store import FeaturePage, LayerRecord, Query, open_store

LOG = logging.getLogger(__name__)

class StoreUnavailable(ProviderConnectionError):
    """The store does not answer (database down): 503, so clients and proxies retry."""

    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    ogc_exception_code = "ServiceUnavailable"
    default_msg = "the data store is not available; try again shortly"


JSON_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
              "date": "string"}


def features(page: FeaturePage) -> list[dict[str, Any]]:
    """GeoJSON features of a page; geometries are converted in one vectorised call."""
    geometries = [None] * len(page.ids)
    present = [i for i, w in enumerate(page.wkb) if w is not None]
    if present:
        texts = shapely.to_geojson(shapely.from_wkb([page.wkb[i] for i in present]))
        for i, text in zip(present, texts, strict=True):
            geometries[i] = orjson.loads(text)
    return [{"type": "Feature", "id": fid, "geometry": geom, "properties": props}
            for fid, geom, props in zip(page.ids, geometries, page.properties, strict=True)]


class StoreProvider(BaseProvider):
    """Features of one layer, limited to the fields of one audience.

    Attributes:
        layer_id: the layer served.
        allowed: published column name -> type, for this audience only.
        store: the shared store instance for the ``data`` URL.
    """

    def __init__(self, provider_def: dict):
        super().__init__(provider_def)
        options = provider_def.get("options") or {}
        self.layer_id: str = options["layer"]
        self.allowed: dict[str, str] = dict(options["fields"])
        self.field_titles: dict[str, str] = dict(options.get("titles", {}))
        try:
            self.store = open_store(self.data)
        except StoreError as err:
            LOG.error("store unavailable: %s", err)  # the details are for the log, not the client
            raise StoreUnavailable() from None
        self.get_fields()

    def get_fields(self) -> dict[str, dict[str, str]]:
        """Field names and JSON Schema types (only those this audience may see)."""
        if not self._fields:
            self._fields = {
                name: {"type": JSON_TYPES[kind], "title": self.field_titles.get(name, name),
                       **({"format": "date"} if kind == "date" else {})}
                for name, kind in self.allowed.items()}
        return self._fields

    def _record(self) -> LayerRecord:
        try:
            record = self.store.current(self.layer_id)
        except StoreError as err:
            LOG.error("store unavailable: %s", err)
            raise StoreUnavailable() from None
        if record is None:
            raise ProviderConnectionError("the collection has no data loaded yet")
        return record

    def _coerce(self, name: str, value: str) -> Any:
        kind = self.allowed[name]
        try:
            if kind == "integer":
                return int(value)
            if kind == "number":
                return float(value)
            if kind == "boolean":
                return {"true": 1, "false": 0, "1": 1, "0": 0}[value.lower()]
        except (ValueError, KeyError):
            raise ProviderInvalidQueryError(user_msg=f"{name}: {value!r} is not a valid {kind}") from None
        return value

    def _select(self, select_properties: list[str] | None) -> tuple[str, ...]:
        if not select_properties:
            return tuple(self.allowed)
        return tuple(n for n in select_properties if n in self.allowed)

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results",
              bbox: list | None = None, datetime_: str | None = None,
              properties: list | None = None, sortby: list | None = None,
              select_properties: list | None = None, skip_geometry: bool = False,
              q: str | None = None, filterq=None, **kwargs) -> dict[str, Any]:
        """A FeatureCollection page (pygeoapi adds links and timeStamp)."""
        if filterq is not None or q:
            raise ProviderInvalidQueryError(user_msg="filter and q are not supported on this collection")
        equals = tuple((n, self._coerce(n, v)) for n, v in (properties or []) if n in self.allowed)
        order = tuple((s["property"], s["order"] != "-") for s in (sortby or [])
                      if s["property"] in self.allowed)
        query = Query(
            bbox=tuple(float(v) for v in bbox[:4]) if bbox else None,
            equals=equals, sortby=order, select=self._select(select_properties),
            offset=offset, limit=0 if resulttype == "hits" else limit,
            skip_geometry=skip_geometry)
        page = self.store.query(self._record(), query)
        return {"type": "FeatureCollection", "features": features(page),
                "numberMatched": page.number_matched, "numberReturned": len(page.ids)}

    def get(self, identifier: str, **kwargs) -> dict[str, Any]:
        """One feature by id."""
        page = self.store.get(self._record(), str(identifier), select=tuple(self.allowed))
        if not page.ids:
            # The id is not echoed back: error messages never reflect what a client sent.
            raise ProviderItemNotFoundError(user_msg="no such feature in this collection")
        return features(page)[0]
