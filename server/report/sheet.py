"""The printable sheet of a point report (``/point?...&f=html``): one A4 page from a Jinja template.

The place name, the time in Japan, a map of the point drawn from the store (inline SVG at
1:5,000 with its scale bar and ratio; nothing fetched), the legend of what the map shows, the
report's sections (hazards and where to evacuate first), the sources of the wording, the
credits of every layer shown and the disclaimer. A synthetic layer is named as such once, in
its own title.
"""

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from server.rasters.point import html_sections
from server.report.svgmap import point_map
from server.report.texts import word, word_lang, words
from server.snapshot import Snapshot
from tsukuba_gis.i18n import text_in

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _when(iso: str, lang: str) -> str:
    when = datetime.fromisoformat(iso)
    if lang in ("ja", "ja-x-easy", "zh-Hans", "zh-Hant"):
        return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}（日本時間）"
    return f"{when:%Y-%m-%d %H:%M} JST"


def _credits(snapshot: Snapshot, report: dict, figure_credits: list, lang: str) -> list[dict[str, str]]:
    """Credits of the layers drawn and of those the report names as applying here."""
    found = list(figure_credits)
    for section in report["sections"]:
        for item in section["items"]:
            if item["status"] in ("here", "edge"):
                credit = text_in(snapshot.layer(item["layer"]).definition.license.attribution, lang)
                if credit not in found:
                    found.append(credit)
    return found


def _raster_sections(report: dict[str, Any], lang: str, synthetic_label: str) -> Markup:
    """The raster layers' values at the point (flood depth, elevation: ``server/rasters/``), in
    Japanese or English; the sample label once per layer (their titles already carry it)."""
    words_lang = "ja" if lang in ("ja", "ja-x-easy") else "en"
    entries = [
        {**e, "synthetic": e["synthetic"] and synthetic_label not in (e["title"].get(words_lang) or "")}
        for e in report.get("rasters", [])
    ]
    return Markup(html_sections({**report, "rasters": entries}, words_lang, synthetic_label))


def report_sheet(snapshot: Snapshot, report: dict[str, Any]) -> str:
    """The report as one printable A4 page (no script, nothing fetched)."""
    lang = report["lang"]
    point = report["point"]
    synthetic_label = word("synthetic", lang)["text"]
    figure = point_map(snapshot, point["lat"], point["lon"], lang, synthetic_label)
    context = {
        "lang": lang,
        "t": words(lang),
        "tlang": word_lang(lang),
        "report": report,
        "place": report["place"],
        "sections": report["sections"],
        "when": _when(report["generated_jst"], lang),
        "figure": figure,
        "credits": _credits(snapshot, report, figure.credits, lang),
        "synthetic_label": synthetic_label,
        # The raster layers' values at the point (flood depth, elevation: server/rasters/), hazards
        # first; their words are Japanese or English (escaped there).
        "rasters": _raster_sections(report, lang, synthetic_label),
        "any_synthetic": any(i["synthetic"] for s in report["sections"] for i in s["items"]),
    }
    return _environment().get_template("point_sheet.html").render(context)
