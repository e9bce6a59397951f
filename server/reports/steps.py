"""What staff do with a report: accept, reject (with a reason), merge into another, set the
status (受付/対応中/完了) with a public reply, approve the photo.

Each step is checked against the report's department (its category's; admins: any), saved in
``tg_report_steps`` with who did it, and, once the report is public, is a live edit of the
``reports`` layer: accepting adds the feature, a status or reply modifies it, rejecting or
merging an accepted report removes it. Those edits are recorded changes like any other
(``tsukuba-gis etl history reports``, change feeds), so the public map, /api, tiles and open
data follow by themselves. The layer edit comes first: when it fails, the report is unchanged.
"""

from dataclasses import replace

import shapely

from server.auth.authenticate import Principal
from server.reports.desk import ReportDesk
from server.reports.intake import plain_text
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.edits import Draft, request_for
from tsukuba_gis.errors import BadRequest, EditConflict, Forbidden, NotFound, StoreError
from tsukuba_gis.store.base import Editor
from tsukuba_gis.store.reports import Report, Step, now_utc

LAYER = "reports"
PUBLIC = ("受付", "対応中", "完了")
TEXT_MAX = 1000  # the layer's max_length of description and reply


class StaffSteps:
    """The staff steps over the desk's store."""

    def __init__(self, desk: ReportDesk):
        self.desk, self.store = desk, desk.store

    # -- checks ----------------------------------------------------------------------------

    def report_for(self, principal: Principal, report_id: str) -> Report:
        """A report the principal may handle (NotFound, Forbidden naming the department)."""
        report = self.store.report(report_id) if len(report_id) <= 32 else None
        if report is None:
            raise NotFound(f"no report {report_id[:32]!r}")
        self._department(principal, report)
        return report

    def _department(self, principal: Principal, report: Report) -> str | None:
        if principal.role == "admin":
            return None
        if report.department not in principal.departments:
            theirs = ", ".join(principal.departments) or "no department"
            raise Forbidden(
                f"{principal.username} ({theirs}) may not handle report {report.id}: it is for the"
                f" {report.department} department"
            )
        return report.department

    def _writer(self, principal: Principal, report: Report) -> Editor:
        if principal.scope == "read":
            raise Forbidden("this token is read-only; an admin can make one that may edit")
        return Editor(principal.username, self._department(principal, report), principal.method)

    # -- the layer -------------------------------------------------------------------------

    def _properties(self, report: Report) -> dict:
        category = self.desk.categories().get(report.category)
        base = self.desk.settings.resolved_public_url().rstrip("/")
        photo = f"{base}/reports/photos/{report.id}.jpg" if report.photo and report.photo_approved else None
        return {
            "report_id": report.id,
            "category": category.title.ja if category else report.category,
            "category_en": category.title.en if category else report.category,
            "status": report.status,
            "reported_on": report.created_at[:10],
            "description": report.public_text,
            "reply": report.reply,
            "photo_url": photo,
        }

    def _publish(self, editor: Editor, before: Report, after: Report, cause: str) -> None:
        """The layer edit of a step: add, modify or delete the report's feature (or nothing)."""
        was, now = before.status in PUBLIC, after.status in PUBLIC
        if not was and not now:
            return
        layer = cached_catalog(self.desk.settings.layers_dir).get(LAYER)
        record = self.store.current(LAYER)
        if record is None:
            raise StoreError("the reports layer is not loaded; run `tsukuba-gis etl reports`")
        properties = self._properties(after)
        if not was:
            geometry = shapely.to_wkb(shapely.Point(after.lon, after.lat))
            request = request_for(layer, "add", after.id, editor, Draft(properties, geometry), None)
        elif now:
            old = self._properties(before)
            changed = {k: v for k, v in properties.items() if old.get(k) != v}
            request = request_for(layer, "modify", after.id, editor, Draft(changed, None), None)
        else:
            request = request_for(layer, "delete", after.id, editor, Draft({}, None), None)
        self.store.edit(record, replace(request, cause=cause))

    def _step(
        self, principal: Principal, before: Report, after: Report, action: str, detail: str | None
    ) -> Report:
        editor = self._writer(principal, before)
        after = replace(after, updated_at=now_utc())
        self._publish(editor, before, after, f"report {action}")
        self.store.update_report(
            after, Step(after.id, after.updated_at, editor.user, editor.department, action, detail)
        )
        return after

    # -- steps -----------------------------------------------------------------------------

    def accept(self, principal: Principal, report_id: str, body: dict) -> Report:
        """受付待ち -> 受付: the public text (staff's moderated words) and the photo's approval."""
        report = self.report_for(principal, report_id)
        if report.status != "受付待ち":
            raise EditConflict(f"report {report.id} is {report.status}, not 受付待ち: accepted once only")
        text = plain_text("text", body.get("text"), TEXT_MAX, required=True)
        approved = _flag(body, "photo_approved") and report.photo is not None
        after = replace(report, status="受付", public_text=text, photo_approved=approved)
        return self._step(principal, report, after, "accept", None)

    def reject(self, principal: Principal, report_id: str, body: dict) -> Report:
        """-> 却下 with a reason the reporter sees (an accepted report leaves the public map)."""
        report = self.report_for(principal, report_id)
        if report.status == "却下":
            raise EditConflict(f"report {report.id} is already 却下")
        reason = plain_text("reason", body.get("reason"), TEXT_MAX, required=True)
        return self._step(principal, report, replace(report, status="却下", reason=reason), "reject", reason)

    def merge(self, principal: Principal, report_id: str, body: dict) -> Report:
        """A duplicate: 却下 with a link to the report it repeats (same category)."""
        report = self.report_for(principal, report_id)
        into_id = body.get("into")
        into = self.store.report(into_id) if isinstance(into_id, str) and len(into_id) <= 32 else None
        if into is None or into.id == report.id:
            raise BadRequest("into: the id of another report")
        if into.category != report.category or into.status == "却下":
            raise BadRequest("into: a report of the same category that is not 却下")
        after = replace(report, status="却下", merged_into=into.id, reason=f"重複（{into.id} と同じ内容）")
        return self._step(principal, report, after, "merge", into.id)

    def set_status(self, principal: Principal, report_id: str, body: dict) -> Report:
        """受付/対応中/完了 of an accepted report, with the reply and photo approval if given."""
        report = self.report_for(principal, report_id)
        status = body.get("status", report.status)
        if status not in PUBLIC:
            raise BadRequest(f"status: one of {', '.join(PUBLIC)}")
        if report.status not in PUBLIC:
            raise EditConflict(f"report {report.id} is {report.status}: accept it first")
        reply = plain_text("reply", body.get("reply"), TEXT_MAX) if "reply" in body else report.reply
        text = plain_text("text", body.get("text"), TEXT_MAX, True) if "text" in body else report.public_text
        approved = _flag(body, "photo_approved", report.photo_approved) and report.photo is not None
        after = replace(report, status=status, reply=reply, public_text=text, photo_approved=approved)
        return self._step(principal, report, after, "status", status)


def _flag(body: dict, name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{name}: true or false")
    return value
