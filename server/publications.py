"""The two publications of one store: the world's (public layers and fields) and the staff's."""

from server.ogcapi.adapter import Publication
from server.ogcapi.config import Audience, build_config, write_config
from server.ogcapi.openapi import build_openapi
from server.tiles.service import TileService
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import Store

PREFIXES: dict[Audience, str] = {"public": "/api", "internal": "/internal/api"}


def make_publication(settings: Settings, store: Store, audience: Audience) -> Publication:
    """A publication whose config is generated afresh whenever the store registry changes."""
    base_url = f"{settings.public_url}{PREFIXES[audience]}"

    def build() -> tuple[dict, dict, list]:
        catalog = cached_catalog(settings.layers_dir)
        records = store.layers()  # one read: the config and the HTTP validators agree
        config = build_config(settings, catalog, records, audience, base_url)
        write_config(config, settings.data_dir / "generated" / f"pygeoapi-{audience}.yml")
        return config, build_openapi(config, f"{base_url}/schemas"), records

    tiles = TileService(settings, store, audience, base_url)  # server/tiles
    return Publication(audience, build, store.generation, store.in_process, tiles)
