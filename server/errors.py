"""One table from errors to HTTP, and the one OGC API exception body every route answers with.

Routes raise the product's errors (``tsukuba_gis.errors``: ``BadRequest``, ``NotFound``,
``StoreUnavailable`` ...) or return :func:`ogc_error`; the status of each error class is looked
up here, along its class hierarchy (as ``titiler.core.errors`` does). Only server faults are
logged as errors: a client's mistake is an INFO line without a traceback (a client must not be
able to flood the log), a store outage a WARNING, a bug an ERROR with its traceback.
"""

import logging
from collections.abc import Mapping

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from tsukuba_gis.errors import (
    BadRequest,
    DefinitionError,
    EditConflict,
    FeatureExists,
    Forbidden,
    GisError,
    LayerNotFound,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    PreconditionRequired,
    RequestError,
    SourceError,
    StoreError,
    StoreUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
)

LOG = logging.getLogger(__name__)

DEFAULT_STATUS_CODES: dict[type[Exception], int] = {
    RequestError: 400,
    BadRequest: 400,
    NotFound: 404,
    NotAcceptable: 406,
    Forbidden: 403,
    MethodNotAllowed: 405,
    FeatureExists: 409,
    EditConflict: 412,
    PayloadTooLarge: 413,
    TooManyRequests: 429,
    UnsupportedMediaType: 415,
    PreconditionRequired: 428,
    LayerNotFound: 404,
    StoreUnavailable: 503,
    StoreError: 503,
    DefinitionError: 500,
    SourceError: 500,
    GisError: 500,
}
# OGC API exception codes of plain HTTP errors (404 of an unknown route, 405 of a method).
HTTP_CODES = {
    400: "InvalidParameterValue",
    401: "NotAuthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "InvalidOperation",
    406: "NotAcceptable",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    428: "PreconditionRequired",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}
RETRY_AFTER_S = 5
SERVER_ERROR = "internal server error"


def ogc_error(
    status: int, code: str | None, description: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An OGC API exception body (``code``, ``type``, ``description``): the one shape of errors."""
    code = code or HTTP_CODES.get(status, "NoApplicableCode")
    response = JSONResponse(
        {"code": code, "type": code, "description": description},
        status_code=status,
        headers=dict(headers or {}),
    )
    if status == 503 and "retry-after" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def status_of(exc: BaseException, codes: Mapping[type[Exception], int] = DEFAULT_STATUS_CODES) -> int:
    """The HTTP status of an error: its class's entry, else its nearest listed base class's, else 500."""
    for cls in type(exc).__mro__:
        if cls in codes:
            return codes[cls]
    return 500


def error_response(
    exc: GisError, where: str = "", codes: Mapping[type[Exception], int] = DEFAULT_STATUS_CODES
) -> JSONResponse:
    """The answer to a raised product error, logged by its kind (``where``: e.g. the path)."""
    status = status_of(exc, codes)
    if status == 503:
        # The details (host, DSN) are for the log; the client learns only to come back.
        LOG.warning("%s on %s: %s", type(exc).__name__, where, exc)
        public = getattr(exc, "public_message", StoreUnavailable.public_message)
        retry = getattr(exc, "retry_after", RETRY_AFTER_S)
        return ogc_error(503, "ServiceUnavailable", public, {"Retry-After": str(retry)})
    if status >= 500:
        LOG.error("%s on %s: %s", type(exc).__name__, where, exc)
        return ogc_error(status, "NoApplicableCode", SERVER_ERROR)
    LOG.info("%s %s on %s: %s", status, exc.code, where, exc)
    headers = {}
    if allow := getattr(exc, "allow", None):
        headers["Allow"] = ", ".join(allow)
    if status == 429:
        headers["Retry-After"] = str(getattr(exc, "retry_after", RETRY_AFTER_S))
    return ogc_error(status, exc.code, str(exc), headers)


def unexpected(exc: BaseException, where: str) -> JSONResponse:
    """The 500 of a bug: logged with its traceback, never shown to the client."""
    LOG.error("unexpected error on %s", where, exc_info=exc)
    return ogc_error(500, "NoApplicableCode", SERVER_ERROR)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """404/405 and the other HTTP errors of the routing, as OGC API exception bodies."""
    description = "no such resource" if exc.status_code == 404 else str(exc.detail)
    return ogc_error(exc.status_code, None, description, getattr(exc, "headers", None))


def add_exception_handlers(
    app: FastAPI | object, codes: Mapping[type[Exception], int] = DEFAULT_STATUS_CODES
) -> None:
    """Answer every error of ``app`` (FastAPI or Starlette) with the one body shape."""

    async def gis_error(request: Request, exc: GisError) -> Response:
        return error_response(exc, request.url.path, codes)

    async def disconnected(request: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=400)  # the client left before its body: nobody to answer

    async def bug(request: Request, exc: Exception) -> Response:
        return unexpected(exc, request.url.path)

    app.add_exception_handler(GisError, gis_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(Exception, bug)
