"""The reports desk: takes residents' reports in, answers their status links, keeps the
personal part only as long as allowed. Staff steps are in ``server/reports/steps.py``.

A report is stored in one store transaction (report and personal part together); its photo is
written first under a random name and removed again if that transaction fails, so nothing is
left half. Nothing of a report is public until staff accept it (then it is a feature of the
``reports`` layer).
"""

import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass

import server.reports.challenge as challenge
from server.auth.authenticate import Principal
from server.auth.lockout import client_key
from server.ratelimit import RateLimit
from server.reports.intake import check_submission
from server.reports.photos import clean_photo, store_photo
from server.reports.settings import ReportSettings
from server.snapshot import Snapshots
from tsukuba_gis.catalog import cached_catalog
from tsukuba_gis.errors import NotFound, TooManyRequests
from tsukuba_gis.reportdef import CategoryDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store.reports import Personal, Report, ago, now_utc

LOG = logging.getLogger(__name__)
DEGREES_PER_M = 1 / 111_000
API_KEY_FACTOR = 20  # an app sending for many residents through one key gets this many times more
PURGE_EVERY_S = 24 * 3600


@dataclass(frozen=True)
class Receipt:
    """What the reporter gets back: the report, its status token (shown once) and possible
    duplicates (ids of nearby reports of the same category)."""

    report: Report
    token: str
    duplicates: list[str]


def token_hash(token: str) -> str:
    """SHA-256 of a status token: the only form of it stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ReportDesk:
    """Residents' side of the reports: submit, status, forget.

    Attributes:
        settings, rules: the installation's and the reports' settings.
        photo_dir: where cleaned photos are kept (``<data dir>/reports/photos``, in backups).
    """

    def __init__(self, settings: Settings, rules: ReportSettings, snapshots: Snapshots):
        self.settings, self.rules, self.snapshots = settings, rules, snapshots
        self.store = snapshots.store
        self.photo_dir = settings.data_dir / "reports" / "photos"
        given = rules.secret.get_secret_value() if rules.secret else None
        self.key = challenge.load_secret(given, settings.data_dir / "reports" / "secret")
        self.limiter = RateLimit(rules.per_token_per_minute, 60)  # status reads, in this worker
        self._decoding = threading.BoundedSemaphore(rules.photo_workers)
        self._purged_at = 0.0

    def categories(self) -> dict[str, CategoryDef]:
        """The categories of the definitions as they are now."""
        return cached_catalog(self.settings.layers_dir).report_categories

    def new_challenge(self) -> dict[str, object]:
        """A proof-of-work challenge for a client."""
        return challenge.issue(self.key, self.rules.pow_bits)

    def submit(
        self, form: dict, photo: bytes | None, client: str, principal: Principal | None = None
    ) -> Receipt:
        """Check and store a report (BadRequest, PayloadTooLarge, TooManyRequests: nothing stored)."""
        self.purge_if_due()
        who, limit = client_key(client), self.rules.per_address_per_hour
        if principal is not None:  # an Open311 app with a staff-issued api_key
            who, limit = f"key:{principal.token_id or principal.username}", limit * API_KEY_FACTOR
        elif self.rules.pow_bits:
            challenge.check(
                self.key,
                self.rules.pow_bits,
                self.rules.pow_ttl_s,
                str(form.get("challenge") or ""),
                str(form.get("nonce") or ""),
            )
        if self.store.reports_from(who, ago(hours=1)) >= limit:
            raise TooManyRequests(f"at most {limit} reports an hour from one address; try again later", 600)
        area = self.snapshots.get("public").boundary
        found = check_submission(form, self.categories(), area, self.rules)
        return self._keep(found, self._photo(photo) if photo else None, who)

    def _photo(self, photo: bytes) -> bytes:
        """The cleaned photo; at most ``photo_workers`` decoded at once (memory stays bounded)."""
        rules = self.rules
        with self._decoding:
            return clean_photo(photo, rules.photo_max_bytes, rules.photo_max_pixels, rules.photo_edge)

    def _keep(self, found, jpeg: bytes | None, who: str) -> Receipt:
        token, now = secrets.token_urlsafe(24), now_utc()
        duplicates = self.duplicates(found.category.id, found.lon, found.lat)
        name = store_photo(self.photo_dir, jpeg) if jpeg else None
        report = Report(
            id=secrets.token_hex(5),
            category=found.category.id,
            department=found.category.department,
            status="受付待ち",
            created_at=now,
            updated_at=now,
            lon=round(found.lon, 7),
            lat=round(found.lat, 7),
            attributes=found.attributes,
            photo=name,
            token_hash=token_hash(token),
        )
        personal = Personal(report.id, found.email, who, found.text, now)
        try:
            self.store.add_report(report, personal)
        except BaseException:
            if name:
                (self.photo_dir / name).unlink(missing_ok=True)
            raise
        LOG.info("report %s (%s) received", report.id, report.category)
        return Receipt(report, token, [d.id for d in duplicates])

    def duplicates(self, category: str, lon: float, lat: float, but: str | None = None) -> list[Report]:
        """Reports of the category within ``duplicate_m`` and ``duplicate_days`` (not rejected)."""
        d = self.rules.duplicate_m * DEGREES_PER_M
        box = (
            lon - d * 1.25,
            lat - d,
            lon + d * 1.25,
            lat + d,
        )  # 1.25: a degree of longitude is shorter here
        found = self.store.near_reports(category, box, ago(days=self.rules.duplicate_days))
        return [r for r in found if r.id != but]

    def by_token(self, token: str, client: str) -> Report:
        """The report of a status token (counted per token and per address); NotFound otherwise."""
        for key in (f"t:{token[:64]}", f"a:{client_key(client)}"):
            if wait := self.limiter.hit(key):
                raise TooManyRequests("too many requests for this status link; try again in a minute", wait)
        report = self.store.report_by_token(token_hash(token)) if len(token) <= 64 else None
        if report is None:
            raise NotFound("no report has this status link (check that the whole link was copied)")
        return report

    def forget(self, token: str, client: str) -> bool:
        """Delete the reporter's personal part at their request; whether there was any left."""
        report = self.by_token(token, client)
        return self.store.forget_reporter(report.id)

    def reset_purge(self) -> None:
        """Try the purge again at the next report (it failed)."""
        self._purged_at = 0.0

    def purge_if_due(self) -> None:
        """Delete personal parts past ``keep_days``, at most once a day per worker."""
        if time.monotonic() - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = time.monotonic()
        count = self.store.purge_personal(ago(days=self.rules.keep_days))
        if count:
            LOG.info(
                "deleted the personal part of %d reports older than %d days", count, self.rules.keep_days
            )
