"""Errors of the product; each message says what went wrong, where, and what to do.

Every error raised on purpose is a :class:`GisError`. Each class carries the OGC API exception
code a client sees; the HTTP status of each class is decided in one table on the server side
(``server/errors.py``), and the CLI turns any of them into a one-line message and exit code 1.
"""

from typing import ClassVar


class GisError(Exception):
    """Base of every error this product raises on purpose."""

    code: ClassVar[str] = "NoApplicableCode"


class DefinitionError(GisError):
    """A layer definition is invalid or refers to something that does not exist."""


class SourceError(GisError):
    """A department file cannot be read as the definition says."""


class StoreError(GisError):
    """The store cannot be opened, read or written."""


class LayerNotFound(StoreError):
    """The layer (or version) is not in the store."""

    code = "NotFound"


class StoreUnavailable(StoreError):
    """The store does not answer (database down, restarting): try again shortly."""

    code = "ServiceUnavailable"
    retry_after: ClassVar[int] = 5
    public_message: ClassVar[str] = "the data store is not available; try again shortly"


class StoreBusy(StoreUnavailable):
    """Every connection to the store is in use: try again shortly."""


class QueryTimeout(StoreUnavailable):
    """A query ran past the store's statement timeout."""


class TilesNotReady(StoreUnavailable):
    """The tiles of a layer version are not built yet (the ETL or the server builds them)."""

    retry_after = 10
    public_message = "the tiles of this layer version are being built; try again later"


class MailUnavailable(StoreUnavailable):
    """The mail server is not configured or does not answer: try again later."""

    retry_after = 60
    public_message = "e-mail subscriptions are not available at the moment; try again later"


class RequestError(GisError):
    """A request the client must change (a parameter, a body, a path).

    Attributes:
        code: the OGC exception code (InvalidParameterValue, MissingParameterValue, ...).
    """

    code = "InvalidParameterValue"

    def __init__(self, description: str, code: str | None = None):
        super().__init__(description)
        self.description = description
        if code is not None:
            self.code = code


class BadRequest(RequestError):
    """A parameter or body the client must fix (answered 400)."""


class NotFound(RequestError):
    """No such resource (answered 404, the same for unknown and not-yours)."""

    code = "NotFound"


class NotAcceptable(RequestError):
    """No representation of the resource in the format asked for."""


class Forbidden(RequestError):
    """The caller may not do this (answered 403 with the reason)."""

    code = "Forbidden"


class MethodNotAllowed(RequestError):
    """The resource does not take this method (answered 405), e.g. a write on a read-only layer.

    Attributes:
        allow: the methods it does take (the ``Allow`` header).
    """

    code = "InvalidOperation"

    def __init__(self, description: str, allow: tuple[str, ...] = ("GET", "HEAD", "OPTIONS")):
        super().__init__(description)
        self.allow = allow


class PayloadTooLarge(RequestError):
    """A request body over the limit (answered 413)."""

    code = "PayloadTooLarge"


class TooManyRequests(RequestError):
    """Over a rate limit (answered 429 with Retry-After)."""

    code = "TooManyRequests"

    def __init__(self, description: str, retry_after: int = 60):
        super().__init__(description)
        self.retry_after = retry_after


class UnsupportedMediaType(RequestError):
    """A request body in a media type the route does not read (answered 415)."""

    code = "UnsupportedMediaType"


class PreconditionRequired(RequestError):
    """A write without the ``If-Match`` it needs (answered 428)."""

    code = "PreconditionRequired"


class EditConflict(RequestError):
    """The feature changed since the caller read it (another edit, a reload): answered 412."""

    code = "PreconditionFailed"


class FeatureNotFound(NotFound):
    """No feature with this id in the layer's current version."""


class FeatureExists(RequestError):
    """A feature with this id already exists (answered 409)."""

    code = "Conflict"
