"""The /opendata page: language choice, texts in Japanese and English, and the HTML rendering."""

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from server.opendata.datasets import Dataset
from server.opendata.records import RECORDS_COLLECTION
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.i18n import I18n, negotiate
from tsukuba_gis.settings import Settings

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
    """``lang`` if given (None unless one of the eight), else the best of Accept-Language, else ja."""
    try:
        return negotiate(lang, accept_language)
    except BadRequest:
        return None


def page_language(lang: str) -> str:
    """The language of the page's own words (ja or en): Easy Japanese reads Japanese."""
    return "ja" if lang in ("ja", "ja-x-easy") else "en"


def _picker(lang: str, page_lang: str):
    """A template function: a definition text in ``lang`` (or its fallback), marked when it is
    not in the page's language."""

    def pick(value: I18n | dict) -> Markup:
        text, used = (I18n.model_validate(value) if isinstance(value, dict) else value).pick(lang)
        return Markup(f'<span lang="{used}">{escape(text)}</span>') if used != page_lang else escape(text)

    return pick


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
    """The page in one language: its own words in ja or en, the layers' texts in ``lang``."""
    texts_lang, lang = lang, page_language(lang)
    other = "en" if lang == "ja" else "ja"
    groups: dict[str, list[Dataset]] = {}
    for dataset in found:
        groups.setdefault(dataset.layer.department, []).append(dataset)
    standards = [(d, f) for d in found for f in d.files if "standard" in f]
    context: dict[str, Any] = {
        "lang": lang,
        "shown": texts_lang if texts_lang not in ("ja-x-easy",) else "ja",
        "pick": _picker(texts_lang, lang),
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
