"""Text encodings of hand-overs: honour what the file says, else the definition, else detect.

Japanese departments hand over Shift_JIS (cp932) as often as UTF-8, and a shapefile without
its ``.cpg`` says nothing; GDAL would then read Latin-1 and produce mojibake silently. A wrong
declaration is just as silent the other way round: UTF-8 kanji usually *decode* as cp932
(into nonsense), so a declared cp932 is also checked against "this is really UTF-8".

Files are scanned in blocks, never read whole, so a 100 MB ``.dbf`` costs no memory.
"""

import codecs
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from etl.formats import FormatError

CPG_NAMES = {
    "932": "cp932",
    "cp932": "cp932",
    "sjis": "cp932",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "ms932": "cp932",
    "windows-31j": "cp932",
    "65001": "utf-8",
    "utf-8": "utf-8",
    "utf8": "utf-8",
}
CANDIDATES = ("utf-8", "cp932", "euc_jp")
BLOCK = 1 << 20


def normalise(name: str) -> str:
    """A Python codec name for an encoding label (``Shift_JIS`` -> ``cp932``)."""
    key = name.strip().lower()
    if key in CPG_NAMES:
        return CPG_NAMES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise FormatError(f"unknown encoding {name!r}; use e.g. cp932 or utf-8") from None


@dataclass(frozen=True)
class Block:
    """Bytes of a file that decode on their own, and where they start (for messages)."""

    data: bytes
    first_row: int  # 1-based record or line number of the block's first byte; 0: a header
    record_len: int = 0  # fixed-length records (DBF); 0 for lines


@dataclass
class Scan:
    """Which candidate encodings every block decoded with, and where the others first failed."""

    failures: dict[str, tuple[int, int] | None]  # encoding -> (row, byte offset in block)
    ascii_only: bool
    bom: bool

    def decodes(self, encoding: str) -> bool:
        """True when every block decoded with ``encoding``."""
        return self.failures[encoding] is None


def _row_of(block: Block, offset: int) -> int:
    if block.record_len:
        return block.first_row + offset // block.record_len
    return block.first_row + block.data.count(b"\n", 0, offset)


def scan(blocks: Iterable[Block], encodings: Iterable[str]) -> Scan:
    """Try every encoding on every block; remember the first failure of each."""
    failures: dict[str, tuple[int, int] | None] = dict.fromkeys(encodings)
    ascii_only, bom, first = True, False, True
    for block in blocks:
        if first:
            bom, first = block.data.startswith(codecs.BOM_UTF8), False
        ascii_only = ascii_only and block.data.isascii()
        if ascii_only:
            continue
        for name, failed in failures.items():
            if failed is None:
                try:
                    block.data.decode(name)
                except UnicodeDecodeError as err:
                    failures[name] = (_row_of(block, err.start), err.start)
    return Scan(failures, ascii_only, bom)


def line_blocks(handle: BinaryIO, skip: int = 0) -> Iterator[Block]:
    """Blocks of whole lines (no encoding we accept uses byte 0x0A inside a character)."""
    data = handle.read(skip) if skip else b""
    row = 1 + data.count(b"\n")
    carry = b""
    while chunk := handle.read(BLOCK):
        chunk = carry + chunk
        cut = chunk.rfind(b"\n") + 1
        if cut == 0:
            carry = chunk
            continue
        carry = chunk[cut:]
        yield Block(chunk[:cut], row)
        row += chunk.count(b"\n", 0, cut)
    if carry:
        yield Block(carry, row)


def choose(
    blocks: Callable[[], Iterable[Block]], declared: str | None, origin: str, where: str, unit: str = "line"
) -> tuple[str, str]:
    """The encoding to read text with, and why; FormatError when the bytes contradict it.

    ``blocks`` gives a fresh pass over the file; ``declared`` comes from ``origin`` (".cpg
    file", "layer definition") or is None (detect).
    """
    try:
        chosen = normalise(declared) if declared else None
    except FormatError as err:
        raise FormatError(f"{where}: the {origin} names {declared!r}: {err}") from None
    # A declared encoding is checked, and checked against UTF-8 (the silent trap); the
    # other candidates only matter for a hint when it fails, so they cost a pass only then.
    result = scan(blocks(), dict.fromkeys([chosen, "utf-8"] if chosen else CANDIDATES))
    if result.ascii_only:
        name = chosen or "utf-8"
        return name, f"{name}: the text is plain ASCII, every encoding reads it the same"
    if chosen is None:
        return _detected(result, where)
    failed = result.failures[chosen]
    if failed is not None:
        others = scan(blocks(), [c for c in CANDIDATES if c != chosen])
        guess = next((c for c in CANDIDATES if c != chosen and others.decodes(c)), None)
        hint = f"; the bytes look like {guess}" if guess else ""
        place = f"{unit} {failed[0]}" if failed[0] else "the header (field names)"
        raise FormatError(
            f"{where}: {place} does not decode as {chosen} (declared in the"
            f" {origin}){hint}; fix the encoding there"
        )
    if chosen != "utf-8" and result.decodes("utf-8"):
        raise FormatError(
            f"{where}: the {origin} declares {chosen}, but the text is valid UTF-8"
            f" (reading it as {chosen} would garble every Japanese character);"
            " declare utf-8 there"
        )
    if chosen == "utf-8" and result.bom:
        chosen = "utf-8-sig"  # Excel's BOM must not end up in the first header name
    return chosen, f"{chosen}, from the {origin}"


def _detected(result: Scan, where: str) -> tuple[str, str]:
    if result.bom and result.decodes("utf-8"):
        return "utf-8-sig", "utf-8-sig, detected: UTF-8 byte-order mark (none declared)"
    for name in CANDIDATES:
        if result.decodes(name):
            return name, (
                f"{name}, detected: every byte decodes as {name} (tried"
                f" {', '.join(CANDIDATES)} in that order; none declared)"
            )
    raise FormatError(
        f"{where}: cannot tell the text encoding (none of {', '.join(CANDIDATES)}"
        " decodes it); declare `encoding:` in the layer definition"
    )
