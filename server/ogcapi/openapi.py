"""The OpenAPI document of a publication: pygeoapi's, cut to the routes served, refs local."""

from typing import Any

from pygeoapi.openapi import get_oas

from server.ogcapi.contract import settle
from server.ogcapi.openapi_bundle import bundle
from server.ogcapi.openapi_local import localize
from server.ogcapi.routes import OPENAPI_PATH_SUFFIXES, OPENAPI_PATHS
from server.rasters.openapi import add_raster_paths
from server.styles.openapi import add_style_paths
from server.tiles.openapi import add_tile_paths


def _served(path: str, collections: set[str]) -> bool:
    if path in OPENAPI_PATHS:
        return True
    prefix = "/collections/"
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix) :]
    name, _, tail = rest.partition("/")
    return name in collections and (not tail or f"/{tail}" in OPENAPI_PATH_SUFFIXES)


def build_openapi(
    config: dict[str, Any], schemas_url: str, extra_paths: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The OpenAPI document for a generated config: exactly the served operations
    (``contract.py``; ``extra_paths``: more path items, e.g. the staff side's writes), every
    reference local to the document (``openapi_bundle.py``)."""
    document = get_oas(config, fail_on_invalid_collection=False)
    collections = set(config["resources"])
    document["paths"] = {p: v for p, v in document["paths"].items() if _served(p, collections)}
    add_tile_paths(document, config)
    add_style_paths(document, config)
    settle(document, extra_paths)
    # The raster paths (server/rasters/openapi.py) are written exactly as served already.
    add_raster_paths(document, config)
    return bundle(localize(document, schemas_url), schemas_url)
