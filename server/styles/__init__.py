"""OGC API - Styles: the city's cartography (MapLibre style JSON, SLD 1.0, QGIS QML, legends)."""
