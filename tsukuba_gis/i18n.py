"""The languages residents read: texts of the definitions, and which language a request asks for.

Eight languages: Japanese and English in every text (required), and optionally simplified and
traditional Chinese, Korean, Vietnamese, Portuguese and やさしい日本語 (Easy Japanese, the
private-use BCP 47 tag ``ja-x-easy`` the viewer uses). A text missing in a language falls back
to English, then Japanese (Easy Japanese falls back to Japanese first); the caller learns which
language it got, so a page can mark the fallback with its own ``lang``.
"""

from typing import Any

from pydantic import ConfigDict, Field, model_serializer

from tsukuba_gis.defbase import Strict
from tsukuba_gis.errors import BadRequest

LANGUAGES: tuple[str, ...] = ("ja", "en", "zh-Hans", "zh-Hant", "ko", "vi", "pt", "ja-x-easy")
# Accept-Language tags that mean one of ours (lower case; the script subtags of Chinese first).
_TAGS = {
    "zh-hant": "zh-Hant",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "zh-hans": "zh-Hans",
    "zh-cn": "zh-Hans",
    "zh-sg": "zh-Hans",
    "zh": "zh-Hans",
    "ja-x-easy": "ja-x-easy",
}
_FIELDS = {"zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "ja-x-easy": "ja_x_easy"}


def fallbacks(lang: str) -> tuple[str, ...]:
    """The languages tried for ``lang``, in order: itself, then English and Japanese."""
    if lang == "ja-x-easy":
        return ("ja-x-easy", "ja", "en")
    return tuple(dict.fromkeys((lang, "en", "ja")))


class I18n(Strict):
    """A text in Japanese (shown by default) and English, and optionally six more languages.

    YAML keys are the language tags (``zh-Hans: …``, ``ja-x-easy: …``); a dump has only the
    languages given, so the definitions' checksums stay what they were before the six.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)
    zh_Hans: str | None = Field(default=None, alias="zh-Hans", min_length=1)
    zh_Hant: str | None = Field(default=None, alias="zh-Hant", min_length=1)
    ko: str | None = Field(default=None, min_length=1)
    vi: str | None = Field(default=None, min_length=1)
    pt: str | None = Field(default=None, min_length=1)
    ja_x_easy: str | None = Field(default=None, alias="ja-x-easy", min_length=1)

    @model_serializer(mode="wrap")
    def _tags(self, handler: Any) -> dict[str, str]:
        dumped = handler(self)
        by_tag = {_FIELDS.get(tag, tag): tag for tag in LANGUAGES}
        return {by_tag.get(k, k): v for k, v in dumped.items() if v is not None}

    def get(self, lang: str) -> str | None:
        """The text in exactly ``lang`` (None when not given)."""
        return getattr(self, _FIELDS.get(lang, lang), None)

    def pick(self, lang: str) -> tuple[str, str]:
        """(text, language it is in): ``lang``, else its fallbacks."""
        for tag in fallbacks(lang):
            text = self.get(tag)
            if text:
                return text, tag
        return self.ja, "ja"

    def text(self, lang: str) -> str:
        """The text in ``lang`` or its fallback."""
        return self.pick(lang)[0]


def text_in(value: dict[str, str] | I18n | None, lang: str) -> dict[str, str] | None:
    """``{"text", "lang"}`` of a text (a dumped I18n or an I18n) in ``lang`` or its fallback."""
    if value is None:
        return None
    texts = value.model_dump() if isinstance(value, I18n) else value
    for tag in fallbacks(lang):
        if texts.get(tag):
            return {"text": texts[tag], "lang": tag}
    return {"text": texts.get("ja", ""), "lang": "ja"}


def _ours(tag: str) -> str | None:
    """Our language for one lower-case tag (``zh-TW`` and ``zh-Hant-HK`` -> zh-Hant, ``pt-BR`` -> pt)."""
    exact = next((lang for lang in LANGUAGES if lang.lower() == tag), None)
    if exact or tag in _TAGS:
        return exact or _TAGS[tag]
    parts = tag.split("-")
    if parts[0] == "zh":
        return next((_TAGS[f"zh-{p}"] for p in parts[1:] if f"zh-{p}" in _TAGS), "zh-Hans")
    return parts[0] if parts[0] in LANGUAGES else None


def _best(accept_language: str) -> str | None:
    """The best of an Accept-Language header among ours (q-values honoured), or None."""
    ranked = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0 and tag.strip():
            ranked.append((-quality, position, tag.strip().lower()))
    return next((found for *_, tag in sorted(ranked) if (found := _ours(tag))), None)


def negotiate(lang: str | None, accept_language: str | None, default: str = "ja") -> str:
    """The language of an answer: ``lang=`` when given (BadRequest naming ours if unknown),
    else the best of ``Accept-Language``, else ``default``."""
    if lang is not None:
        if lang not in LANGUAGES:
            raise BadRequest(f"lang: {lang[:20]!r} is not one of {', '.join(LANGUAGES)}")
        return lang
    return _best(accept_language or "") or default
