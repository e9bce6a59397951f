"""The HTTP edges of the write routes: bodies, If-Match, and the feature sent back.

Bodies are read up to a limit (413 past it, before anything is parsed), in the media types the
route takes (415 otherwise), as JSON (400 otherwise: orjson refuses NaN, Infinity and nesting
deeper than 1,024). ``If-Match`` names the feature's strong ETag (``"<version>.<revision>"``,
server/ogcapi/transactions.py sends it with every feature); a write without one is refused
(428) unless the credential is an ``edit-unconditional`` token (QGIS sends no If-Match).
"""

import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from server.auth.authenticate import Principal
from server.ogcapi.geojson import features
from tsukuba_gis.errors import (
    BadRequest,
    EditConflict,
    PayloadTooLarge,
    PreconditionRequired,
    UnsupportedMediaType,
)
from tsukuba_gis.store import FeaturePage
from tsukuba_gis.store.base import feature_etag

MAX_BODY = 1_000_000  # bytes: a road polygon is a few kB; 10 MB of JSON is an attack, not an edit
FEATURE_TYPES = ("application/geo+json", "application/json")
PATCH_TYPES = ("application/merge-patch+json", "application/json")
GEOJSON = "application/geo+json"
ETAG = re.compile(r'^"(\d{1,9})\.(\d{1,12})"$')


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or PayloadTooLarge as soon as it passes ``limit`` (with or without a length)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"the body is over {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is over {limit:,} bytes")
    return bytes(body)


async def read_json(request: Request, media_types: tuple[str, ...], limit: int = MAX_BODY) -> Any:
    """The request body as JSON, or the 413/415/400 that says what is wrong with it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in media_types:
        raise UnsupportedMediaType(f"Content-Type: send {' or '.join(media_types)}")
    body = await read_body(request, limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON (UTF-8)") from None


def expectation(request: Request, principal: Principal) -> tuple[int, int] | None:
    """(version, revision) of the If-Match, or None for an unconditional write (only for an
    ``edit-unconditional`` token); PreconditionRequired (428) without one, BadRequest for a
    tag this server never sent, EditConflict (412) for a weak one (it never matches)."""
    raw = (request.headers.get("if-match") or "").strip()
    if raw in ("", "*"):
        if principal.scope == "edit-unconditional":
            return None
        raise PreconditionRequired(
            "If-Match: required; send the feature's ETag as you read it (GET .../items/{featureId}),"
            " so that a change saved meanwhile by someone else is not overwritten (412)"
        )
    tag = raw.split(",")[0].strip()
    if tag.startswith("W/"):
        raise EditConflict("If-Match: a weak ETag never matches; send the feature's ETag")
    match = ETAG.match(tag)
    if match is None:
        raise BadRequest(
            "If-Match: not the ETag of a feature of this server (read it: GET .../items/{featureId})"
        )
    return int(match.group(1)), int(match.group(2))


def feature_response(
    fid: Any, wkb: bytes | None, properties: dict[str, Any], version: int, revision: int, status: int = 200
) -> Response:
    """A GeoJSON Feature with its ETag (the caller's next If-Match)."""
    page = FeaturePage([fid], [wkb], [properties], None)
    body = orjson.dumps(features(page, plain=True)[0])
    return Response(
        body, status_code=status, media_type=GEOJSON, headers={"ETag": feature_etag(version, revision)}
    )
