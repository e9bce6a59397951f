"""Readers for the file formats departments hand over, one module per format family."""


class FormatError(ValueError):
    """A source file cannot be read as its format says."""
