"""Readers for the file formats departments hand over, one module per format family."""

from tsukuba_gis.errors import SourceError


class FormatError(SourceError, ValueError):
    """A source file cannot be read as its format says."""
