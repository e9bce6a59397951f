"""Text encodings of hand-overs: honour what the file says, else the definition, else detect.

Japanese departments hand over Shift_JIS (cp932) as often as UTF-8, and a shapefile without
its ``.cpg`` says nothing; GDAL would then read Latin-1 and produce mojibake silently.
"""

import codecs
import struct
import zipfile
from pathlib import Path

from etl.formats import FormatError

CPG_NAMES = {
    "932": "cp932", "cp932": "cp932", "sjis": "cp932", "shift_jis": "cp932", "shift-jis": "cp932",
    "ms932": "cp932", "windows-31j": "cp932", "65001": "utf-8", "utf-8": "utf-8", "utf8": "utf-8",
}
CANDIDATES = ("utf-8", "cp932", "euc_jp")


def normalise(name: str) -> str:
    """A Python codec name for an encoding label (``Shift_JIS`` -> ``cp932``)."""
    key = name.strip().lower()
    if key in CPG_NAMES:
        return CPG_NAMES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise FormatError(f"unknown encoding {name!r}; use e.g. cp932 or utf-8") from None


def _sidecar(path: Path, suffix: str) -> bytes | None:
    """A shapefile part (.dbf, .cpg) next to the .shp, or inside the zip that holds it."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(suffix)]
            return archive.read(names[0]) if names else None
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate.read_bytes()
    return None


def _dbf_records(dbf: bytes) -> tuple[bytes, int, int]:
    """The record area of a DBF file, with the header length and record length."""
    header_len, record_len = struct.unpack("<HH", dbf[8:12])
    return dbf[header_len:], header_len, record_len


def _first_failure(data: bytes, encoding: str) -> int | None:
    try:
        data.decode(encoding)
        return None
    except UnicodeDecodeError as err:
        return err.start


def detect(data: bytes) -> tuple[str, str]:
    """Guess an encoding for Japanese text bytes, and say why."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "detected: UTF-8 byte-order mark"
    if data.isascii():
        return "utf-8", "detected: the text is plain ASCII, every encoding reads it the same"
    for name in CANDIDATES:
        if _first_failure(data, name) is None:
            return name, f"detected: every byte decodes as {name} (tried {', '.join(CANDIDATES)})"
    raise FormatError(f"cannot tell the text encoding (none of {', '.join(CANDIDATES)} decodes it);"
                      " declare `encoding:` in the layer definition")


def check_decodes(data: bytes, encoding: str, where: str) -> None:
    """Fail with the byte offset when text does not decode with the chosen encoding."""
    bad = _first_failure(data, encoding)
    if bad is not None:
        guess = next((c for c in CANDIDATES if _first_failure(data, c) is None), None)
        hint = f"; the bytes look like {guess}" if guess else ""
        raise FormatError(f"{where} does not decode as {encoding} at byte {bad}{hint};"
                          " fix `encoding:` in the layer definition")


def shapefile_encoding(path: Path, declared: str | None) -> tuple[str | None, str]:
    """The encoding to read a shapefile's DBF with, and why it was chosen."""
    dbf = _sidecar(path, ".dbf")
    if dbf is None:
        raise FormatError(f"{path.name}: the .dbf part of the shapefile is missing")
    records, header_len, record_len = _dbf_records(dbf)
    cpg = _sidecar(path, ".cpg")
    if cpg is not None:
        encoding = normalise(cpg.decode("ascii", "replace"))
        why = f"{encoding}, from the .cpg file"
        if declared and normalise(declared) != encoding:
            why += f" (the definition's {declared} is ignored: the file wins)"
    elif declared:
        encoding, why = normalise(declared), f"{normalise(declared)}, declared in the layer definition (no .cpg)"
    else:
        encoding, why = detect(records)
        why = f"{encoding}, {why} (no .cpg and none declared)"
    bad = _first_failure(records, encoding)
    if bad is not None:
        row = bad // max(record_len, 1) + 1
        check_decodes(records, encoding, f"{path.name}: row {row} of the .dbf")
    return encoding, why
