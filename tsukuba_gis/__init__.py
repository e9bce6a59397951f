"""Tsukuba integrated GIS: shared core (settings, layer definitions, store)."""

__version__ = "0.1.0"
