"""Shapefile hand-overs, plain or zipped: find the parts, check them, choose the encoding.

GDAL is lenient where a hand-over must not be: without the ``.dbf`` it reads geometries with
no attributes, a truncated ``.shp`` gives its last features a NULL geometry, and a ``.dbf``
header that claims fewer records than the file holds hides the rest. Each of those would
lose features silently, so the parts and their headers are checked here first, and a zip
is inspected (member names, no path traversal) before GDAL opens it in place (``/vsizip/``).
"""

import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from etl.encoding import BLOCK, Block, choose, normalise
from etl.formats import FormatError

REQUIRED = (".shp", ".shx", ".dbf")
_SHP_MAGIC = 9994
_ASK_AGAIN = "ask the department for the file again (all parts with the same name)"


def _unsafe(name: str) -> bool:
    """A member name that would land outside the folder it is extracted to."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")  # C:\...


def zip_members(path: Path, label: str) -> list[str]:
    """The member names of a zip, refusing a broken archive or a path-traversal name."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as err:
        raise FormatError(f"{label}: not a readable zip archive ({err}); {_ASK_AGAIN}") from None
    for name in names:
        if _unsafe(name):
            raise FormatError(
                f"{label}: refused: the zip member {name!r} points outside the"
                " archive (path traversal); nothing was read. Ask the department"
                " for a zip of plain file names"
            )
    return names


@dataclass(frozen=True)
class ShapefileParts:
    """Where the parts of one shapefile are: next to each other on disk, or inside a zip.

    Attributes:
        path: the ``.shp`` or the ``.zip`` on disk.
        label: how messages name the file.
        member: the ``.shp`` inside the zip, or None on disk.
    """

    path: Path
    label: str
    member: str | None = None
    names: tuple[str, ...] = ()

    @property
    def gdal_path(self) -> str:
        """What GDAL opens."""
        return f"/vsizip/{self.path}/{self.member}" if self.member else str(self.path)

    def _name(self, suffix: str) -> str | Path | None:
        if self.member is None:
            for candidate in (self.path.with_suffix(suffix), self.path.with_suffix(suffix.upper())):
                if candidate.exists():
                    return candidate
            return None
        stem = self.member[: -len(".shp")].lower()
        return next((n for n in self.names if n.lower() == stem + suffix), None)

    def has(self, suffix: str) -> bool:
        """Whether the part exists."""
        return self._name(suffix) is not None

    def size(self, suffix: str) -> int:
        """The part's size in bytes."""
        name = self._name(suffix)
        if self.member is None:
            return name.stat().st_size
        with zipfile.ZipFile(self.path) as archive:
            return archive.getinfo(name).file_size

    @contextmanager
    def reader(self, suffix: str) -> Iterator[BinaryIO]:
        """The part, opened for binary reading."""
        name = self._name(suffix)
        if self.member is None:
            with open(name, "rb") as handle:
                yield handle
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(name) as handle:
                yield handle


def locate(path: Path, label: str, layer: str | None) -> ShapefileParts:
    """The shapefile a source means: the ``.shp`` itself, or the one (or ``layer``) in a zip."""
    if path.suffix.lower() != ".zip":
        return ShapefileParts(path, label)
    names = [n for n in zip_members(path, label) if not n.startswith("__MACOSX/")]
    shps = [n for n in names if n.lower().endswith(".shp")]
    if layer is not None:
        shps = [n for n in shps if PurePosixPath(n).stem == layer or n == layer]
    if len(shps) != 1:
        found = ", ".join(n for n in names if n.lower().endswith(".shp")) or "none"
        what = (
            f"no shapefile named {layer!r}"
            if layer
            else ("no shapefile" if not shps else "several shapefiles")
        )
        raise FormatError(
            f"{label}: {what} in the zip (shapefiles in it: {found}); "
            + ("set `layer:` to the one to load" if shps or layer else _ASK_AGAIN)
        )
    return ShapefileParts(path, label, shps[0], tuple(names))


def _header(parts: ShapefileParts, suffix: str, size: int) -> bytes:
    with parts.reader(suffix) as handle:
        return handle.read(size)


def _check_shp_like(parts: ShapefileParts, suffix: str) -> int:
    """Check a .shp/.shx main header against the real size; return that size."""
    size = parts.size(suffix)
    head = _header(parts, suffix, 100)
    if size < 100 or struct.unpack(">i", head[:4])[0] != _SHP_MAGIC:
        raise FormatError(
            f"{parts.label}: the {suffix} part is not a shapefile part (bad header,"
            f" {size} bytes); {_ASK_AGAIN}"
        )
    declared = struct.unpack(">i", head[24:28])[0] * 2  # in 16-bit words
    if declared != size:
        raise FormatError(
            f"{parts.label}: the {suffix} header says {declared} bytes but the part"
            f" has {size}: it is truncated or damaged; {_ASK_AGAIN}"
        )
    return size


def _dbf_layout(parts: ShapefileParts) -> tuple[int, int, int]:
    """(records, header length, record length) of the .dbf, checked against its real size."""
    size = parts.size(".dbf")
    head = _header(parts, ".dbf", 32)
    if size < 32 or len(head) < 32:
        raise FormatError(
            f"{parts.label}: the .dbf part is too short to be a dBASE file ({size} bytes); {_ASK_AGAIN}"
        )
    records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    expected = header_len + records * record_len
    if record_len == 0 or size not in (expected, expected + 1):  # + the 0x1A end marker
        held = (size - header_len) // record_len if record_len else 0
        raise FormatError(
            f"{parts.label}: the .dbf header says {records} records but the part"
            f" holds {held} ({size} bytes): the header or the file is wrong;"
            f" {_ASK_AGAIN}"
        )
    return records, header_len, record_len


def check(parts: ShapefileParts) -> int:
    """Refuse a shapefile with missing, truncated or inconsistent parts; return its count."""
    for suffix in REQUIRED:
        if not parts.has(suffix):
            raise FormatError(
                f"{parts.label}: the {suffix} part of the shapefile is missing (a"
                " shapefile is at least .shp, .shx and .dbf with the same name);"
                f" {_ASK_AGAIN}"
            )
    _check_shp_like(parts, ".shp")
    indexed = (_check_shp_like(parts, ".shx") - 100) // 8
    records, _, _ = _dbf_layout(parts)
    if indexed != records:
        raise FormatError(
            f"{parts.label}: the .shx indexes {indexed} shapes but the .dbf holds"
            f" {records} records: the parts do not belong together; {_ASK_AGAIN}"
        )
    return records


def _field_names(header: bytes) -> bytes:
    """The field names of a .dbf header (32-byte descriptors up to 0x0D), one per line."""
    names = []
    for start in range(32, len(header) - 31, 32):
        if header[start] == 0x0D:
            break
        names.append(header[start : start + 11].split(b"\0", 1)[0])
    return b"\n".join(names)


def _dbf_blocks(parts: ShapefileParts) -> Iterator[Block]:
    records, header_len, record_len = _dbf_layout(parts)
    per_block = max(BLOCK // record_len, 1)
    with parts.reader(".dbf") as handle:
        header = handle.read(header_len)
        yield Block(_field_names(header), 0)  # names may be Japanese too
        for first in range(0, records, per_block):
            data = handle.read(min(per_block, records - first) * record_len)
            yield Block(data, first + 1, record_len)


def encoding(parts: ShapefileParts, declared: str | None) -> tuple[str, str]:
    """The encoding to read the ``.dbf`` with, and why: ``.cpg``, else declared, else detected."""
    where, blocks = f"{parts.label} (.dbf)", partial(_dbf_blocks, parts)
    if parts.has(".cpg"):
        with parts.reader(".cpg") as handle:
            cpg = handle.read(64).decode("ascii", "replace").strip()
        chosen, why = choose(blocks, cpg, ".cpg file", where, "record")
        if declared and normalise(declared) != normalise(cpg):
            why += f" (the definition's {declared} is ignored: the file wins)"
        return chosen, why
    if declared:
        chosen, why = choose(blocks, declared, "layer definition", where, "record")
        return chosen, why + " (no .cpg)"
    chosen, why = choose(blocks, None, "", where, "record")
    return chosen, why + " (no .cpg)"
