"""Errors of the product; each message says what went wrong, where, and what to do."""


class GisError(Exception):
    """Base of every error this product raises on purpose."""


class DefinitionError(GisError):
    """A layer definition is invalid or refers to something that does not exist."""


class SourceError(GisError):
    """A department file cannot be read as the definition says."""


class StoreError(GisError):
    """The store cannot be opened, read or written."""


class LayerNotFound(StoreError):
    """The layer (or version) is not in the store."""
