"""Random secrets: personal API tokens, session ids, CSRF tokens; only their digests are stored.

A token is ``tgis_<id>_<secret>``: 256 random bits, a public id (listed and revoked by it)
and a recognisable prefix so secret scanners can find a leaked one. The store keeps SHA-256 of
the whole token: a fast hash is enough for 256-bit random secrets (nothing to brute-force),
unlike passwords.
"""

import hashlib
import hmac
import re
import secrets

TOKEN_PREFIX = "tgis"
TOKEN_ID = re.compile(r"^[0-9a-f]{12}$")
TOKEN = re.compile(r"^tgis_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def digest(secret: str) -> str:
    """The SHA-256 hex digest stored in place of a token or session id."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_digest(secret: str, stored: str) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(digest(secret), stored)


def new_token() -> tuple[str, str]:
    """A new personal token: (id, token); the token is shown once and never stored."""
    token_id = secrets.token_hex(6)
    return token_id, f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(token: str) -> str | None:
    """The id inside a well-formed token, or None."""
    match = TOKEN.match(token)
    return match.group(1) if match else None


def new_session_id() -> str:
    """A new session id for the cookie (256 random bits)."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    """A new per-session CSRF token (sent back by the viewer in a header)."""
    return secrets.token_urlsafe(32)
