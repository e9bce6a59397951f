"""The HTTP side of 「この地点の情報」 (``/point``, ``/internal/point``): parameters, formats, caching.

Kept apart from ``server/point.py`` (the report itself) because the resident's reading of a
report (``server/report/``) builds on ``server.point``: the route needs both.
"""

from collections.abc import Callable
from typing import Any

from fastapi.responses import JSONResponse, Response
from starlette.requests import Request

from server import caching
from server.point import (
    DEFAULT_NEAREST,
    DEFAULT_RADIUS_M,
    FORMATS,
    MAX_NEAREST,
    MAX_RADIUS_M,
    _number,
    point_report,
    report_csv,
)
from server.report.build import resident_report
from server.report.sheet import report_sheet
from server.snapshot import Snapshot, Snapshots, audience_endpoint
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.i18n import negotiate
from tsukuba_gis.layerdef import Access


def _parameters(params: Any) -> tuple[float, float, float, int, str]:
    """(lat, lon, radius, nearest, f) of a request, or BadRequest naming the parameter."""
    lat, lon = _number(params, "lat"), _number(params, "lon")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise BadRequest("lat must be within ±90 and lon within ±180")
    radius = _number(params, "radius", DEFAULT_RADIUS_M)
    if not 0 <= radius <= MAX_RADIUS_M:
        raise BadRequest(f"radius: 0 to {MAX_RADIUS_M} metres")
    nearest = _number(params, "nearest", DEFAULT_NEAREST)
    if not (nearest.is_integer() and 0 <= nearest <= MAX_NEAREST):
        raise BadRequest(f"nearest: an integer from 0 to {MAX_NEAREST}")
    fmt = params.get("f", "json")
    if fmt not in FORMATS:
        raise BadRequest(f"f: one of {', '.join(FORMATS)}")
    return lat, lon, radius, int(nearest), fmt


def _public_cache(snapshot: Snapshot) -> str:
    """A resident's report may be kept a minute, unless staff edit a layer of it live (issue 13):
    a shelter opened must show within seconds, so the report is then asked again on every use."""
    return caching.PUBLIC_LIVE if snapshot.api.live else "public, max-age=60"


def answer(request: Request, snapshot: Snapshot) -> Response:
    """The point report of one audience's snapshot for a request (lat, lon, radius, nearest, f, lang).

    The JSON and the printable sheet are in any of the eight languages (``lang=`` or
    Accept-Language); the CSV's own words are Japanese (ja, ja-x-easy) or English.
    """
    lat, lon, radius, nearest, fmt = _parameters(request.query_params)
    lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
    report = resident_report(snapshot, point_report(snapshot, lat, lon, radius, nearest), lang)
    public = snapshot.audience == "public"
    cache = {
        "Cache-Control": _public_cache(snapshot) if public else "private, no-store",
        "Vary": "Accept-Language",
    }
    name = f"point-{lat:.5f}-{lon:.5f}"
    if fmt == "csv":
        return Response(
            report_csv(report, "ja" if lang in ("ja", "ja-x-easy") else "en"),
            media_type="text/csv; charset=utf-8",
            headers={**cache, "Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "html":
        return Response(
            report_sheet(snapshot, report),
            media_type="text/html; charset=utf-8",
            headers={**cache, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )
    return JSONResponse(report, headers=cache)


def point_endpoint(snapshots: Snapshots, audience: Access) -> Callable:
    """A Starlette endpoint answering point reports over ``audience``'s layers (e.g. /internal)."""
    return audience_endpoint(answer, snapshots, audience)
