"""The reporter's status page ``/reports/{token}`` (HTML in Japanese or English, ``?f=json``),
the deletion of their personal data on request, and approved photos ``/reports/photos/{id}.jpg``.

The page shows what the city decided and replied, never the reporter's own words or contact
(those are in the personal part, staff only). Each status link is counted (rate limit); a
forged one is a 404 that says so.
"""

import html

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from server.auth.authenticate import client_address
from server.reports.desk import ReportDesk
from server.reports.steps import PUBLIC
from tsukuba_gis.errors import NotFound
from tsukuba_gis.i18n import negotiate
from tsukuba_gis.store.reports import Report

TEXTS = {
    "ja": {
        "title": "報告の状況",
        "number": "受付番号",
        "category": "種類",
        "status": "状況",
        "reported": "報告日時（UTC）",
        "updated": "更新日時（UTC）",
        "reply": "市からの回答",
        "reason": "理由",
        "merged": "同じ内容の報告",
        "photo": "写真",
        "feed": "更新をフィードで受け取る（Atom）",
        "forget": "連絡先などの個人情報を削除する",
        "forgotten": "個人情報は削除されました（報告の状況はこのページで引き続き確認できます）。",
        "note": "このページのURLは報告した方だけが知っています。ほかの人に教えないでください。",
        "statuses": {
            "受付待ち": "受付待ち（市が内容を確認しています）",
            "受付": "受付",
            "対応中": "対応中",
            "完了": "完了",
            "却下": "却下",
        },
    },
    "en": {
        "title": "Your report",
        "number": "Report number",
        "category": "Category",
        "status": "Status",
        "reported": "Reported (UTC)",
        "updated": "Updated (UTC)",
        "reply": "The city's reply",
        "reason": "Reason",
        "merged": "Same as report",
        "photo": "Photo",
        "feed": "Follow the updates in a feed reader (Atom)",
        "forget": "Delete my contact and other personal data",
        "forgotten": "Your personal data was deleted (this page keeps showing the status).",
        "note": "Only you know the address of this page; do not share it.",
        "statuses": {
            "受付待ち": "Waiting (the city is checking it)",
            "受付": "Accepted",
            "対応中": "In progress",
            "完了": "Done",
            "却下": "Rejected",
        },
    },
}


def status_json(report: Report, desk: ReportDesk) -> dict:
    """What the reporter may read of their report."""
    category = desk.categories().get(report.category)
    base = desk.settings.public_url.rstrip("/")
    public = report.status in PUBLIC
    return {
        "id": report.id,
        "service_code": report.category,
        "category": category.title.model_dump() if category else None,
        "status": report.status,
        "open": report.is_open,
        "requested_datetime": report.created_at,
        "updated_datetime": report.updated_at,
        "reply": report.reply,
        "reason": report.reason,
        "merged_into": report.merged_into,
        "public_url": f"{base}/open311/v2/requests/{report.id}.json" if public else None,
        "photo_url": f"{base}/reports/photos/{report.id}.jpg" if public and report.photo_approved else None,
        # The change feed around the report: every later step of a public report is in it.
        "feed_url": f"{base}/feeds/changes.atom?layer=reports&lat={report.lat}&lon={report.lon}&radius=50"
        if public
        else None,
    }


def status_html(data: dict, lang: str, token: str, note: str | None = None) -> str:
    """The status page (no script; the deletion is a plain form)."""
    t, e = TEXTS[lang], html.escape
    category = (data["category"] or {}).get(lang) or data["service_code"]
    rows = [
        (t["number"], data["id"]),
        (t["category"], category),
        (t["status"], t["statuses"].get(data["status"], data["status"])),
        (t["reported"], data["requested_datetime"].replace("T", " ")[:16]),
        (t["updated"], data["updated_datetime"].replace("T", " ")[:16]),
    ]
    rows += [
        (t[k], data[v])
        for k, v in (("reply", "reply"), ("reason", "reason"), ("merged", "merged_into"))
        if data[v]
    ]
    table = "".join(f"<tr><th scope='row'>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
    photo = (
        f"<p><img src='{e(data['photo_url'])}' alt='{e(t['photo'])}' width='320'></p>"
        if data["photo_url"]
        else ""
    )
    done = f"<p role='status'>{e(note)}</p>" if note else ""
    feed = f"<p><a href='{e(data['feed_url'])}'>{e(t['feed'])}</a></p>" if data["feed_url"] else ""
    return (
        f"<!doctype html><html lang='{lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='referrer' content='no-referrer'><meta name='robots' content='noindex'>"
        f"<title>{e(t['title'])}</title></head><body><main><h1>{e(t['title'])}</h1>{done}"
        f"<table>{table}</table>{photo}{feed}<p>{e(t['note'])}</p>"
        f"<form method='post' action='/reports/{e(token)}/forget?lang={lang}'>"
        f"<button type='submit'>{e(t['forget'])}</button></form></main></body></html>"
    )


class StatusPages:
    """The reporter's routes over the desk."""

    def __init__(self, desk: ReportDesk):
        self.desk = desk

    def _lang(self, request: Request) -> str:
        lang = negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))
        return lang if lang in TEXTS else "en"

    async def page(self, request: Request) -> Response:
        """The status of a report, HTML or ``?f=json``."""
        token = request.path_params["token"]
        report = await run_in_threadpool(self.desk.by_token, token, client_address(request))
        data = status_json(report, self.desk)
        headers = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
        if request.query_params.get("f") == "json":
            return JSONResponse(data, headers=headers)
        return HTMLResponse(status_html(data, self._lang(request), token), headers=headers)

    async def forget(self, request: Request) -> Response:
        """Delete the personal part of a report (the reporter's request)."""
        token = request.path_params["token"]
        client = client_address(request)
        await run_in_threadpool(self.desk.forget, token, client)
        report = await run_in_threadpool(self.desk.by_token, token, client)
        data = status_json(report, self.desk)
        headers = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({**data, "personal_data": "deleted"}, headers=headers)
        lang = self._lang(request)
        return HTMLResponse(status_html(data, lang, token, TEXTS[lang]["forgotten"]), headers=headers)

    async def photo(self, request: Request) -> Response:
        """A photo staff approved, of a public report (else 404)."""
        report = await run_in_threadpool(self.desk.store.report, request.path_params["report_id"][:32])
        if report is None or report.status not in PUBLIC or not report.photo_approved or not report.photo:
            raise NotFound("no public photo of this report")
        path = self.desk.photo_dir / report.photo
        if not path.is_file():
            raise NotFound("no public photo of this report")
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=300"})


def status_routes(desk: ReportDesk) -> list[Route]:
    """The reporter's routes (public)."""
    pages = StatusPages(desk)
    return [
        Route("/reports/photos/{report_id}.jpg", pages.photo, methods=["GET", "HEAD"]),
        Route("/reports/{token}", pages.page, methods=["GET", "HEAD"]),
        Route("/reports/{token}/forget", pages.forget, methods=["POST"]),
    ]
