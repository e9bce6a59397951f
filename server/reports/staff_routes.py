"""The staff side of the reports, under ``/internal/reports`` (behind the staff wall: session
and CSRF, Basic or token, like every /internal route).

- ``GET /internal/reports?status=&category=&since=&until=``: the reports of the caller's
  departments (admins: all), newest first, with the personal part (staff only).
- ``GET /internal/reports/{id}``: one report, its personal part, steps and possible duplicates.
- ``GET /internal/reports/{id}/photo.jpg``: its photo, approved or not.
- ``POST /internal/reports/{id}/accept`` ``{"text", "photo_approved"}``,
  ``/reject`` ``{"reason"}``, ``/merge`` ``{"into"}``, ``/status`` ``{"status", "reply",
  "text", "photo_approved"}``: the steps (server/reports/steps.py); a report of another
  department is a 403 that names it.
"""

from dataclasses import asdict

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.ogcapi.transaction_io import read_json
from server.reports.io import iso_date
from server.reports.steps import StaffSteps
from tsukuba_gis.errors import BadRequest, NotFound
from tsukuba_gis.store.reports import STATUSES, Report, ReportFilter

JSON_TYPES = ("application/json",)
STEP_BODY_MAX = 16 * 1024


def staff_view(report: Report) -> dict:
    """A report as staff see it (the token's hash is nobody's business)."""
    data = asdict(report)
    data.pop("token_hash")
    data["photo_url"] = f"/internal/reports/{report.id}/photo.jpg" if report.photo else None
    return data


class StaffReports:
    """The staff routes over the steps."""

    def __init__(self, steps: StaffSteps):
        self.steps, self.store = steps, steps.store

    async def listing(self, request: Request) -> JSONResponse:
        """The reports of the caller's departments, filtered."""
        principal, q = request.scope["user"], request.query_params
        status, category = q.get("status"), q.get("category")
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status: one of {', '.join(STATUSES)}")
        if category is not None and category not in self.steps.desk.categories():
            raise BadRequest("category: not a report category")
        departments = None if principal.role == "admin" else tuple(principal.departments)
        where = ReportFilter(
            departments,
            status,
            category,
            iso_date("since", q.get("since")),
            iso_date("until", q.get("until")),
            limit=500,
        )

        def read() -> list[dict]:
            out = []
            for report in self.store.reports(where):
                personal = self.store.report_personal(report.id)
                out.append({**staff_view(report), "personal": asdict(personal) if personal else None})
            return out

        return JSONResponse({"reports": await run_in_threadpool(read)})

    async def one(self, request: Request) -> JSONResponse:
        """One report with its personal part, steps and possible duplicates."""

        def read() -> dict:
            report = self.steps.report_for(request.scope["user"], request.path_params["report_id"])
            personal = self.store.report_personal(report.id)
            duplicates = self.steps.desk.duplicates(report.category, report.lon, report.lat, but=report.id)
            return {
                **staff_view(report),
                "personal": asdict(personal) if personal else None,
                "steps": [asdict(s) for s in self.store.report_steps(report.id)],
                "duplicates": [staff_view(d) for d in duplicates],
            }

        return JSONResponse(await run_in_threadpool(read))

    async def photo(self, request: Request) -> Response:
        """The report's photo (staff see it before approving it)."""
        report = await run_in_threadpool(
            self.steps.report_for, request.scope["user"], request.path_params["report_id"]
        )
        path = self.steps.desk.photo_dir / report.photo if report.photo else None
        if path is None or not path.is_file():
            raise NotFound("this report has no photo")
        return FileResponse(path, media_type="image/jpeg")

    def _action(self, step):
        async def run(request: Request) -> JSONResponse:
            body = await read_json(request, JSON_TYPES, STEP_BODY_MAX)
            if not isinstance(body, dict):
                raise BadRequest("the body must be a JSON object")
            report = await run_in_threadpool(
                step, request.scope["user"], request.path_params["report_id"], body
            )
            return JSONResponse(staff_view(report))

        return run


def staff_report_routes(steps: StaffSteps) -> list[Route]:
    """The staff routes (mounted inside the /internal wall)."""
    api = StaffReports(steps)
    actions = {
        "accept": steps.accept,
        "reject": steps.reject,
        "merge": steps.merge,
        "status": steps.set_status,
    }
    return [
        Route("/reports", api.listing, methods=["GET"]),
        Route("/reports/{report_id}", api.one, methods=["GET"]),
        Route("/reports/{report_id}/photo.jpg", api.photo, methods=["GET"]),
        *[
            Route(f"/reports/{{report_id}}/{name}", api._action(fn), methods=["POST"])
            for name, fn in actions.items()
        ],
    ]
