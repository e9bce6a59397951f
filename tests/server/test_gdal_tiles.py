"""GDAL's OGCAPI driver reads the vector tiles of a real server, on both stores.

GDAL (3.12 inside pyogrio, and the current source) computes the tile range of a vector tile
set from the collection's CRS84 ``extent`` as if it were in the tile matrix set's CRS (EPSG:3857
here), so without help it opens 0 layers: a GDAL bug (gdalogcapidataset.cpp InitWithTilesAPI;
PR #8130 reprojected the box for raster tiles only). The workaround, documented in README:
the ``MINX/MINY/MAXX/MAXY`` open options in EPSG:3857. Debian's GDAL 3.6 parses no OGC Tile
Matrix Set 2.0 document (added by the same PR, GDAL 3.8), so it cannot read OGC API tiles.
"""

import httpx
import mapbox_vector_tile
import pyogrio
import pytest
from pyproj import Transformer

LAYER = "shelters"


def _collection(server) -> dict:
    return httpx.get(f"{server.url}/api/collections/{LAYER}", params={"f": "json"}).json()


def _open_options(server) -> dict[str, str]:
    """The workaround: the collection's box in the tile matrix set's CRS (EPSG:3857)."""
    west, south, east, north = _collection(server)["extent"]["spatial"]["bbox"][0]
    to_3857 = Transformer.from_crs("OGC:CRS84", "EPSG:3857", always_xy=True)
    minx, miny, maxx, maxy = to_3857.transform_bounds(west, south, east, north)
    return {"API": "TILES", "MINX": minx, "MINY": miny, "MAXX": maxx, "MAXY": maxy}


def _single_tile_zoom(server) -> tuple[int, int, int]:
    """(z, x, y) of the lowest zoom where the tile set is one tile."""
    tileset = httpx.get(f"{server.url}/api/collections/{LAYER}/tiles/WebMercatorQuad").json()
    for limit in tileset["tileMatrixSetLimits"]:
        if limit["minTileRow"] == limit["maxTileRow"] and limit["minTileCol"] == limit["maxTileCol"]:
            return int(limit["tileMatrix"]), limit["minTileCol"], limit["minTileRow"]
    pytest.fail("no zoom where the sample shelters are one tile")


def test_gdal_without_the_box_in_3857_sees_no_layer(each_live_server):
    """The GDAL bug itself: if this fails, GDAL fixed it (drop the workaround from README)."""
    url = f"OGCAPI:{each_live_server.url}/api/collections/{LAYER}"
    with pytest.raises(pyogrio.errors.DataLayerError):
        pyogrio.read_info(url, layer=0, API="TILES")


def test_gdal_reads_one_tile_as_we_serve_it(each_live_server):
    z, x, y = _single_tile_zoom(each_live_server)
    url = f"OGCAPI:{each_live_server.url}/api/collections/{LAYER}"
    options = _open_options(each_live_server)
    frame = pyogrio.read_dataframe(url, layer=f"Zoom level {z}", **options)

    tile = httpx.get(f"{each_live_server.url}/api/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert tile.status_code == 200
    ours = mapbox_vector_tile.decode(tile.content)[LAYER]["features"]
    assert len(frame) == len(ours) > 0
    fields = sorted(ours[0]["properties"])
    assert set(fields) <= set(frame.columns)
    gdal_rows = sorted(tuple(str(row[f]) for f in fields) for _, row in frame.iterrows())
    our_rows = sorted(tuple(str(f["properties"][name]) for name in fields) for f in ours)
    assert gdal_rows == our_rows
    # And the tile's attributes are the features' own (the items of the same ids).
    items = httpx.get(f"{each_live_server.url}/api/collections/{LAYER}/items", params={"limit": 1000}).json()
    by_id = {f["properties"]["common_id"]: f["properties"] for f in items["features"]}
    for _, row in frame.iterrows():
        assert by_id[row["common_id"]]["name"] == row["name"]
