"""pygeoapi feature provider over the product's store (GeoPackage or PostGIS).

Registered by dotted path in the generated pygeoapi config. Owning the provider is where
field-level access lives: it only ever reads the columns its config lists, so an internal
field cannot reach a public response even when a request names it.
"""

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from server.ogcapi import crs
from server.ogcapi.geojson import REQUEST, features, json_out
from tsukuba_gis.csvsafe import safe_cell
from tsukuba_gis.errors import LayerNotFound
from tsukuba_gis.store import FeaturePage, LayerRecord, Query, open_store

LOG = logging.getLogger(__name__)


JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "string",
}
# Integer filter values are bound as 64-bit integers (SQLite INTEGER, PostgreSQL bigint).
INT64 = (-(2**63), 2**63 - 1)
# No collection holds a billion features; a larger offset (up to 2**63 overflowed the
# store's integers) is a client error, not an empty page.
MAX_OFFSET = 1_000_000_000
# The layer records the publication's config was built from (set by the adapter too): a
# request needs no registry read of its own (a database round trip on PostGIS).
RECORDS: ContextVar[Mapping[str, LayerRecord] | None] = ContextVar("tsukuba_gis_records", default=None)


def _for_output(page: FeaturePage) -> FeaturePage:
    """The page as the answer's format needs it: for CSV (pygeoapi's own formatter writes it),
    text a spreadsheet would run as a formula is neutralised (tsukuba_gis/csvsafe.py)."""
    request = REQUEST.get()
    if request is not None and request.format == "csv":
        page.properties = [{k: safe_cell(v) for k, v in props.items()} for props in page.properties]
    return page


def _once(parameter: str, names: list[str]) -> None:
    """A field named twice in ``properties`` or ``sortby`` is a client error (2,000 repeats made
    SQLite refuse the statement: too many columns)."""
    if len(set(names)) != len(names):
        raise ProviderInvalidQueryError(user_msg=f"{parameter}: name each field at most once")


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
        # A store that cannot be opened raises StoreError: pygeoapi lets it through, and the
        # app's error table answers 503 (server/errors.py), details in the log only.
        self.store = open_store(self.data)
        self.get_fields()

    def get_fields(self) -> dict[str, dict[str, str]]:
        """Field names and JSON Schema types (only those this audience may see)."""
        if not self._fields:
            self._fields = {
                name: {
                    "type": JSON_TYPES[kind],
                    "title": self.field_titles.get(name, name),
                    **({"format": "date"} if kind == "date" else {}),
                }
                for name, kind in self.allowed.items()
            }
        return self._fields

    def _record(self, fresh: bool = False) -> LayerRecord:
        known = None if fresh else (RECORDS.get() or {}).get(self.layer_id)
        if known is not None:
            return known
        record = self.store.current(self.layer_id)  # StoreError: 503, as above
        if record is None:
            raise ProviderConnectionError("the collection has no data loaded yet")
        return record

    def _read(self, call: Callable[[LayerRecord], FeaturePage]) -> FeaturePage:
        """``call`` on the current version; again on a fresh record if the known one was pruned
        meanwhile (``keep_versions = 1``: the publication notices a new version within 1 s)."""
        try:
            return call(self._record())
        except LayerNotFound:
            return call(self._record(fresh=True))

    def _coerce(self, name: str, value: str) -> Any:
        kind = self.allowed[name]
        try:
            if kind == "integer":
                number = int(value)
                if not INT64[0] <= number <= INT64[1]:
                    raise ValueError("beyond 64 bits")
                return number
            if kind == "number":
                return float(value)
            if kind == "boolean":
                return {"true": 1, "false": 0, "1": 1, "0": 0}[value.lower()]
        except (ValueError, KeyError):
            # The value is not echoed: it may be megabytes (and errors never reflect input).
            raise ProviderInvalidQueryError(user_msg=f"{name}: not a valid {kind}") from None
        return value

    def _select(self, select_properties: list[str] | None) -> tuple[str, ...]:
        if not select_properties:
            return tuple(self.allowed)
        _once("properties", select_properties)
        return tuple(n for n in select_properties if n in self.allowed)

    def _order(self, sortby: list[dict] | None) -> tuple[tuple[str, bool], ...]:
        _once("sortby", [s["property"] for s in sortby or []])
        return tuple(
            (s["property"], s["order"] != "-") for s in sortby or [] if s["property"] in self.allowed
        )

    def _encoded(self, page: FeaturePage, crs_transform_spec: Any) -> list[dict[str, Any]]:
        """GeoJSON features of a page, in the CRS asked for (``crs=``; CRS84 when None)."""
        target = getattr(crs_transform_spec, "target_crs_uri", None)
        if target is not None:
            page = crs.transform_page(page, target)
        return features(_for_output(page), plain=not json_out(), decimals=crs.decimals(target))

    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list | None = None,
        datetime_: str | None = None,
        properties: list | None = None,
        sortby: list | None = None,
        select_properties: list | None = None,
        skip_geometry: bool = False,
        q: str | None = None,
        filterq=None,
        crs_transform_spec=None,
        **kwargs,
    ) -> dict[str, Any]:
        """A FeatureCollection page (pygeoapi adds links and timeStamp).

        ``filterq``: the checked CQL2 tree of ``filter`` (``server/ogcapi/cql.py``, handed over
        by ``patches.py``); ``crs_transform_spec``: pygeoapi's, when ``crs=`` is not CRS84.
        """
        if q:
            raise ProviderInvalidQueryError(user_msg="q is not supported on this collection: use filter")
        if isinstance(limit, bool) or not isinstance(limit, int):  # pygeoapi reads limit=true as True
            raise ProviderInvalidQueryError(user_msg="limit: a positive integer")
        if not 0 <= offset <= MAX_OFFSET:
            raise ProviderInvalidQueryError(user_msg=f"offset: an integer from 0 to {MAX_OFFSET}")
        equals = tuple((n, self._coerce(n, v)) for n, v in (properties or []) if n in self.allowed)
        order = self._order(sortby)
        query = Query(
            bbox=tuple(float(v) for v in bbox[:4]) if bbox else None,
            equals=equals,
            sortby=order,
            select=self._select(select_properties),
            offset=offset,
            limit=0 if resulttype == "hits" else limit,
            skip_geometry=skip_geometry,
            filter=filterq,
        )
        page = self._read(lambda record: self.store.query(record, query))
        return {
            "type": "FeatureCollection",
            "features": self._encoded(page, crs_transform_spec),
            "numberMatched": page.number_matched,
            "numberReturned": len(page.ids),
        }

    def get(self, identifier: str, crs_transform_spec=None, **kwargs) -> dict[str, Any]:
        """One feature by id (in the CRS of ``crs=``)."""
        page = self._read(lambda record: self.store.get(record, str(identifier), select=tuple(self.allowed)))
        if not page.ids:
            # The id is not echoed back: error messages never reflect what a client sent.
            raise ProviderItemNotFoundError(user_msg="no such feature in this collection")
        return self._encoded(page, crs_transform_spec)[0]
