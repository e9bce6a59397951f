"""Small corrections to pygeoapi, applied at start-up instead of forking it.

They rely on internals of one pygeoapi minor version (``PYGEOAPI_SERIES``; pyproject pins it):
:func:`install` checks every target first and stops the server with a message naming the
installed version when one is missing, rather than running with a correction silently gone.

1. UTF-8 JSON out of pygeoapi, fast and safe to embed in HTML (``geojson.to_json``; the
GeoJSON encoding contract is documented in ``geojson.py``). pygeoapi modules import
``to_json`` by name, so it is replaced in each module that holds it.

2. One process serves two publications (public and staff), each with its own config, but
pygeoapi caches ONE translated config per language (``l10n._cfg_cache``), so HTML pages of one
side would render with the other side's config (links, even resources). The cache is turned
off; translating the small generated config per HTML page costs well under a millisecond.

3. Speed (issue 6):
   - ``pygeoapi.api.itemtypes.get_collection_items`` passes every bbox through
     ``transform_bbox(bbox, bbox_crs, storage_crs)``, imported there by name, which builds a
     pyproj Transformer and calls ``CRS.to_epsg()``: about 10 ms per request, even from CRS84
     to CRS84. A bbox already in the storage CRS is returned as it is.
   - The same function logs ``LOGGER.warning(TypeError(...))`` on every items request without
     ``offset=`` (``int(None)``): a log line per request under load. That one record is dropped.
   - ``pygeoapi.crs.get_crs`` builds a pyproj CRS from the database of PROJ each time: three
     per items or feature request (storage CRS, asked CRS, ...), ~7 % of a one-feature request's
     CPU (issue 19, ``bench/http_profile.py --scenario feature``). The CRSs of a URI are kept
     (at most 64 URIs; pyproj's CRS objects may be shared between threads since pyproj 3.1).
   - ``itemtypes.load_plugin`` makes a new provider for every items or feature request (~10 %
     of a one-feature request). Our store provider keeps nothing of a request, so one instance
     is kept per provider definition (the dict itself is held with it, so its id is not reused;
     a new snapshot's config makes new dicts, hence new providers; at most 64 kept).

5. Filters and CRSs (issue 14): the route checks and parses ``filter`` itself
(``server/ogcapi/cql.py``: CQL2 text or JSON by ``filter-lang``, the position of a mistake,
queryables only, ``filter-crs``), so pygeoapi's ``parse_cql2_text`` (which reads every filter as
text and answers any mistake with "Bad CQL text") hands over that checked tree and its
``modify_pygeofilter`` (which moves only some literals to the storage CRS) leaves it as it is.
A ``bbox-crs`` box goes to CRS84 with pyproj's ``transform_bounds`` (the edges densified: a
projected box's corners alone miss part of it).

4. Logs a client cannot flood: ``API.get_exception`` logs every answer it makes at ERROR with
the traceback at hand, a 400 for a mistyped ``limit`` included. Client errors (4xx) are logged
at INFO without a traceback instead, server errors at ERROR as before.

6. Raster collections link only what is served: ``pygeoapi.api.gen_collection`` (imported there
by name) links every coverage to CoverageJSON, HTML and queryables; the raster collections
(``server/rasters``) keep their GeoTIFF coverage, domain set, range type, map tiles and legend.

7. The tile matrix set pages use our templates: ``pygeoapi.api.tiles.tilematrixset(s)`` pass the
whole config where ``render_j2_template`` expects ``server.templates``, so those two pages fell
back to pygeoapi's own templates (English chrome, a CDN script). The module's
``render_j2_template`` is wrapped to pass ``server.templates`` then.
"""

import functools
import importlib
import logging
import threading
from collections import OrderedDict
from typing import Any

import pygeoapi
import pyproj
from pygeoapi import api as pygeoapi_api
from pygeoapi import crs, l10n

from server.ogcapi import cql
from server.ogcapi.config import PROVIDER
from server.ogcapi.geojson import to_json
from server.rasters.config import is_raster, served_links

PYGEOAPI_SERIES = "0.24"
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
LOG = logging.getLogger(__name__)


class UnsupportedPygeoapi(RuntimeError):
    """The installed pygeoapi lacks an internal the project corrects (another minor version)."""


class _NoCache(dict):
    """A dict that never keeps anything (for pygeoapi's per-process config cache)."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def transform_bbox(bbox: list, from_crs: Any, to_crs: Any, always_xy: bool = False) -> list:
    """pygeoapi's ``transform_bbox``: nothing to do within one CRS, else the densified bounds
    (the CRSs' own axis orders; a 3D box keeps its horizontal part)."""
    if from_crs == to_crs:
        return list(bbox)
    box = list(bbox) if len(bbox) == 4 else [bbox[0], bbox[1], bbox[3], bbox[4]]
    return list(_transformer(str(from_crs), str(to_crs)).transform_bounds(*box, densify_pts=21))


@functools.lru_cache(maxsize=32)
def _transformer(from_crs: str, to_crs: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(get_crs(from_crs), get_crs(to_crs))


@functools.lru_cache(maxsize=64)
def _crs_of(uri: str) -> pyproj.CRS:
    return _ORIGINAL["get_crs"](uri)


def get_crs(value: Any) -> pyproj.CRS:
    """pygeoapi's ``get_crs``, each URI's CRS built once (a bad URI raises as before, every time)."""
    if isinstance(value, pyproj.CRS):
        return value
    return _crs_of(str(value))


_PROVIDERS: OrderedDict[int, tuple[dict, Any]] = OrderedDict()
_PROVIDERS_LOCK = threading.Lock()
_PROVIDERS_KEPT = 64


def load_plugin(plugin_type: str, plugin_def: dict) -> Any:
    """pygeoapi's ``load_plugin``, our store provider made once per provider definition."""
    if plugin_type != "provider" or plugin_def.get("name") != PROVIDER:
        return _ORIGINAL["load_plugin"](plugin_type, plugin_def)
    key = id(plugin_def)
    with _PROVIDERS_LOCK:
        kept = _PROVIDERS.get(key)
        if kept is not None and kept[0] is plugin_def:
            _PROVIDERS.move_to_end(key)
            return kept[1]
    made = _ORIGINAL["load_plugin"](plugin_type, plugin_def)  # errors are raised, never kept
    with _PROVIDERS_LOCK:
        _PROVIDERS[key] = (plugin_def, made)
        while len(_PROVIDERS) > _PROVIDERS_KEPT:
            _PROVIDERS.popitem(last=False)
    return made


def parse_cql2_text(text: str) -> Any:
    """The tree the route checked for this request (``server/ogcapi/cql.py``)."""
    return cql.FILTER.get()


def modify_pygeofilter(tree: Any, **kwargs: Any) -> Any:
    """The checked tree is already in the storage CRS: nothing to change."""
    return tree


class _DropOffsetWarning(logging.Filter):
    """Drops the warning pygeoapi logs for every items request without ``offset=``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.WARNING and isinstance(record.msg, TypeError))


class _OwnExceptionLog(logging.Filter):
    """Drops ``API.get_exception``'s own ERROR record: :func:`get_exception` logs instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.funcName != "get_exception"


def get_exception(self, status: int, headers: dict, format_: str | None, code: str, description: str):
    """pygeoapi's ``API.get_exception``, logging client errors at INFO without a traceback."""
    if status >= 500:
        LOG.error("OGC API %s %s: %s", status, code, description, exc_info=True)
    else:
        LOG.info("OGC API %s %s: %s", status, code, description)
    return _ORIGINAL["get_exception"](self, status, headers, format_, code, description)


def render_tiles_template(config: dict, tpl_config: dict, template: Any, data: dict, locale: str) -> str:
    """pygeoapi's ``render_j2_template`` for the tiles pages, given ``server.templates`` even
    where pygeoapi hands over the whole config."""
    if "server" in tpl_config:
        tpl_config = tpl_config["server"].get("templates") or {}
    return _ORIGINAL["render_j2_template"](config, tpl_config, template, data, locale)


def gen_collection(api, request, dataset: str, locale_: str) -> dict:
    """pygeoapi's ``gen_collection``, with a raster collection's links cut to those served."""
    collection = _ORIGINAL["gen_collection"](api, request, dataset, locale_)
    if is_raster(api.config["resources"].get(dataset, {})):
        return served_links(collection)
    return collection


_OFFSET_FILTER, _EXCEPTION_FILTER = _DropOffsetWarning(), _OwnExceptionLog()
_ORIGINAL: dict[str, Any] = {}


def _modules() -> dict[str, Any]:
    return {name: importlib.import_module(name) for name in MODULES}


def check() -> None:
    """Stop with a clear message when pygeoapi is not the version these corrections target."""
    version = pygeoapi.__version__
    missing = [
        f"{name}.to_json"
        for name, module in _modules().items()
        if name == "pygeoapi.util" and not hasattr(module, "to_json")
    ]
    itemtypes = importlib.import_module("pygeoapi.api.itemtypes")
    for owner, attribute in (
        (itemtypes, "transform_bbox"),
        (itemtypes, "parse_cql2_text"),
        (itemtypes, "modify_pygeofilter"),
        (itemtypes, "load_plugin"),
        (l10n, "_cfg_cache"),
        (crs, "DEFAULT_CRS"),
        (crs, "transform_bbox"),
        (crs, "get_crs"),
        (importlib.import_module("pygeoapi.provider.base"), "get_crs"),
        (pygeoapi_api.API, "get_exception"),
        (importlib.import_module("pygeoapi.api.tiles"), "render_j2_template"),
        (pygeoapi_api, "gen_collection"),
    ):
        if not hasattr(owner, attribute):
            missing.append(f"{getattr(owner, '__name__', owner)}.{attribute}")
    if not version.startswith(PYGEOAPI_SERIES + ".") or missing:
        raise UnsupportedPygeoapi(
            f"pygeoapi {version} is installed, but tsukuba-gis corrects pygeoapi {PYGEOAPI_SERIES}.x"
            f" (server/ogcapi/patches.py{'; missing: ' + ', '.join(missing) if missing else ''});"
            f" install the pinned version: pip install 'pygeoapi>={PYGEOAPI_SERIES},<0.25'"
        )


def install() -> None:
    """Check the targets, then apply every correction (idempotent)."""
    check()
    for module in _modules().values():
        if hasattr(module, "to_json"):
            module.to_json = to_json
    l10n._cfg_cache = _NoCache()
    _ORIGINAL.setdefault("get_crs", crs.get_crs)
    crs.get_crs = get_crs
    importlib.import_module("pygeoapi.provider.base").get_crs = get_crs  # imported there by name
    itemtypes = importlib.import_module("pygeoapi.api.itemtypes")
    itemtypes.transform_bbox = transform_bbox
    itemtypes.parse_cql2_text = parse_cql2_text
    itemtypes.modify_pygeofilter = modify_pygeofilter
    _ORIGINAL.setdefault("load_plugin", itemtypes.load_plugin)
    itemtypes.load_plugin = load_plugin
    _ORIGINAL.setdefault("get_exception", pygeoapi_api.API.get_exception)
    pygeoapi_api.API.get_exception = get_exception
    tiles = importlib.import_module("pygeoapi.api.tiles")
    _ORIGINAL.setdefault("render_j2_template", tiles.render_j2_template)
    tiles.render_j2_template = render_tiles_template
    _ORIGINAL.setdefault("gen_collection", pygeoapi_api.gen_collection)
    pygeoapi_api.gen_collection = gen_collection
    for logger, added in (
        (logging.getLogger(itemtypes.__name__), _OFFSET_FILTER),
        (logging.getLogger(pygeoapi_api.__name__), _EXCEPTION_FILTER),
    ):
        if added not in logger.filters:
            logger.addFilter(added)
