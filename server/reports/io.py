"""Reading a report's request body within limits: Open311 form fields (urlencoded or multipart,
the photo as the ``media`` file part) or JSON (staff steps)."""

from datetime import datetime
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from server.ogcapi.transaction_io import read_body
from tsukuba_gis.errors import BadRequest, UnsupportedMediaType

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
MAX_FIELDS = 40
FORM_SLACK = 64 * 1024  # the text fields beside the photo


async def read_report_form(request: Request, photo_limit: int) -> tuple[dict[str, str], bytes | None]:
    """(fields, photo bytes or None) of an Open311 POST."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (FORM, MULTIPART):
        raise UnsupportedMediaType(f"Content-Type: send {FORM} or {MULTIPART} (Open311 GeoReport v2)")
    body = await read_body(request, photo_limit + FORM_SLACK)
    if kind == FORM:
        try:
            pairs = parse_qsl(body.decode("utf-8"), max_num_fields=MAX_FIELDS)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(f"the body is not a valid form (UTF-8, at most {MAX_FIELDS} fields)") from None
        return dict(pairs), None
    request._body = body  # Starlette's form parser then reads the bounded body, not the socket
    try:
        form = await request.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=FORM_SLACK)
    except (MultiPartException, HTTPException) as err:  # Starlette answers its 400 as HTTPException
        detail = getattr(err, "message", None) or getattr(err, "detail", "")
        raise BadRequest(f"the body is not valid multipart/form-data: {str(detail)[:100]}") from None
    fields: dict[str, str] = {}
    photo = None
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name != "media":
                raise BadRequest(f"{name[:40]}: the only file part is media (the photo)")
            photo = await value.read()
        else:
            fields[name] = value
    await form.close()
    return fields, photo or None


def iso_date(name: str, value: str | None) -> str | None:
    """A query's date or time as ISO 8601 (None when not given), or BadRequest naming it."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRequest(f"{name}: a date or time (ISO 8601)") from None
