"""The registry where store backends plug in, and ``open_store`` to pick one from a URL."""

import importlib
from functools import lru_cache

from tsukuba_gis.errors import StoreError
from tsukuba_gis.store.base import (
    BandStats,
    Column,
    FeaturePage,
    LayerRecord,
    LayerWriter,
    Query,
    RasterRecord,
    RasterWriter,
    Reject,
    Store,
)
from tsukuba_gis.store.postgis_settings import redact as redact_url

# scheme -> "module:Class"; a backend outside this package registers itself with register_store.
STORES: dict[str, str] = {
    "gpkg": "tsukuba_gis.store.gpkg:GeoPackageStore",
    "postgresql": "tsukuba_gis.store.postgis:PostGISStore",
}

__all__ = [
    "BandStats",
    "RasterRecord",
    "RasterWriter",
    "Column",
    "FeaturePage",
    "LayerRecord",
    "LayerWriter",
    "Query",
    "Reject",
    "Store",
    "STORES",
    "register_store",
    "open_store",
    "scheme_of",
    "redact_url",
]


def register_store(scheme: str, target: str, overwrite: bool = False) -> None:
    """Register a backend class (``"package.module:Class"``) for a URL scheme."""
    if scheme in STORES and not overwrite:
        raise StoreError(f"a store backend is already registered for {scheme!r}")
    STORES[scheme] = target


def scheme_of(url: str) -> str:
    """The backend name for a store URL: its scheme, or ``gpkg`` for a file path."""
    head, sep, _ = url.partition("://")
    if not sep:
        return "gpkg"
    return "postgresql" if head in ("postgres", "postgresql") else head


def _load(scheme: str) -> type[Store]:
    try:
        target = STORES[scheme]
    except KeyError:
        known = ", ".join(sorted(STORES))
        raise StoreError(f"no store backend for {scheme!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise StoreError(f"the {scheme} store backend cannot be loaded: {err}") from None
    return getattr(module, class_name)


@lru_cache(maxsize=8)
def open_store(url: str, keep_versions: int = 5) -> Store:
    """The store at a URL (one shared instance per URL in a process)."""
    return _load(scheme_of(url))(url, keep_versions=keep_versions)
