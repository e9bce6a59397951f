"""The run report staff read: ``report.json`` for machines, ``report.html`` for people.

report.html is one self-contained file (Leaflet inlined, no CDN): staff open it on LGWAN
without internet, or get it by mail.
"""

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from etl.qamap import leaflet_assets

_ENV = Environment(loader=PackageLoader("etl", "templates"), autoescape=select_autoescape())


def _atomic_write(path: Path, text: str) -> None:
    # A report half-written by a killed run would mislead; write aside, then rename.
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_reports(
    report: dict[str, Any], data_dir: Path, maps: dict[str, str | None] | None = None
) -> tuple[Path, Path]:
    """Write report.json and report.html into the data directory; return their paths.

    ``maps`` holds the QA map (an HTML fragment from ``etl.qamap.render``) per layer id.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = data_dir / "report.json", data_dir / "report.html"
    _atomic_write(json_path, json.dumps(report, ensure_ascii=False, indent=2, default=str))
    maps = {k: Markup(v) for k, v in (maps or {}).items() if v}
    css, js = leaflet_assets() if maps else ("", "")
    html = _ENV.get_template("report.html").render(
        report=report, maps=maps, leaflet_css=Markup(css), leaflet_js=Markup(js)
    )
    _atomic_write(html_path, html)
    return json_path, html_path
