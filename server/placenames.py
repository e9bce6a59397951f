"""What people type in the search box, made comparable: folded names, addresses, coordinates.

Names are compared after :func:`fold`, which makes the variants people type equal: full/half
width (NFKC), hiragana/katakana, small/large kana (ッ/ツ), ヅ/ズ, ケ/ヶ/ヵ/が between kanji,
kanji/arabic numerals (一丁目/1丁目), spaces and punctuation. The index itself is
``server/placeindex.py``.
"""

import re
import unicodedata

DEFAULT_LIMIT = 10
# Layers whose keywords say they are address points are "places" (ranked before facilities).
PLACE_KEYWORDS = frozenset({"address", "住所"})
# Fields that tell apart features of a place layer that share a name (要 / 要 元上口の堀).
DETAIL_FIELDS = ("koaza",)
# Coordinates typed by the user are only taken when they fall in Japan (lat, lon).
JAPAN = (20.0, 46.0, 122.0, 154.0)


# -- folding names --------------------------------------------------------------------------------

_KANJI_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_NUMBER = re.compile(r"[一二三四五六七八九十]+")
# Small kana as large ones, and the old or voiced spellings people type otherwise (ヅ/ズ, ヲ/オ).
_SMALL_KANA = str.maketrans("ァィゥェォッャュョヮヵヶヅヂヲヰヱ", "アイウエオツヤユヨワカケズジオイエ")
_KANJI = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]"
# The ga/ke of place names (梅ケ丘, 梅ヶ丘, 桜が丘) between kanji, or at the end of a typed query.
_GA = re.compile(rf"(?<={_KANJI})[ケカガ](?={_KANJI}|$)")


def _kanji_number(text: str) -> str:
    """一 -> 1, 十二 -> 12, 二十三 -> 23 (up to 99; longer runs are kept as written)."""
    if len(text) > 3 or text.count("十") > 1:
        return text
    if "十" not in text:
        return str(_KANJI_DIGITS[text]) if len(text) == 1 else text
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return text
    return str(_KANJI_DIGITS.get(tens, 1) * 10 + _KANJI_DIGITS.get(ones, 0))


def fold(text: str) -> str:
    """The comparison key of a name or query: every variant people type folds to one string."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _KANJI_NUMBER.sub(lambda m: _kanji_number(m[0]), text)
    # Hiragana -> katakana (U+3041..U+3096 are U+30A1..U+30F6 less 0x60), then small -> large.
    text = "".join(chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" else c for c in text)
    text = text.translate(_SMALL_KANA)
    text = _GA.sub("ケ", text)
    # Only letters and digits count (ー and 々 are letters): spaces, ・, （）, hyphens go.
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


_CHOME_TAIL = re.compile(r"([\d一二三四五六七八九十]+\s*丁目).*$")
_ADDRESS_TAIL = re.compile(r"(\d+)\s*(?:[-‐‑–—−ー－の]|番地?)\s*\d.*$")
_PREFIXES = (fold("茨城県"), fold("つくば市"))


def parse_query(query: str) -> tuple[list[str], bool]:
    """(folded keys, whether an address tail was cut): one key per word, the city prefix cut.

    吾妻1丁目2番3号 and 吾妻1-2-3 become 吾妻1丁目 (True): the index knows 町丁目, not 番地.
    """
    text = unicodedata.normalize("NFKC", query).strip()
    if "丁目" in text:
        cut = _CHOME_TAIL.sub(r"\1", text)
    else:
        cut = _ADDRESS_TAIL.sub(r"\1丁目", text)
    had_address = fold(cut) != fold(text)
    keys = [k for k in (fold(word) for word in cut.split()) if k]
    if keys:
        for prefix in _PREFIXES:
            if keys[0].startswith(prefix) and len(keys[0]) > len(prefix):
                keys[0] = keys[0][len(prefix) :]
    return keys, had_address


def query_keys(query: str) -> list[str]:
    """Folded search keys of a typed query: one per word, address tails and city prefix cut."""
    return parse_query(query)[0]


# -- coordinates ----------------------------------------------------------------------------------

_NUM = r"[-+]?\d+(?:\.\d+)?"
_HEMI = r"(?:[NSEW]|北緯|南緯|東経|西経)"
_DECIMAL = re.compile(
    rf"^{_HEMI}?\s*({_NUM})\s*°?\s*({_HEMI})?\s*[,，、/\s]"
    rf"\s*{_HEMI}?\s*({_NUM})\s*°?\s*({_HEMI})?$",
    re.IGNORECASE,
)
_DMS = re.compile(
    rf"({_HEMI})?\s*(\d+(?:\.\d+)?)\s*[°度]\s*(?:(\d+(?:\.\d+)?)\s*['′’分]\s*)?"
    rf"(?:(\d+(?:\.\d+)?)\s*(?:\"|″|”|''|秒)\s*)?({_HEMI})?",
    re.IGNORECASE,
)


def _order(a: float, b: float, hints: tuple[str | None, str | None]) -> tuple[float, float] | None:
    """(lat, lon) from two numbers typed in either order, or None when it cannot be told."""
    first = (hints[0] or "").upper()
    if first in ("E", "W", "東経", "西経"):
        a, b = b, a
    elif not first and abs(a) > 90 >= abs(b):
        a, b = b, a
    lat, lon = a, b
    if not (JAPAN[0] <= lat <= JAPAN[1] and JAPAN[2] <= lon <= JAPAN[3]):
        return None
    return lat, lon


def parse_coordinates(query: str) -> tuple[float, float] | None:
    """(lat, lon) of "36.08, 140.11", "140.11 36.08", "N36.08 E140.11" or 36°5'0"N 140°6'36"E."""
    text = unicodedata.normalize("NFKC", query).strip()
    match = _DECIMAL.match(text)
    if match:
        a, b = float(match[1]), float(match[3])
        hint = match[2] or (re.match(_HEMI, text, re.IGNORECASE) or [None])[0]
        return _order(a, b, (hint, None))
    parts = [m for m in _DMS.finditer(text) if m[2]]
    if len(parts) != 2 or not re.search("[°度]", text):
        return None
    values = [float(m[2]) + float(m[3] or 0) / 60 + float(m[4] or 0) / 3600 for m in parts]
    hint = parts[0][1] or parts[0][5]
    return _order(values[0], values[1], (hint, None))
