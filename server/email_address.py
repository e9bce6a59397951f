"""One check of an e-mail address, for every route that takes one (subscriptions, reports)."""

import re

from tsukuba_gis.errors import BadRequest

MAX_EMAIL = 254  # RFC 5321: a path of 256 octets with its angle brackets
# A pragmatic address: one @, a local part of printable ASCII, a domain of labels with a dot.
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def checked_email(raw: str) -> str:
    """The address, or BadRequest saying what is wrong with it."""
    email = raw.strip()
    if len(email) > MAX_EMAIL:
        raise BadRequest(f"email: at most {MAX_EMAIL} characters")
    if not EMAIL.fullmatch(email):
        raise BadRequest("email: not an e-mail address (name@example.jp)")
    return email
