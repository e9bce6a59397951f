"""Open311 GeoReport v2 under ``/open311/v2`` (JSON): the categories as services, reports as
service requests. The viewer submits through the same POST.

- ``GET services.json``, ``GET services/{code}.json``: categories and their questions.
- ``GET challenge.json``: a proof-of-work challenge (our extension; see challenge.py).
- ``POST requests.json``: a new report (form fields of the spec; ``media`` a photo file;
  ``challenge`` + ``nonce`` or a staff-issued ``api_key``); answers the id, the status link and
  its token (shown once), and possible duplicates.
- ``GET requests.json`` (``service_code``, ``status`` open/closed, ``start_date``, ``end_date``;
  ``service_request_id``: ids, comma-separated, instead of the others),
  ``GET requests/{id}.json``: accepted reports only, with their public words only.
"""

from dataclasses import replace

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from server.auth.authenticate import Authenticator, AuthFailure, client_address
from server.reports.desk import ReportDesk
from server.reports.io import iso_date, read_report_form
from server.reports.steps import PUBLIC
from tsukuba_gis.errors import BadRequest, Forbidden, NotFound
from tsukuba_gis.i18n import negotiate
from tsukuba_gis.reportdef import CategoryDef
from tsukuba_gis.store.reports import Report, ReportFilter

ROOT = "/open311/v2"


def service(category: CategoryDef, lang: str) -> dict:
    """One Open311 service."""
    return {
        "service_code": category.id,
        "service_name": category.title.text(lang),
        "description": category.description.text(lang),
        "metadata": bool(category.asks),
        "type": "realtime",
        "keywords": ",".join(category.keywords),
        "group": category.department,
    }


def definition(category: CategoryDef, lang: str) -> dict:
    """An Open311 service definition: the category's questions as attributes."""
    attributes = [
        {
            "variable": True,
            "code": ask.code,
            "datatype": "singlevaluelist" if ask.values else "string",
            "required": ask.required,
            "datatype_description": None if ask.values else f"≤ {ask.max_length}",
            "order": i + 1,
            "description": ask.label.text(lang),
            "values": [{"key": v, "name": v} for v in ask.values or []],
        }
        for i, ask in enumerate(category.asks)
    ]
    return {"service_code": category.id, "attributes": attributes}


def public_request(report: Report, category: CategoryDef | None, base: str, lang: str) -> dict:
    """An accepted report as an Open311 service request: its public words only."""
    photo = f"{base}/reports/photos/{report.id}.jpg" if report.photo and report.photo_approved else None
    return {
        "service_request_id": report.id,
        "status": "open" if report.is_open else "closed",
        "status_notes": report.reply,
        "service_name": category.title.text(lang) if category else report.category,
        "service_code": report.category,
        "description": report.public_text,
        "agency_responsible": report.department,
        "requested_datetime": report.created_at,
        "updated_datetime": report.updated_at,
        "lat": report.lat,
        "long": report.lon,
        "media_url": photo,
        "detailed_status": report.status,
    }


class Open311:
    """The Open311 routes over the desk."""

    def __init__(self, desk: ReportDesk, authenticator: Authenticator | None):
        self.desk, self.authenticator = desk, authenticator

    def _lang(self, request: Request) -> str:
        return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))

    def _category(self, code: str) -> CategoryDef:
        found = self.desk.categories().get(code)
        if found is None:
            raise NotFound(f"no service {code[:40]!r} (GET {ROOT}/services.json lists them)")
        return found

    async def services(self, request: Request) -> JSONResponse:
        """Every category."""
        lang = self._lang(request)
        return JSONResponse([service(c, lang) for c in self.desk.categories().values()])

    async def service_definition(self, request: Request) -> JSONResponse:
        """One category's questions."""
        code = request.path_params["code"]
        return JSONResponse(definition(self._category(code), self._lang(request)))

    async def new_challenge(self, request: Request) -> JSONResponse:
        """A proof-of-work challenge (no-store: each one is used once)."""
        return JSONResponse(self.desk.new_challenge(), headers={"Cache-Control": "no-store"})

    async def create(self, request: Request) -> JSONResponse:
        """A new report."""
        form, photo = await read_report_form(request, self.desk.rules.photo_max_bytes)
        principal = await run_in_threadpool(self._api_key, form.pop("api_key", None))
        receipt = await run_in_threadpool(self.desk.submit, form, photo, client_address(request), principal)
        base = self.desk.settings.public_url.rstrip("/")
        answer = {
            "service_request_id": receipt.report.id,
            "service_notice": "受け付けました。市が内容を確認してから地図に掲載します。",
            "account_id": None,
            "token": receipt.token,
            "status_url": f"{base}/reports/{receipt.token}",
            "duplicates": receipt.duplicates,
        }
        return JSONResponse([answer], status_code=201, headers={"Cache-Control": "no-store"})

    def _api_key(self, key: str | None):
        if not key:
            return None
        if self.authenticator is None:
            raise Forbidden("api_key: this server takes no api keys")
        try:
            return self.authenticator.token_principal(key.strip())
        except AuthFailure as failure:
            raise Forbidden(f"api_key: {failure.description}") from None

    def _public(self, where: ReportFilter) -> list[Report]:
        return self.desk.store.reports(replace(where, statuses=PUBLIC))

    async def requests(self, request: Request) -> JSONResponse:
        """Accepted reports, newest first (at most 1000)."""
        q, lang = request.query_params, self._lang(request)
        status = q.get("status")
        if status not in (None, "open", "closed"):
            raise BadRequest("status: open or closed")
        code = q.get("service_code")
        if code is not None:
            self._category(code)
        where = ReportFilter(
            category=code,
            since=iso_date("start_date", q.get("start_date")),
            until=iso_date("end_date", q.get("end_date")),
            limit=1000,
        )
        wanted = q.get("service_request_id")  # the spec: ids, comma-separated, instead of the rest
        if wanted is not None:
            where, status = ReportFilter(limit=1000), None
        found = await run_in_threadpool(self._public, where)
        if wanted is not None:
            ids = set(wanted.split(",")[:100])
            found = [r for r in found if r.id in ids]
        if status is not None:
            found = [r for r in found if r.is_open == (status == "open")]
        base, categories = self.desk.settings.public_url.rstrip("/"), self.desk.categories()
        return JSONResponse([public_request(r, categories.get(r.category), base, lang) for r in found])

    async def one(self, request: Request) -> JSONResponse:
        """One accepted report (a pending or rejected one is not public: 404)."""
        report_id = request.path_params["report_id"]
        report = await run_in_threadpool(self.desk.store.report, report_id[:32])
        if report is None or report.status not in PUBLIC:
            raise NotFound("no public report with this id (reports appear once the city accepted them)")
        base = self.desk.settings.public_url.rstrip("/")
        body = public_request(report, self.desk.categories().get(report.category), base, self._lang(request))
        return JSONResponse([body])


def open311_routes(desk: ReportDesk, authenticator: Authenticator | None) -> list[Route]:
    """The Open311 routes (public)."""
    api = Open311(desk, authenticator)
    return [
        Route(f"{ROOT}/services.json", api.services, methods=["GET", "HEAD"]),
        Route(f"{ROOT}/services/{{code}}.json", api.service_definition, methods=["GET", "HEAD"]),
        Route(f"{ROOT}/challenge.json", api.new_challenge, methods=["GET"]),
        Route(f"{ROOT}/requests.json", api.requests, methods=["GET", "HEAD"]),
        Route(f"{ROOT}/requests.json", api.create, methods=["POST"]),
        Route(f"{ROOT}/requests/{{report_id}}.json", api.one, methods=["GET", "HEAD"]),
    ]
