"""The server's own words (report, print sheet, search notes) in the eight languages.

``texts.yaml`` holds one entry per key with a text per language; a key missing in a language
falls back as layer texts do (English, then Japanese; Easy Japanese: Japanese first), and the
answer says which language it used.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from tsukuba_gis.i18n import LANGUAGES, fallbacks

TEXTS_FILE = Path(__file__).with_name("texts.yaml")


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, Any]]:
    with open(TEXTS_FILE, encoding="utf-8") as handle:
        table = yaml.safe_load(handle)
    for key, texts in table.items():
        if not {"ja", "en"} <= set(texts) or not set(texts) <= set(LANGUAGES):
            raise ValueError(f"{TEXTS_FILE}: {key} needs ja and en and only {', '.join(LANGUAGES)}")
    return table


def word(key: str, lang: str, **values: Any) -> dict[str, str]:
    """``{"text", "lang"}`` of one key in ``lang`` or its fallback, ``{name}`` filled in."""
    texts = _table()[key]
    tag = next(t for t in fallbacks(lang) if t in texts)
    text = texts[tag]
    if isinstance(text, str) and values:
        text = text.format(**values)
    return {"text": text, "lang": tag}


def words(lang: str) -> dict[str, Any]:
    """Every key's text in ``lang`` (or its fallback), for a template."""
    return {key: word(key, lang)["text"] for key in _table()}


def word_lang(lang: str) -> dict[str, str]:
    """Every key's language as used for ``lang`` (to mark fallbacks in a template)."""
    return {key: word(key, lang)["lang"] for key in _table()}
