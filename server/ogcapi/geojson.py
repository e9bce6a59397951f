"""How GeoJSON leaves the OGC API: one contract between the provider and pygeoapi's writer.

A large page of features costs most in turning each coordinate into a Python float (and lists
of them) only for a JSON writer to write it again, and in the garbage collection after it. So:

1. The provider (``provider.py``) builds GeoJSON geometries whose coordinate leaves are numpy
   arrays, made in one vectorised pass (shapely's ragged arrays) — but only when the answer
   goes out as JSON (:func:`json_out`: the format pygeoapi settled for the request in
   :data:`REQUEST`, set by the adapter). HTML, JSON-LD and CSV get plain lists.
2. pygeoapi writes every JSON answer with ``util.to_json``; :func:`to_json` here replaces it
   (``patches.py``): orjson with ``OPT_SERIALIZE_NUMPY``, UTF-8 out (pygeoapi's writes
   ``\\uXXXX`` for every Japanese character), ``<``/``>`` escaped the JSON way (``\\u003c``) so
   the text stays safe to embed in HTML without changing the data.
3. A page's ``self`` and ``alternate`` links get its ``offset`` back here (pygeoapi leaves it
   out of every link but ``prev``/``next``), the one place every JSON page passes.
4. On that path pygeoapi only counts the features (``len``) and adds links; it never reads a
   geometry. Both representations hold the same doubles (GEOS writes 17 significant digits,
   which read back exactly), so both write the same text (tests/server/test_items_speed_paths.py).
"""

from contextvars import ContextVar
from typing import Any

import numpy as np
import orjson
import shapely
from pygeoapi.util import json_serial

from tsukuba_gis.store import FeaturePage

# The pygeoapi APIRequest being answered, set by the adapter (server/ogcapi/adapter.py). When
# its final format is GeoJSON, coordinates stay numpy arrays that our orjson ``to_json``
# (patches.py) writes directly; HTML, JSON-LD and CSV get plain lists.
REQUEST: ContextVar[Any] = ContextVar("tsukuba_gis_ogc_request", default=None)
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _page_links(document: dict[str, Any]) -> None:
    """A page's ``self`` and ``alternate`` links keep its ``offset`` (pygeoapi drops it)."""
    request = REQUEST.get()
    offset = request.params.get("offset") if request is not None else None
    if not (offset and offset.isascii() and offset.isdigit() and int(offset) > 0):
        return
    for link in document.get("links", []):
        if link.get("rel") in ("self", "alternate") and "offset=" not in link.get("href", ""):
            link["href"] += f"&offset={int(offset)}"


def to_json(dict_: Any, pretty: bool = False) -> str:
    """Serialise to UTF-8 JSON text with ``<`` and ``>`` escaped as ``\\u003c``/``\\u003e``."""
    if isinstance(dict_, dict) and dict_.get("type") == "FeatureCollection":
        _page_links(dict_)
    options = _OPTIONS | (orjson.OPT_INDENT_2 if pretty else 0)
    text = orjson.dumps(dict_, default=json_serial, option=options).decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


# 7 decimals of a degree are about 1 cm: finer digits only describe the float, not the survey.
DECIMALS = 7
SMALL_PAGE = 48  # fewer geometries than this are written by GEOS (see geometries)

# GeoJSON type names by shapely type id (a LinearRing never comes out of the store).
TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
}


def json_out() -> bool:
    """Whether the request being answered goes out as JSON (numpy coordinates may be used)."""
    request = REQUEST.get()
    # pygeoapi settles the format before it queries the provider; None ends in to_json too.
    return request is not None and request.format in (None, "json")


def _pairs(offsets: np.ndarray) -> list[tuple[int, int]]:
    bounds = offsets.tolist()
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _coordinates(geoms: np.ndarray, decimals: int = DECIMALS) -> list[Any]:
    """GeoJSON ``coordinates`` of geometries of one type, leaves are numpy coordinate arrays.

    One vectorised pass (shapely's ragged arrays): only a list per ring is made in Python,
    never a float object per coordinate.
    """
    _, coords, offsets = shapely.to_ragged_array(geoms)
    coords = np.round(coords, decimals)
    nested: list[Any] = [coords[a:b] for a, b in _pairs(offsets[0])] if offsets else list(coords)
    for level in offsets[1:]:
        nested = [nested[a:b] for a, b in _pairs(level)]
    return nested


def _rounded(geoms: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """The geometries with their coordinates rounded to ``decimals``."""
    if not shapely.has_z(geoms).any():
        return shapely.set_coordinates(geoms, np.round(shapely.get_coordinates(geoms), decimals))
    # With z (rare): one geometry at a time, each keeping its own dimensions.
    return np.array(
        [
            shapely.set_coordinates(
                g, np.round(shapely.get_coordinates(g, include_z=bool(shapely.has_z(g))), decimals)
            )
            for g in geoms
        ],
        dtype=object,
    )


def _via_text(geoms: np.ndarray, decimals: int = DECIMALS) -> list[dict[str, Any]]:
    """Through GEOS's GeoJSON writer: any geometry type, and cheaper for a few geometries."""
    return [orjson.loads(text) for text in shapely.to_geojson(_rounded(geoms, decimals)).tolist()]


def geometries(
    page: FeaturePage, plain: bool = True, decimals: int = DECIMALS
) -> list[dict[str, Any] | None]:
    """GeoJSON geometry objects of a page (None when absent), coordinates rounded to ``decimals``
    (DECIMALS for degrees; ``server/ogcapi/crs.py`` chooses for other CRSs).

    ``plain=False`` leaves the coordinates of large pages as numpy arrays, for orjson to write
    (GeoJSON answers); plain lists otherwise. Both hold the same doubles (GEOS writes 17
    significant digits, which read back exactly), so both write the same text.
    """
    found: list[dict[str, Any] | None] = [None] * len(page.ids)
    present = [i for i, w in enumerate(page.wkb) if w is not None]
    geoms = shapely.from_wkb([page.wkb[i] for i in present])
    if len(present) < SMALL_PAGE:  # the ragged-array set-up costs ~0.1 ms, GEOS text 15 us each
        for i, geometry in zip(present, _via_text(geoms, decimals), strict=True):
            found[i] = geometry
        return found
    types = shapely.get_type_id(geoms)
    types[shapely.is_empty(geoms) | shapely.has_z(geoms)] = -1
    for type_id in np.unique(types).tolist():
        where = np.flatnonzero(types == type_id).tolist()
        shaped = (
            _coordinates(geoms[where], decimals)
            if type_id in TYPE_NAMES
            else _via_text(geoms[where], decimals)
        )
        for i, geometry in zip(where, shaped, strict=True):
            found[present[i]] = (
                {"type": TYPE_NAMES[type_id], "coordinates": geometry} if type_id in TYPE_NAMES else geometry
            )
    if plain:
        found = orjson.loads(orjson.dumps(found, option=orjson.OPT_SERIALIZE_NUMPY))
    return found


def features(page: FeaturePage, plain: bool = True, decimals: int = DECIMALS) -> list[dict[str, Any]]:
    """GeoJSON features of a page (``plain=False``: numpy coordinates, for JSON output).

    Turning each coordinate into a Python float (and lists of them) only for orjson to write
    it again was most of the cost of a large page, and of the garbage collection after it.
    """
    return [
        {"type": "Feature", "id": fid, "geometry": geom, "properties": props}
        for fid, geom, props in zip(page.ids, geometries(page, plain, decimals), page.properties, strict=True)
    ]
