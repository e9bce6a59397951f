"""A pygeoapi tile provider that only describes the tiles (they are served by server.tiles.routes).

Listed after the feature provider in each generated collection config, so pygeoapi itself links
every collection document to its tiles, declares the Tiles conformance classes, lists the tile
paths in the OpenAPI document and renders the HTML tiles page (a map of the tiles). Tile bytes
and the JSON documents never go through pygeoapi: they have their own fast routes.
"""

from typing import Any

from pygeoapi.models.provider.base import TileMatrixSetEnum
from pygeoapi.provider.tile import BaseTileProvider, ProviderTileNotFoundError

from server.tiles.documents import MVT
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.store import LayerRecord
from tsukuba_gis.tiles.rules import zoom_range

NAME = "server.tiles.provider.TileProvider"


def provider_config(layer: LayerDef, record: LayerRecord) -> dict[str, Any]:
    """The tile provider entry of a collection in the generated pygeoapi config."""
    minzoom, maxzoom = zoom_range(layer, record)
    return {
        "type": "tile",
        "name": NAME,
        "data": layer.id,
        "options": {
            "layer": layer.id,
            "zoom": {"min": minzoom, "max": maxzoom},
            "schemes": ["WebMercatorQuad"],
        },
        "format": {"name": "mvt", "mimetype": MVT},
    }


class TileProvider(BaseTileProvider):
    """Vector tiles of one collection, as pygeoapi's tiles API and OpenAPI generator see them."""

    def __init__(self, provider_def: dict[str, Any]):
        super().__init__(provider_def)
        self.tile_type = "vector"

    def get_layer(self) -> str:
        """The MVT layer name: the collection id."""
        return self.options["layer"]

    def get_fields(self) -> dict[str, Any]:
        """Attributes are described by the tileset metadata, not here."""
        return {}

    def get_tiling_schemes(self) -> list:
        """WebMercatorQuad only."""
        return [TileMatrixSetEnum.WEBMERCATORQUAD.value]

    def get_tiles_service(
        self,
        baseurl: str | None = None,
        servicepath: str | None = None,
        dirpath: str | None = None,
        tile_type: str | None = None,
    ) -> dict:
        """The tile URL template link (for pygeoapi's HTML tiles page)."""
        return {
            "links": [
                {
                    "type": self.mimetype,
                    "rel": "item",
                    "templated": True,
                    "title": "Mapbox vector tiles",
                    "href": servicepath,
                }
            ]
        }

    def get_tiles(self, layer=None, tileset=None, z=None, y=None, x=None, format_=None):
        """Never called: tiles have their own route."""
        raise ProviderTileNotFoundError()

    def get_metadata(self, dataset: str, server_url: str, tileset: str | None = None, **kwargs) -> dict:
        """What pygeoapi's HTML tile set page shows (``f=html`` only: the JSON and TileJSON
        documents have their own route)."""
        url = f"{server_url.rstrip('/')}/collections/{dataset}/tiles/{tileset}"
        zoom = self.options["zoom"]
        return {
            "id": dataset,
            "title": kwargs.get("title") or dataset,
            "tileset": tileset,
            "collections_path": url + "/{tileMatrix}/{tileRow}/{tileCol}",
            "json_url": f"{url}?f=json",
            "tilejson_url": f"{url}?f=tilejson",
            "metadata": {"minzoom": zoom["min"], "maxzoom": zoom["max"], "format": MVT},
        }
