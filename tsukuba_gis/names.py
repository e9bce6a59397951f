"""Readings and romaji of Japanese place names, shared by the ETL (gazetteer) and the search.

Romaji are modified Hepburn without macrons, as on Japan's road and station signs (大穂 Oho,
研究学園 Kenkyugakuen): the ETL writes them from the kana reading, through jaconv's kana to
alphabet table. :func:`romaji_key` makes what people type comparable with them: case, macrons
(Ōho), doubled or ``ou`` long vowels (Ooho, Kenkyuu), Kunrei/Nihon-shiki spellings (Tukuba,
Sinbasi), ``m`` before b/m/p (Shimbashi) and punctuation all fold away.
"""

import re
import unicodedata

import jaconv

# 一丁目..九丁目 as read aloud (いっちょうめ, not いちちょうめ).
_CHOME_KANA = {
    1: "いっちょうめ",
    2: "にちょうめ",
    3: "さんちょうめ",
    4: "よんちょうめ",
    5: "ごちょうめ",
    6: "ろくちょうめ",
    7: "ななちょうめ",
    8: "はっちょうめ",
    9: "きゅうちょうめ",
}
_KANJI_DIGITS = "一二三四五六七八九"
CHOME = re.compile(r"^(?P<town>.+?)(?P<number>[一二三四五六七八九十]+|\d+)丁目$")


def hiragana(text: str) -> str:
    """Katakana (full or half width) as hiragana; everything else unchanged."""
    return jaconv.kata2hira(jaconv.h2z(text, kana=True, ascii=False, digit=False))


def chome_number(name: str) -> tuple[str, int] | None:
    """(town, number) of a 丁目 name (吾妻一丁目 -> (吾妻, 1)), else None."""
    match = CHOME.match(name)
    if not match:
        return None
    number = match["number"]
    if number.isdigit():
        return match["town"], int(number)
    if number == "十":
        return match["town"], 10
    if len(number) == 1:
        return match["town"], _KANJI_DIGITS.index(number) + 1
    return None


def chome_kana(number: int) -> str:
    """The reading of N丁目 (いっちょうめ; past 9 the digits as written, then ちょうめ)."""
    return _CHOME_KANA.get(number, f"{number}ちょうめ")


def hepburn(kana: str) -> str:
    """Romaji of a kana reading: modified Hepburn without macrons (たけぞの -> takezono).

    ``ん`` before a vowel or ``y`` gets an apostrophe (しんおおはし -> shin'ohashi), ``っち``
    is ``tchi``, long vowels are written once (おお, おう, うう, ー).
    """
    parts = hiragana(kana).replace("ー", "").split("ん")
    out = jaconv.kana2alphabet(parts[0])
    for part in parts[1:]:
        roman = jaconv.kana2alphabet(part)
        out += "n" + ("'" if roman[:1] in ("a", "i", "u", "e", "o", "y") else "") + roman
    out = out.replace("cchi", "tchi").replace("cch", "tch")
    return re.sub(r"ou|oo|uu", lambda m: m[0][0], out)


# Applied in order: Hepburn spellings to one canonical (Kunrei-like) form.
_ROMAJI_FOLDS = (
    ("tch", "ch"),
    ("shi", "si"),
    ("chi", "ti"),
    ("tsu", "tu"),
    ("fu", "hu"),
    ("ji", "zi"),
    ("sh", "sy"),
    ("ch", "ty"),
    ("j", "zy"),
    ("dzu", "zu"),
    ("du", "zu"),
    ("di", "zi"),
)


def romaji_key(text: str) -> str:
    """The comparison key of romaji as typed or as written by :func:`hepburn`."""
    text = unicodedata.normalize("NFKD", text).lower()
    text = "".join(c for c in text if c.isascii() and c.isalnum())
    for old, new in _ROMAJI_FOLDS:
        text = text.replace(old, new)
    text = re.sub(r"m(?=[bmp])", "n", text)
    text = re.sub(r"oh(?![aiueoy])", "o", text)
    return re.sub(r"ou|oo|uu|aa|ii|ee", lambda m: m[0][0], text)


def is_romaji(text: str) -> bool:
    """Whether a query is written in Latin letters (with digits, spaces, macrons, hyphens)."""
    letters = [c for c in unicodedata.normalize("NFKD", text) if c.isalpha()]
    return bool(letters) and all(c.isascii() for c in letters)
