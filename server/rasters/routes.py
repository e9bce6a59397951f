"""The raster routes of one publication (map tiles, coverage, legend), mounted inside its OGC API
app beside the vector tiles, so staff rasters are behind the /internal wall like the rest."""

from starlette.routing import Route

from server.rasters.coverage import coverage_routes
from server.rasters.service import RasterService
from server.rasters.tiles import map_tile_routes
from server.snapshot import Snapshots
from tsukuba_gis.layerdef import Access


def raster_routes(snapshots: Snapshots, audience: Access, base_url: str) -> list[Route]:
    """Every raster route of ``audience``'s OGC API."""
    service = RasterService(snapshots, audience, base_url)
    return map_tile_routes(service) + coverage_routes(service)
