"""The /opendata page: language choice, texts in Japanese and English, and the HTML rendering."""

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape

from server.opendata.datasets import Dataset
from server.opendata.records import RECORDS_COLLECTION
from tsukuba_gis.settings import Settings

LANGUAGES = ("ja", "en")
JST = timezone(timedelta(hours=9), "JST")
HERE = Path(__file__).resolve().parent
_ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

TEXT: dict[str, dict[str, str]] = yaml.safe_load((HERE / "texts.yaml").read_text(encoding="utf-8"))


def choose_language(lang: str | None, accept_language: str | None) -> str | None:
    """``lang`` if given (None unless ja/en), else the best of Accept-Language, else ja."""
    if lang is not None:
        return lang if lang in LANGUAGES else None
    ranked = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, len(ranked), primary))
    return min(ranked)[2] if ranked else "ja"


def human_size(size: int, lang: str) -> str:
    """A size people read (KB/MB, 1 KB = 1,000 bytes)."""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} バイト" if lang == "ja" else f"{size} bytes"


def local_time(iso: str, lang: str) -> str:
    """An ISO time in Japan time, e.g. 2026年11月26日 18:16 or 2026-11-26 18:16 JST."""
    when = datetime.fromisoformat(iso).astimezone(JST)
    return when.strftime("%Y年%m月%d日 %H:%M" if lang == "ja" else "%Y-%m-%d %H:%M JST")


def render(settings: Settings, found: list[Dataset], lang: str) -> str:
    """The page in one language."""
    other = "en" if lang == "ja" else "ja"
    groups: dict[str, list[Dataset]] = {}
    for dataset in found:
        groups.setdefault(dataset.layer.department, []).append(dataset)
    standards = [(d, f) for d in found for f in d.files if "standard" in f]
    context: dict[str, Any] = {
        "lang": lang,
        "other": other,
        "t": TEXT[lang],
        "city": getattr(settings, f"city_name_{lang}"),
        "groups": list(groups.values()),
        "standards": standards,
        "records_url": f"/api/collections/{RECORDS_COLLECTION}/items",
        "size": lambda n: human_size(n, lang),
        "when": lambda iso: local_time(iso, lang),
    }
    return _ENV.get_template("opendata.html").render(context)
