"""``tsukuba-gis reports purge|list``: residents' reports on the command line (issue 17).

``purge`` deletes the personal part (contact, client address, the reporter's own words) of every
report older than ``TSUKUBA_GIS_REPORTS_KEEP_DAYS``; the server does it at start-up and daily,
the command is for cron or before a backup leaves the building.
"""

import click

from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store
from tsukuba_gis.store.reports import ReportFilter, ago


def _rules():
    try:
        from server.reports.settings import ReportSettings
    except ImportError:  # pragma: no cover (the server extra is missing)
        raise click.ClickException(
            "reports need the server extra: pip install 'tsukuba-gis[server]'"
        ) from None
    return ReportSettings()


@click.group()
def reports() -> None:
    """Residents' reports: delete personal data past its time, list reports.

    \b
    tsukuba-gis reports purge [--days N]
    tsukuba-gis reports list [--status 受付待ち] [--department roads]
    """


@reports.command()
@click.option(
    "--days", type=click.IntRange(min=1), help="Keep this many days (default: TSUKUBA_GIS_REPORTS_KEEP_DAYS)."
)
@click.pass_obj
def purge(obj: dict, days: int | None) -> None:
    """Delete the personal part of reports older than the retention period."""
    settings: Settings = obj["settings"]
    days = days or _rules().keep_days
    count = open_store(settings.store_url, settings.keep_versions).purge_personal(ago(days=days))
    if not obj["quiet"]:
        click.echo(f"deleted the personal part of {count} report(s) older than {days} days")


@reports.command("list")
@click.option("--status", help="Only reports of this status (受付待ち, 受付, 対応中, 完了, 却下).")
@click.option("--department", help="Only reports of this department.")
@click.pass_obj
def list_reports(obj: dict, status: str | None, department: str | None) -> None:
    """The latest reports (no personal data), newest first."""
    settings: Settings = obj["settings"]
    store = open_store(settings.store_url, settings.keep_versions)
    where = ReportFilter(departments=(department,) if department else None, status=status, limit=100)
    for r in store.reports(where):
        click.echo(f"{r.id}  {r.created_at}  {r.department:<14} {r.category:<16} {r.status}")
