"""Vector tiles: the rules every store follows (``rules``), the WebMercatorQuad grid (``grid``)
and the tippecanoe-encoded MBTiles pre-built at ETL (``mbtiles``). Stores serve them (``Store.tile``);
``memory`` keeps tiles in a process's memory (the GeoPackage store's re-made tiles, the server's)."""
