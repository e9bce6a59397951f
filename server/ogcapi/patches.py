"""Small corrections to pygeoapi, applied at start-up instead of forking it.

1. UTF-8 JSON out of pygeoapi, fast, and still safe to embed in HTML. pygeoapi's
``util.to_json`` writes ``\\uXXXX`` escapes for every Japanese character and turns ``<``/``>``
into ``&lt;``/``&gt;``, which changes the data (an attribution link arrives broken).
The replacement writes UTF-8 with orjson and escapes ``<``/``>`` the JSON way (``\\u003c``),
which keeps the data and the HTML-embedding safety. pygeoapi modules import the function by
name, so it is replaced in each module that holds it.

2. One process serves two publications (public and staff), each with its own config, but
pygeoapi caches ONE translated config per language (``l10n._cfg_cache``), so HTML pages of one
side would render with the other side's config (links, even resources). The cache is turned
off; translating the small generated config per HTML page costs well under a millisecond.

3. Speed (issue 6), pygeoapi 0.24 internals relied on, each checked by a test:
   - ``pygeoapi.api.itemtypes.get_collection_items`` passes every bbox through
     ``transform_bbox(bbox, bbox_crs, storage_crs)``, imported there by name, which builds a
     pyproj Transformer and calls ``CRS.to_epsg()``: about 10 ms per request, even from CRS84
     to CRS84. A bbox already in the storage CRS is returned as it is.
   - The same function logs ``LOGGER.warning(TypeError(...))`` on every items request without
     ``offset=`` (``int(None)``): a log line per request under load. That one record is dropped.
   - The features of a GeoJSON answer carry numpy coordinate arrays (see provider.py), which
     our ``to_json`` writes (``OPT_SERIALIZE_NUMPY``); on that path pygeoapi only counts the
     features (``len``) and adds links, it never reads a geometry.
"""

import importlib
import logging
from typing import Any

import orjson
from pygeoapi import crs, l10n
from pygeoapi.util import json_serial

MODULES = (
    "pygeoapi.util",
    "pygeoapi.api",
    "pygeoapi.api.itemtypes",
    "pygeoapi.api.tiles",
    "pygeoapi.api.maps",
    "pygeoapi.api.coverages",
    "pygeoapi.openapi",
    "pygeoapi.config",
    "pygeoapi.linked_data",
)
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def to_json(dict_: Any, pretty: bool = False) -> str:
    """Serialise to UTF-8 JSON text with ``<`` and ``>`` escaped as ``\\u003c``/``\\u003e``."""
    options = _OPTIONS | (orjson.OPT_INDENT_2 if pretty else 0)
    text = orjson.dumps(dict_, default=json_serial, option=options).decode("utf-8")
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


class _NoCache(dict):
    """A dict that never keeps anything (for pygeoapi's per-process config cache)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def transform_bbox(bbox: list, from_crs: Any, to_crs: Any, always_xy: bool = False) -> list:
    """pygeoapi's ``transform_bbox``, without the pyproj work when nothing is to transform."""
    if from_crs == to_crs == crs.DEFAULT_CRS:
        return list(bbox)
    return crs.transform_bbox(bbox, from_crs, to_crs, always_xy)


class _DropOffsetWarning(logging.Filter):
    """Drops the warning pygeoapi logs for every items request without ``offset=``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and isinstance(record.msg, TypeError))


_OFFSET_FILTER = _DropOffsetWarning()


def install() -> None:
    """Apply every correction (idempotent)."""
    for name in MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "to_json"):
            module.to_json = to_json
    l10n._cfg_cache = _NoCache()
    itemtypes = importlib.import_module("pygeoapi.api.itemtypes")
    itemtypes.transform_bbox = transform_bbox
    logger = logging.getLogger(itemtypes.__name__)
    if _OFFSET_FILTER not in logger.filters:
        logger.addFilter(_OFFSET_FILTER)
