"""Raster layers: read GeoTIFF/COG, ESRI ASCII grids, GSI elevation tiles and FGD DEM XML,
mosaic them, check them, and write one Cloud Optimized GeoTIFF per layer version."""
