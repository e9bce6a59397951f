"""pygeoapi feature provider over the product's store (GeoPackage or PostGIS).

Registered by dotted path in the generated pygeoapi config. Owning the provider is where
field-level access lives: it only ever reads the columns its config lists, so an internal
field cannot reach a public response even when a request names it.
"""

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from http import HTTPStatus
from typing import Any

import numpy as np
import orjson
import shapely
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
)

from tsukuba_gis.csvsafe import safe_cell
from tsukuba_gis.errors import LayerNotFound, StoreError
from tsukuba_gis.store import FeaturePage, LayerRecord, Query, open_store

LOG = logging.getLogger(__name__)


class StoreUnavailable(ProviderConnectionError):
    """The store does not answer (database down): 503, so clients and proxies retry."""

    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    ogc_exception_code = "ServiceUnavailable"
    default_msg = "the data store is not available; try again shortly"


JSON_TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "date": "string",
}
# 7 decimals of a degree are about 1 cm: finer digits only describe the float, not the survey.
DECIMALS = 7
SMALL_PAGE = 48  # fewer geometries than this are written by GEOS (see geometries)
# Integer filter values are bound as 64-bit integers (SQLite INTEGER, PostgreSQL bigint).
INT64 = (-(2**63), 2**63 - 1)
# No collection holds a billion features; a larger offset (up to 2**63 overflowed the
# store's integers) is a client error, not an empty page.
MAX_OFFSET = 1_000_000_000

# GeoJSON type names by shapely type id (a LinearRing never comes out of the store).
TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
}

# The pygeoapi APIRequest being answered, set by the adapter (server/ogcapi/adapter.py). When
# its final format is GeoJSON, coordinates stay numpy arrays that our orjson ``to_json``
# (patches.py) writes directly; HTML, JSON-LD and CSV get plain lists.
REQUEST: ContextVar[Any] = ContextVar("tsukuba_gis_ogc_request", default=None)
# The layer records the publication's config was built from (set by the adapter too): a
# request needs no registry read of its own (a database round trip on PostGIS).
RECORDS: ContextVar[Mapping[str, LayerRecord] | None] = ContextVar("tsukuba_gis_records", default=None)


def _json_out() -> bool:
    request = REQUEST.get()
    # pygeoapi settles the format before it queries the provider; None ends in to_json too.
    return request is not None and request.format in (None, "json")


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


def _pairs(offsets: np.ndarray) -> list[tuple[int, int]]:
    bounds = offsets.tolist()
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _coordinates(geoms: np.ndarray) -> list[Any]:
    """GeoJSON ``coordinates`` of geometries of one type, leaves are numpy coordinate arrays.

    One vectorised pass (shapely's ragged arrays): only a list per ring is made in Python,
    never a float object per coordinate.
    """
    _, coords, offsets = shapely.to_ragged_array(geoms)
    coords = np.round(coords, DECIMALS)
    nested: list[Any] = [coords[a:b] for a, b in _pairs(offsets[0])] if offsets else list(coords)
    for level in offsets[1:]:
        nested = [nested[a:b] for a, b in _pairs(level)]
    return nested


def _rounded(geoms: np.ndarray) -> np.ndarray:
    """The geometries with their coordinates rounded to DECIMALS."""
    if not shapely.has_z(geoms).any():
        return shapely.set_coordinates(geoms, np.round(shapely.get_coordinates(geoms), DECIMALS))
    # With z (rare): one geometry at a time, each keeping its own dimensions.
    return np.array(
        [
            shapely.set_coordinates(
                g, np.round(shapely.get_coordinates(g, include_z=bool(shapely.has_z(g))), DECIMALS)
            )
            for g in geoms
        ],
        dtype=object,
    )


def _via_text(geoms: np.ndarray) -> list[dict[str, Any]]:
    """Through GEOS's GeoJSON writer: any geometry type, and cheaper for a few geometries."""
    return [orjson.loads(text) for text in shapely.to_geojson(_rounded(geoms)).tolist()]


def geometries(page: FeaturePage, plain: bool = True) -> list[dict[str, Any] | None]:
    """GeoJSON geometry objects of a page (None when absent), coordinates rounded to DECIMALS.

    ``plain=False`` leaves the coordinates of large pages as numpy arrays, for orjson to write
    (GeoJSON answers); plain lists otherwise. Both hold the same doubles (GEOS writes 17
    significant digits, which read back exactly), so both write the same text.
    """
    found: list[dict[str, Any] | None] = [None] * len(page.ids)
    present = [i for i, w in enumerate(page.wkb) if w is not None]
    geoms = shapely.from_wkb([page.wkb[i] for i in present])
    if len(present) < SMALL_PAGE:  # the ragged-array set-up costs ~0.1 ms, GEOS text 15 us each
        for i, geometry in zip(present, _via_text(geoms), strict=True):
            found[i] = geometry
        return found
    types = shapely.get_type_id(geoms)
    types[shapely.is_empty(geoms) | shapely.has_z(geoms)] = -1
    for type_id in np.unique(types).tolist():
        where = np.flatnonzero(types == type_id).tolist()
        shaped = _coordinates(geoms[where]) if type_id in TYPE_NAMES else _via_text(geoms[where])
        for i, geometry in zip(where, shaped, strict=True):
            found[present[i]] = (
                {"type": TYPE_NAMES[type_id], "coordinates": geometry} if type_id in TYPE_NAMES else geometry
            )
    if plain:
        found = orjson.loads(orjson.dumps(found, option=orjson.OPT_SERIALIZE_NUMPY))
    return found


def features(page: FeaturePage, plain: bool = True) -> list[dict[str, Any]]:
    """GeoJSON features of a page (``plain=False``: numpy coordinates, for JSON output).

    Turning each coordinate into a Python float (and lists of them) only for orjson to write
    it again was most of the cost of a large page, and of the garbage collection after it.
    """
    return [
        {"type": "Feature", "id": fid, "geometry": geom, "properties": props}
        for fid, geom, props in zip(page.ids, geometries(page, plain), page.properties, strict=True)
    ]


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
        try:
            record = self.store.current(self.layer_id)
        except StoreError as err:
            LOG.error("store unavailable: %s", err)
            raise StoreUnavailable() from None
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
        **kwargs,
    ) -> dict[str, Any]:
        """A FeatureCollection page (pygeoapi adds links and timeStamp)."""
        if filterq is not None or q:
            raise ProviderInvalidQueryError(user_msg="filter and q are not supported on this collection")
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
        )
        page = _for_output(self._read(lambda record: self.store.query(record, query)))
        return {
            "type": "FeatureCollection",
            "features": features(page, plain=not _json_out()),
            "numberMatched": page.number_matched,
            "numberReturned": len(page.ids),
        }

    def get(self, identifier: str, **kwargs) -> dict[str, Any]:
        """One feature by id."""
        page = self._read(lambda record: self.store.get(record, str(identifier), select=tuple(self.allowed)))
        if not page.ids:
            # The id is not echoed back: error messages never reflect what a client sent.
            raise ProviderItemNotFoundError(user_msg="no such feature in this collection")
        return features(_for_output(page), plain=not _json_out())[0]
