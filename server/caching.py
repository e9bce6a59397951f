"""HTTP caching, one helper for every path: validators, 304s and Cache-Control.

Every resource that comes from the store is versioned by the layer versions it shows, so its
validators are derived from them: a new version (ETL, rollback) changes the ETag at once, and
an unchanged layer revalidates with a 304 however often a client, nginx or a CDN asks.
OGC API documents (items, single features, collections), tiles and open-data files all use
``Validators`` + ``not_modified`` + ``headers`` here, so revalidation behaves the same everywhere.

- ETags are weak (``W/"..."``) for generated documents: the same version gives equal content,
  not equal bytes (items carry a ``timeStamp``; gzip changes the bytes too). Files and tiles,
  whose bytes are fixed, may use a strong one.
- ``If-None-Match`` wins over ``If-Modified-Since`` (RFC 9110 13.2.2); dates have 1 s resolution.
- Public answers may be kept by shared caches for a minute and served stale while one request
  revalidates; staff answers never (the wall in server/auth/middleware.py sets ``private,
  no-store`` on everything under /internal whatever a route said).
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime

from starlette.responses import Response

from tsukuba_gis import __version__
from tsukuba_gis.store import LayerRecord

PUBLIC = "public, max-age=60, stale-while-revalidate=300"
# Layers staff edit live (issue 13): every use revalidates (a 304 until the next edit), so a
# resident's phone or nginx never shows a state older than the last edit.
PUBLIC_LIVE = "public, no-cache"
PRIVATE = "private, no-store"
# The headers a 304 must repeat from the 200 it stands for (RFC 9110 15.4.5).
KEPT_ON_304 = ("etag", "last-modified", "cache-control", "vary", "content-location", "expires")


@dataclass(frozen=True)
class Validators:
    """What a client revalidates with.

    Attributes:
        etag: the quoted entity tag, weak (``W/"..."``) or strong.
        last_modified: POSIX seconds, or None when unknown.
    """

    etag: str
    last_modified: float | None = None

    def headers(self) -> dict[str, str]:
        """``ETag`` and (when known) ``Last-Modified``."""
        found = {"ETag": self.etag}
        if self.last_modified is not None:
            found["Last-Modified"] = formatdate(self.last_modified, usegmt=True)
        return found


def _changed_at(record: LayerRecord) -> float | None:
    try:
        return datetime.fromisoformat(record.changed_at).timestamp()
    except (TypeError, ValueError):
        return None


def layer_validators(records: Iterable[LayerRecord], *variant: str) -> Validators:
    """Weak validators of a document made from these layer versions.

    ``variant`` names whatever else selects the representation at one URL (format, language,
    audience); the application version is included so an upgrade that changes documents
    invalidates them too.
    """
    records = list(records)
    key = "\n".join([__version__, *variant, *(r.etag for r in records)])
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=12).hexdigest()
    times = [t for t in map(_changed_at, records) if t is not None]
    return Validators(f'W/"{digest}"', max(times) if times else None)


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def not_modified(request_headers: Mapping[str, str], validators: Validators) -> bool:
    """Whether a GET/HEAD with these headers may be answered 304 (weak comparison)."""
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None:
        tags = {_opaque(t) for t in if_none_match.split(",")}
        return "*" in tags or _opaque(validators.etag) in tags
    since = request_headers.get("if-modified-since")
    if since is None or validators.last_modified is None:
        return False
    try:
        return int(validators.last_modified) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError, OverflowError):
        return False  # an unparsable date is ignored, as the RFC says


def headers(validators: Validators, public: bool, cache_control: str = PUBLIC) -> dict[str, str]:
    """Validators plus Cache-Control for one audience (staff: never stored)."""
    return {**validators.headers(), "Cache-Control": cache_control if public else PRIVATE}


def not_modified_response(response_headers: Mapping[str, str]) -> Response:
    """A 304 carrying the headers its 200 would have had (and no body)."""
    kept = {k: v for k, v in response_headers.items() if k.lower() in KEPT_ON_304}
    return Response(status_code=304, headers=kept)
