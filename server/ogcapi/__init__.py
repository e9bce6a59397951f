"""OGC API publications: generated pygeoapi configs, the store provider and the Starlette adapter."""
