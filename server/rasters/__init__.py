"""Raster layers published (issue 12 B): OGC API - Coverages, map tiles, values in the point report.

- ``published.py``: the rasters an audience may see, as its snapshot holds them;
- ``reader.py``: the COG reads (rio-tiler), datasets kept open per thread and version;
- ``render.py``: map tile images (colours, hillshade, PNG/WebP);
- ``tiles.py``: OGC API - Tiles map tiles (``/collections/{id}/map/tiles/...``);
- ``coverage.py``: OGC API - Coverages (``/coverage``, domain set, range type) and the legend;
- ``config.py``: the raster collections in the generated pygeoapi config;
- ``openapi.py``: their paths in the OpenAPI document;
- ``point.py``: the values at a point for 「この地点の情報」.
"""
