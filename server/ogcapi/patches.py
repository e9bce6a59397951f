"""Two small corrections to pygeoapi, applied at start-up instead of forking it.

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
"""

import importlib
from typing import Any

import orjson
from pygeoapi import l10n
from pygeoapi.util import json_serial

MODULES = ("pygeoapi.util", "pygeoapi.api", "pygeoapi.api.itemtypes", "pygeoapi.api.tiles",
           "pygeoapi.api.maps", "pygeoapi.api.coverages", "pygeoapi.openapi", "pygeoapi.config",
           "pygeoapi.linked_data")
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


def install() -> None:
    """Apply both corrections (idempotent)."""
    for name in MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "to_json"):
            module.to_json = to_json
    l10n._cfg_cache = _NoCache()
