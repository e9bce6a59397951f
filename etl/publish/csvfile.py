"""CSV files for spreadsheet users: UTF-8 with BOM, or cp932 for older Excel, written in chunks.

cp932 cannot hold every character (e.g. 𠮷, é, ♡). Rather than fail the whole publish, such a
character is replaced by 〓 (U+3013 GETA MARK, the typesetters' sign for a missing glyph) and
counted, so the manifest and the page can say what was lost; the UTF-8 file keeps the text.
"""

from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from tsukuba_gis.csvsafe import safe_table

BOM = "\ufeff".encode()
GETA = "\u3013"
# Characters Python's cp932 codec refuses although cp932 has a look-alike (mostly Unicode
# mappings of JIS vs Microsoft); mapped instead of lost.
CP932_LOOKALIKES = str.maketrans({"\u2014": "\u2015", "\u00a5": "\uffe5", "\u203e": "\uffe3", "\u00a0": " "})
MAX_REPORTED = 20


@lru_cache(maxsize=4096)
def _cp932_ok(char: str) -> bool:
    try:
        char.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def to_cp932(text: str) -> tuple[bytes, dict[str, int]]:
    """Encode as cp932; characters it cannot hold become 〓, returned with their counts."""
    try:
        return text.encode("cp932"), {}
    except UnicodeEncodeError:
        pass  # the slow path below only for text that needs it
    text = text.translate(CP932_LOOKALIKES)
    missing = {c for c in set(text) if not _cp932_ok(c)}
    counts = {c: text.count(c) for c in missing}
    if missing:
        text = text.translate({ord(c): GETA for c in missing})
    return text.encode("cp932"), counts


class CsvFile:
    """One CSV file written chunk by chunk (CRLF lines, as Excel and RFC 4180 expect).

    Attributes:
        encoding: ``utf-8-sig`` (UTF-8 with BOM) or ``cp932``.
        replaced: characters cp932 could not hold -> how often each was replaced by 〓.
    """

    def __init__(self, path: Path, encoding: str):
        if encoding not in ("utf-8-sig", "cp932"):
            raise ValueError(f"unsupported CSV encoding {encoding!r}")
        self.path, self.encoding = path, encoding
        self.replaced: dict[str, int] = {}
        self._out: BinaryIO = open(path, "wb")
        self._header = True
        if encoding == "utf-8-sig":
            self._out.write(BOM)  # so Excel detects UTF-8 instead of assuming cp932

    def write(self, table: pd.DataFrame) -> None:
        """Append rows (the first call also writes the header); text a spreadsheet would run as a
        formula is neutralised (tsukuba_gis/csvsafe.py)."""
        text = safe_table(table).to_csv(index=False, header=self._header, lineterminator="\r\n")
        self._header = False
        if self.encoding == "cp932":
            data, counts = to_cp932(text)
            for char, count in counts.items():
                self.replaced[char] = self.replaced.get(char, 0) + count
        else:
            data = text.encode("utf-8")
        self._out.write(data)

    def close(self) -> dict:
        """Finish the file; what the manifest should say about it."""
        self._out.close()
        utf8 = self.encoding == "utf-8-sig"
        info = {"encoding": "UTF-8 (BOM)" if utf8 else "cp932 (Windows-31J)"}
        if self.encoding == "cp932":
            info["replaced_count"] = sum(self.replaced.values())
            info["replaced_characters"] = sorted(self.replaced)[:MAX_REPORTED]
        return info
