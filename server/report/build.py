"""The resident's report: the place name, the plain-language sections and a summary, added to
the point report of ``server/point.py`` (whose ``layers`` and ``nearest`` stay as they are)."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from server.report.place import place_name
from server.report.sections import build_sections, summary
from server.snapshot import Snapshot

JST = ZoneInfo("Asia/Tokyo")


def resident_report(snapshot: Snapshot, report: dict[str, Any], lang: str) -> dict[str, Any]:
    """``report`` with ``lang``, ``place``, ``sections``, ``summary`` and the time in Japan."""
    point = report["point"]
    place = place_name(snapshot, point["lat"], point["lon"], lang)
    sections = build_sections(snapshot, report, lang)
    generated = datetime.fromisoformat(report["generated"]).astimezone(JST)
    return {
        **report,
        "lang": lang,
        "place": place,
        "sections": sections,
        "summary": summary(place, sections, lang),
        "generated_jst": generated.isoformat(timespec="seconds"),
    }
