"""A resident's submission checked field by field (Open311 names), before anything is stored.

Every refusal is a BadRequest naming the field; messages never repeat the client's value. Text
is plain text: markup is refused rather than silently escaped, so what staff moderate is what
the resident wrote (pages escape it anyway).
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import shapely

from server.email_address import checked_email
from server.reports.settings import ReportSettings
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.reportdef import CategoryDef

MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]|javascript\s*:", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HONEYPOT = "website"  # a field people never see (hidden in the form); robots fill it in
ATTRIBUTE = re.compile(r"^attribute\[([a-z][a-z0-9_]{0,39})\]$")


@dataclass(frozen=True)
class Submission:
    """A checked report, not stored yet."""

    category: CategoryDef
    lon: float
    lat: float
    text: str
    email: str | None
    attributes: dict[str, str]


def plain_text(name: str, value: Any, limit: int, required: bool = False) -> str | None:
    """A field's text, stripped; BadRequest when missing, too long or with markup."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest(f"{name}: required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name}: must be text")
    text = value.strip().replace("\r\n", "\n")
    if len(text) > limit:
        raise BadRequest(f"{name}: at most {limit} characters")
    if MARKUP.search(text) or CONTROL.search(text):
        raise BadRequest(f"{name}: plain text only (no HTML, script or control characters)")
    return text


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name}: required, a number in degrees (WGS 84)") from None
    if not math.isfinite(number):
        raise BadRequest(f"{name}: must be a finite number")
    return number


def _attributes(category: CategoryDef, form: Mapping[str, Any]) -> dict[str, str]:
    asks = {a.code: a for a in category.asks}
    given: dict[str, str] = {}
    for key, value in form.items():
        match = ATTRIBUTE.match(key) if isinstance(key, str) else None
        if key.startswith("attribute[") and (match is None or match.group(1) not in asks):
            raise BadRequest(f"attribute: {category.id} asks only {', '.join(asks) or 'nothing'}")
        if match is None:
            continue
        ask = asks[match.group(1)]
        text = plain_text(f"attribute[{ask.code}]", value, ask.max_length)
        if text is not None and ask.values is not None and text not in ask.values:
            raise BadRequest(f"attribute[{ask.code}]: one of {', '.join(ask.values)}")
        if text is not None:
            given[ask.code] = text
    missing = [a.code for a in category.asks if a.required and a.code not in given]
    if missing:
        raise BadRequest(f"attribute[{missing[0]}]: required for {category.id}")
    return given


def check_submission(
    form: Mapping[str, Any], categories: Mapping[str, CategoryDef], area: Any, settings: ReportSettings
) -> Submission:
    """The submission in ``form`` (Open311 fields), checked; BadRequest naming the field at fault."""
    if form.get(HONEYPOT):
        raise BadRequest(f"{HONEYPOT}: must stay empty (a field for robots only)")
    code = form.get("service_code")
    category = categories.get(code) if isinstance(code, str) else None
    if category is None:
        raise BadRequest(f"service_code: no such category (known: {', '.join(categories)})")
    lat, lon = _number("lat", form.get("lat")), _number("long", form.get("long"))
    if area is None or not area.covers(shapely.Point(lon, lat)):
        raise BadRequest("lat, long: the place is not in Tsukuba City; reports are for places in the city")
    text = plain_text("description", form.get("description"), settings.text_max, required=True)
    email = plain_text("email", form.get("email"), settings.contact_max)
    if email is not None:
        email = checked_email(email)
    return Submission(category, lon, lat, text or "", email, _attributes(category, form))
