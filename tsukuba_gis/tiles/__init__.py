"""Vector tiles: the rules every store follows (``rules``), the WebMercatorQuad grid (``grid``)
and the tippecanoe-encoded MBTiles pre-built at ETL (``mbtiles``). Stores serve them (``Store.tile``)."""
