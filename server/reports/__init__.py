"""Residents report a problem at a place, staff handle it on the same map (issue 17).

``desk.py`` takes reports in (checks in ``intake.py``, photos in ``photos.py``, the proof of
work in ``challenge.py``); ``steps.py`` is what staff do, each step a live edit of the
``reports`` layer; ``open311.py`` (Open311 GeoReport v2) and ``status.py`` (the reporter's
status page) are the public routes, ``staff_routes.py`` the staff ones. The store keeps the
reports in its own tables (``tsukuba_gis/store/reports.py``).
"""

import logging

from starlette.routing import BaseRoute

from server.auth.authenticate import Authenticator
from server.reports.desk import ReportDesk
from server.reports.open311 import open311_routes
from server.reports.settings import ReportSettings
from server.reports.staff_routes import staff_report_routes
from server.reports.status import status_routes
from server.reports.steps import StaffSteps
from server.snapshot import Snapshots
from tsukuba_gis.errors import GisError
from tsukuba_gis.settings import Settings

LOG = logging.getLogger(__name__)


class ReportService:
    """The reports part of the app: its desk, steps and routes."""

    def __init__(self, settings: Settings, rules: ReportSettings, snapshots: Snapshots):
        self.desk = ReportDesk(settings, rules, snapshots)
        self.steps = StaffSteps(self.desk)

    def start(self) -> None:
        """At start-up: delete personal parts past their time (a store down now: at the next report)."""
        try:
            self.desk.purge_if_due()
        except GisError as err:
            LOG.warning("reports: the personal data past its time could not be deleted yet: %s", err)
            self.desk.reset_purge()

    def public_routes(self, authenticator: Authenticator | None) -> list[BaseRoute]:
        """/open311/v2 and /reports."""
        return [*open311_routes(self.desk, authenticator), *status_routes(self.desk)]

    def staff_routes(self) -> list[BaseRoute]:
        """/internal/reports (mounted inside the staff wall)."""
        return staff_report_routes(self.steps)
