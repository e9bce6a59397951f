"""One archive with everything needed to rebuild the service, its verification, and its restore.

Layout of the tar file (``manifest.json`` last, written after every member is hashed)::

    store/store.gpkg        the GeoPackage, through SQLite's online backup API (serving goes on)
    store/store.pgdump      or the PostGIS schema, ``pg_dump`` custom format (one snapshot)
    accounts/accounts.sqlite  users, tokens, sessions, lock-out (SQLite backup API), when present
    rasters/...             the COG files of raster layer versions
    data/...                every other file of the data directory: open data, reports, photos,
                            quarantine, audit log, generated configs (a copy of each as it is)
    manifest.json           format, time, store kind and schema, and per member size + SHA-256

A backup is written to ``DEST.part`` and renamed when complete, so a half-written archive never
carries the final name. ``verify`` re-reads every member against the manifest and checks that
the databases open (SQLite ``integrity_check``, ``pg_restore --list``).
"""

import hashlib
import json
import shutil
import sqlite3
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tsukuba_gis import __version__
from tsukuba_gis.backup import pgdump
from tsukuba_gis.errors import GisError
from tsukuba_gis.store import scheme_of

FORMAT = "tsukuba-gis-backup/1"
MANIFEST = "manifest.json"
GPKG, PGDUMP, ACCOUNTS = "store/store.gpkg", "store/store.pgdump", "accounts/accounts.sqlite"
AUDIT = "audit/audit.log"
_CHUNK = 1 << 20


class BackupError(GisError):
    """A backup that cannot be written, verified or restored (the message says which part)."""


@dataclass
class Sources:
    """Where the service keeps its state (from the settings of the installation).

    Attributes:
        data_dir: the data directory.
        store_url: the store (a ``.gpkg`` path or a ``postgresql://`` URL).
        rasters: the raster directory.
        accounts: the SQLite account file (``None`` when accounts live elsewhere).
        audit: the audit log (kept as ``audit/audit.log`` when outside the data directory).
    """

    data_dir: Path
    store_url: str
    rasters: Path
    accounts: Path | None = None
    audit: Path | None = None

    def audit_outside(self) -> bool:
        """Whether the audit log lives outside the data directory (then it is a member of its own)."""
        if self.audit is None:
            return False
        return self.data_dir.resolve() not in self.audit.resolve().parents

    def skipped(self) -> set[Path]:
        """Files of the data directory that go through a database API, not as plain files."""
        out = set()
        for db in [Path(self.store_url)] if scheme_of(self.store_url) == "gpkg" else []:
            out |= {db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")}
        if self.accounts is not None:
            a = self.accounts
            out |= {a, Path(f"{a}-wal"), Path(f"{a}-shm"), Path(f"{a}-journal")}
        return {p.resolve() for p in out}


@dataclass
class Manifest:
    """What an archive holds: ``members`` maps a member name to ``{"size", "sha256"}``."""

    store: str
    created: float = field(default_factory=time.time)
    schema: str | None = None
    version: str = __version__
    members: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The manifest as UTF-8 JSON."""
        body = {"format": FORMAT, "version": self.version, "created": self.created, "store": self.store}
        body |= {"schema": self.schema, "members": self.members}
        return json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "Manifest":
        """Read a manifest; an archive of another format is refused by name."""
        body = json.loads(raw)
        if body.get("format") != FORMAT:
            raise BackupError(f"not a {FORMAT} archive (format {body.get('format')!r})")
        return cls(body["store"], body["created"], body.get("schema"), body["version"], body["members"])


class _Writer:
    """Adds files to the tar while hashing them, and records them in the manifest."""

    def __init__(self, tar: tarfile.TarFile, manifest: Manifest):
        self.tar, self.manifest = tar, manifest

    def add(self, path: Path, name: str) -> None:
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return  # removed since listed (an old open-data set cleaned up): not part of the state
        with handle:
            info = tarfile.TarInfo(name)
            info.size = Path(handle.name).stat().st_size
            info.mtime = int(path.stat().st_mtime)
            info.mode = 0o600
            digest = hashlib.sha256()
            reader = _Hashing(handle, digest, info.size)
            self.tar.addfile(info, reader)
            self.manifest.members[name] = {"size": info.size, "sha256": digest.hexdigest()}


class _Hashing:
    """A file reader that hashes what tarfile reads and stops at the size it was told."""

    def __init__(self, handle, digest, size: int):
        self.handle, self.digest, self.left = handle, digest, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.handle.read(n)
        if len(data) < n:
            raise BackupError(f"{self.handle.name} shrank while it was copied; run the backup again")
        self.left -= len(data)
        self.digest.update(data)
        return data


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (writers go on; the copy is one snapshot)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=0)
        finally:
            dst.close()
    finally:
        src.close()


def _files(root: Path, skip: set[Path]) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.resolve() not in skip)


def backup(sources: Sources, dest: Path) -> Manifest:
    """Write the archive ``dest`` (atomically: ``dest.part`` renamed at the end)."""
    kind = scheme_of(sources.store_url)
    manifest = Manifest(kind)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tsukuba-gis-backup-", dir=dest.parent) as tmp:
        staged = Path(tmp)
        with tarfile.open(part, "w") as tar:
            out = _Writer(tar, manifest)
            if kind == "gpkg":
                if not Path(sources.store_url).exists():
                    raise BackupError(f"no store at {sources.store_url}: nothing to back up")
                sqlite_copy(Path(sources.store_url), staged / "store.gpkg")
                out.add(staged / "store.gpkg", GPKG)
            else:
                manifest.schema = pgdump.dump(sources.store_url, staged / "store.pgdump")
                out.add(staged / "store.pgdump", PGDUMP)
            if sources.accounts is not None and sources.accounts.exists():
                sqlite_copy(sources.accounts, staged / "accounts.sqlite")
                out.add(staged / "accounts.sqlite", ACCOUNTS)
            if sources.audit_outside() and sources.audit.exists():
                shutil.copyfile(sources.audit, staged / "audit.log")  # appended to while serving
                out.add(staged / "audit.log", AUDIT)
            skip = sources.skipped() | {staged.resolve(), part.resolve()}
            rasters = sources.rasters.resolve()
            for path in _files(sources.rasters, skip):
                out.add(path, f"rasters/{path.relative_to(sources.rasters).as_posix()}")
            for path in _files(sources.data_dir, skip):
                if rasters in path.resolve().parents or staged in path.parents:
                    continue
                out.add(path, f"data/{path.relative_to(sources.data_dir).as_posix()}")
            raw = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(raw), int(manifest.created), 0o600
            tar.addfile(info, _Bytes(raw))
    part.replace(dest)
    return manifest


class _Bytes:
    def __init__(self, raw: bytes):
        self.raw, self.at = raw, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.raw) if n < 0 else self.at + n
        chunk, self.at = self.raw[self.at : end], min(end, len(self.raw))
        return chunk
