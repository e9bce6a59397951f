"""OGC API - Tiles (MVT in WebMercatorQuad) for every vector layer, public and staff sides.

``grid`` is the tile matrix set (morecantile), ``service`` finds a layer's tile set and its
tiles (pre-built MBTiles on the GeoPackage store, ST_AsMVT + the shared cache on PostGIS),
``documents`` writes the metadata (OGC tileset, TileJSON 3.0), ``routes`` serves them inside a
publication's OGC API app, ``provider`` and ``openapi`` tell pygeoapi about them.
"""
