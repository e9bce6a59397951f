"""The web server: OGC API (pygeoapi), open data, staff access and the viewer, in one FastAPI app."""
