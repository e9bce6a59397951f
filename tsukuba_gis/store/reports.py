"""Residents' reports in the store (issue 17): three tables, the same SQL on both backends.

- ``tg_reports``: the report as staff handle it (category, status, place, moderated text,
  reply, photo and whether staff approved it). Only accepted reports reach the public, and
  then as features of the ``reports`` layer (server/reports/steps.py), never from this table.
- ``tg_report_personal``: what identifies the reporter (contact e-mail, client address, their
  own words). Read only by staff routes and the rate limit; deleted
  after ``TSUKUBA_GIS_REPORTS_KEEP_DAYS`` (``tsukuba-gis reports purge``) or on request.
- ``tg_report_steps``: who did what when (accept, reject, merge, status, reply), for staff.

Statements are written with ``?`` marks and ``{s}.`` before table names; each backend runs them
(``_report_rows``, ``_report_tx``: GeoPackageReports, PostGISReports).
"""

import json
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

STATUSES = ("受付待ち", "受付", "対応中", "完了", "却下")
OPEN_STATUSES = ("受付待ち", "受付", "対応中")

MIGRATION = [  # reports (issue 17)
    """CREATE TABLE {s}.tg_reports (
        id TEXT PRIMARY KEY, category TEXT NOT NULL, department TEXT NOT NULL,
        status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        lon DOUBLE PRECISION NOT NULL, lat DOUBLE PRECISION NOT NULL, attributes TEXT NOT NULL,
        public_text TEXT, reply TEXT, reason TEXT, photo TEXT, photo_approved INTEGER NOT NULL,
        merged_into TEXT, token_hash TEXT NOT NULL UNIQUE)""",
    "CREATE INDEX tg_reports_department ON {s}.tg_reports (department, status, created_at)",
    """CREATE TABLE {s}.tg_report_personal (
        report_id TEXT PRIMARY KEY, email TEXT, client TEXT NOT NULL,
        original_text TEXT NOT NULL, created_at TEXT NOT NULL)""",
    "CREATE INDEX tg_report_personal_client ON {s}.tg_report_personal (client, created_at)",
    """CREATE TABLE {s}.tg_report_steps (
        report_id TEXT NOT NULL, at TEXT NOT NULL, username TEXT NOT NULL, department TEXT,
        action TEXT NOT NULL, detail TEXT)""",
    "CREATE INDEX tg_report_steps_report ON {s}.tg_report_steps (report_id)",
]


def now_utc() -> str:
    """ISO 8601 UTC to the second: how report times are stored (text sorts as time)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def ago(**delta: float) -> str:
    """The stored form of a time ``delta`` before now."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Report:
    """A report as staff handle it (nothing in it identifies the reporter).

    Attributes:
        public_text: the words the public sees, set by staff at acceptance (None before).
        reason: why it was rejected (told to the reporter on the status page).
        photo: the file name under the photo directory (None: none sent).
        attributes: the answers to the category's ``asks``.
        token_hash: SHA-256 of the reporter's status token (the token itself is never stored);
            kept when the personal part is deleted, so the status link goes on working.
    """

    id: str
    category: str
    department: str
    status: str
    created_at: str
    updated_at: str
    lon: float
    lat: float
    attributes: dict[str, str] = field(default_factory=dict)
    public_text: str | None = None
    reply: str | None = None
    reason: str | None = None
    photo: str | None = None
    photo_approved: bool = False
    merged_into: str | None = None
    token_hash: str = ""

    @property
    def is_open(self) -> bool:
        """Still to be handled (Open311 ``open``)."""
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Personal:
    """What identifies the reporter; staff routes only."""

    report_id: str
    email: str | None
    client: str
    original_text: str
    created_at: str


@dataclass(frozen=True)
class Step:
    """One staff step on a report."""

    report_id: str
    at: str
    username: str
    department: str | None
    action: str
    detail: str | None = None


REPORT_COLUMNS = ", ".join(f.name for f in fields(Report))
PERSONAL_COLUMNS = ", ".join(f.name for f in fields(Personal))
STEP_COLUMNS = ", ".join(f.name for f in fields(Step))


def _report_row(report: Report) -> tuple:
    row = asdict(report)
    row["attributes"] = json.dumps(report.attributes, ensure_ascii=False)
    row["photo_approved"] = int(report.photo_approved)
    return tuple(row.values())


def _report_of(row: Sequence[Any]) -> Report:
    values = dict(zip([f.name for f in fields(Report)], row, strict=True))
    values["attributes"] = json.loads(values["attributes"])
    values["photo_approved"] = bool(values["photo_approved"])
    return Report(**values)


def _marks(columns: str) -> str:
    return ", ".join("?" * len(columns.split(",")))


@dataclass(frozen=True)
class ReportFilter:
    """Which reports a staff list shows (None: any)."""

    departments: tuple[str, ...] | None = None
    status: str | None = None
    statuses: tuple[str, ...] | None = None
    category: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 200


class ReportStore:
    """The reports half of a store (mixed into both backends)."""

    @abstractmethod
    def _report_rows(self, statement: str, args: Sequence[Any]) -> list[Sequence[Any]]:
        """Rows of one read statement (``?`` marks, ``{s}.`` tables)."""

    @abstractmethod
    def _report_tx(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
        """Run write statements in one transaction; the rows each changed."""

    def add_report(self, report: Report, personal: Personal) -> None:
        """Store a new report and its personal part together (both or neither)."""
        self._report_tx(
            [
                (
                    f"INSERT INTO {{s}}.tg_reports ({REPORT_COLUMNS}) VALUES ({_marks(REPORT_COLUMNS)})",
                    _report_row(report),
                ),
                (
                    f"INSERT INTO {{s}}.tg_report_personal ({PERSONAL_COLUMNS})"
                    f" VALUES ({_marks(PERSONAL_COLUMNS)})",
                    tuple(asdict(personal).values()),
                ),
            ]
        )

    def report(self, report_id: str) -> Report | None:
        """One report by id."""
        rows = self._report_rows(f"SELECT {REPORT_COLUMNS} FROM {{s}}.tg_reports WHERE id = ?", (report_id,))
        return _report_of(rows[0]) if rows else None

    def report_by_token(self, token_hash: str) -> Report | None:
        """The report whose status token has this hash."""
        statement = f"SELECT {REPORT_COLUMNS} FROM {{s}}.tg_reports WHERE token_hash = ?"
        rows = self._report_rows(statement, (token_hash,))
        return _report_of(rows[0]) if rows else None

    def reports(self, where: ReportFilter) -> list[Report]:
        """Reports newest first, filtered."""
        clauses, args = ["1 = 1"], []
        if where.departments is not None:
            if not where.departments:
                return []
            clauses.append(f"department IN ({', '.join('?' * len(where.departments))})")
            args += list(where.departments)
        if where.statuses is not None:
            clauses.append(f"status IN ({', '.join('?' * len(where.statuses))})")
            args += list(where.statuses)
        for column, value, op in (
            ("status", where.status, "="),
            ("category", where.category, "="),
            ("created_at", where.since, ">="),
            ("created_at", where.until, "<"),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                args.append(value)
        statement = f"SELECT {REPORT_COLUMNS} FROM {{s}}.tg_reports WHERE {' AND '.join(clauses)}"
        rows = self._report_rows(statement + " ORDER BY created_at DESC, id LIMIT ?", (*args, where.limit))
        return [_report_of(r) for r in rows]

    def near_reports(self, category: str, box: tuple[float, float, float, float], since: str) -> list[Report]:
        """Open or accepted reports of a category inside a lon/lat box since a time (duplicates)."""
        statement = (
            f"SELECT {REPORT_COLUMNS} FROM {{s}}.tg_reports WHERE category = ? AND status <> '却下'"
            " AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ? AND created_at >= ? ORDER BY created_at"
        )
        rows = self._report_rows(statement, (category, box[0], box[2], box[1], box[3], since))
        return [_report_of(r) for r in rows]

    def update_report(self, report: Report, step: Step) -> None:
        """Save a report as a staff step left it, with the step."""
        sets = ", ".join(f"{name} = ?" for name in REPORT_COLUMNS.split(", ")[1:])
        row = _report_row(report)
        self._report_tx(
            [
                (f"UPDATE {{s}}.tg_reports SET {sets} WHERE id = ?", (*row[1:], report.id)),
                (
                    f"INSERT INTO {{s}}.tg_report_steps ({STEP_COLUMNS}) VALUES ({_marks(STEP_COLUMNS)})",
                    tuple(asdict(step).values()),
                ),
            ]
        )

    def report_steps(self, report_id: str) -> list[Step]:
        """The staff steps of a report, oldest first."""
        rows = self._report_rows(
            f"SELECT {STEP_COLUMNS} FROM {{s}}.tg_report_steps WHERE report_id = ? ORDER BY at", (report_id,)
        )
        return [Step(*r) for r in rows]

    def report_personal(self, report_id: str) -> Personal | None:
        """The reporter's part of a report (staff only), None once deleted."""
        rows = self._report_rows(
            f"SELECT {PERSONAL_COLUMNS} FROM {{s}}.tg_report_personal WHERE report_id = ?", (report_id,)
        )
        return Personal(*rows[0]) if rows else None

    def reports_from(self, client: str, since: str) -> int:
        """How many reports a client address sent since a time (the rate limit)."""
        rows = self._report_rows(
            "SELECT count(*) FROM {s}.tg_report_personal WHERE client = ? AND created_at >= ?",
            (client, since),
        )
        return int(rows[0][0])

    def forget_reporter(self, report_id: str) -> bool:
        """Delete the personal part of one report (the reporter asked); whether there was one."""
        (count,) = self._report_tx([("DELETE FROM {s}.tg_report_personal WHERE report_id = ?", (report_id,))])
        return count > 0

    def purge_personal(self, before: str) -> int:
        """Delete the personal part of every report made before a time; how many went."""
        (count,) = self._report_tx([("DELETE FROM {s}.tg_report_personal WHERE created_at < ?", (before,))])
        return count
