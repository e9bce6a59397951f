"""Check a backup archive against its manifest, and restore it into an empty installation."""

import hashlib
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from tsukuba_gis.backup import pgdump
from tsukuba_gis.backup.archive import ACCOUNTS, AUDIT, GPKG, MANIFEST, PGDUMP, BackupError, Manifest, Sources
from tsukuba_gis.store import scheme_of

_CHUNK = 1 << 20


def _open(archive: Path) -> tarfile.TarFile:
    if not archive.is_file():
        raise BackupError(f"no backup archive at {archive}")
    try:
        return tarfile.open(archive, "r")
    except tarfile.TarError as err:
        raise BackupError(f"{archive} is not a readable tar archive: {err}") from None


def read_manifest(tar: tarfile.TarFile) -> Manifest:
    """The archive's manifest (a missing one means the archive is not complete)."""
    try:
        member = tar.getmember(MANIFEST)
    except KeyError:
        raise BackupError(f"{tar.name} has no {MANIFEST}: it is not a complete backup") from None
    return Manifest.from_json(tar.extractfile(member).read())


def _safe_name(name: str) -> None:
    path = PurePosixPath(name)
    if (
        path.is_absolute()
        or ".." in path.parts
        or path.parts[0] not in ("store", "accounts", "audit", "rasters", "data")
    ):
        raise BackupError(f"archive member {name!r} is outside the backup layout")


def _check_members(tar: tarfile.TarFile, manifest: Manifest) -> None:
    names = {m.name for m in tar.getmembers() if m.isfile()} - {MANIFEST}
    if names != set(manifest.members):
        extra, missing = sorted(names - set(manifest.members)), sorted(set(manifest.members) - names)
        raise BackupError(f"archive and manifest differ: extra {extra[:5]}, missing {missing[:5]}")
    for name, expected in manifest.members.items():
        _safe_name(name)
        digest, size = hashlib.sha256(), 0
        handle = tar.extractfile(name)
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
        if (size, digest.hexdigest()) != (expected["size"], expected["sha256"]):
            raise BackupError(f"{name}: size or SHA-256 differs from the manifest (the archive is damaged)")


def _check_sqlite(path: Path, name: str) -> None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = con.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{name} is not a readable SQLite database: {err}") from None
    finally:
        con.close()
    if result != "ok":
        raise BackupError(f"{name} fails SQLite's integrity check: {result}")


def verify(archive: Path) -> Manifest:
    """Every member against the manifest, and the databases readable; the manifest."""
    with _open(archive) as tar, tempfile.TemporaryDirectory(prefix="tsukuba-gis-verify-") as tmp:
        manifest = read_manifest(tar)
        _check_members(tar, manifest)
        for name in (GPKG, ACCOUNTS):
            if name in manifest.members:
                tar.extract(name, tmp, filter="data")
                _check_sqlite(Path(tmp) / name, name)
        if PGDUMP in manifest.members:
            tar.extract(PGDUMP, tmp, filter="data")
            pgdump.listing(Path(tmp) / PGDUMP)
    return manifest


def _must_be_empty(target: Sources) -> None:
    for folder, what in ((target.data_dir, "data directory"), (target.rasters, "raster directory")):
        if folder.is_dir() and any(folder.iterdir()):
            raise BackupError(f"the {what} {folder} is not empty; restore goes into an empty one")
    if scheme_of(target.store_url) == "gpkg":
        if Path(target.store_url).exists():
            raise BackupError(f"a store already exists at {target.store_url}")
    elif not pgdump.schema_is_empty(target.store_url):
        raise BackupError("the target schema already has tables; restore goes into an empty schema")
    if target.accounts is not None and target.accounts.exists():
        raise BackupError(f"an account store already exists at {target.accounts}")


def _extract(tar: tarfile.TarFile, name: str, to: Path) -> None:
    to.parent.mkdir(parents=True, exist_ok=True)
    part = to.with_name(to.name + ".part")
    with tar.extractfile(name) as src, open(part, "wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
    part.replace(to)


def restore(archive: Path, target: Sources) -> Manifest:
    """Verify the archive, then write it into the (empty) installation of ``target``."""
    manifest = verify(archive)
    kind = scheme_of(target.store_url)
    if kind != manifest.store:
        raise BackupError(
            f"the backup is of a {manifest.store} store but the target is {kind};"
            " restore into the same kind, then `tsukuba-gis store copy` to move it"
        )
    _must_be_empty(target)
    with _open(archive) as tar:
        for name in manifest.members:
            head, _, rest = name.partition("/")
            if head == "data":
                _extract(tar, name, target.data_dir / rest)
            elif head == "rasters":
                _extract(tar, name, target.rasters / rest)
            elif name == ACCOUNTS and target.accounts is not None:
                _extract(tar, name, target.accounts)
                target.accounts.chmod(0o600)
            elif name == AUDIT and target.audit is not None:
                _extract(tar, name, target.audit)
            elif name == GPKG:
                _extract(tar, name, Path(target.store_url))
        if PGDUMP in manifest.members:
            with tempfile.TemporaryDirectory(prefix="tsukuba-gis-restore-") as tmp:
                tar.extract(PGDUMP, tmp, filter="data")
                pgdump.restore(target.store_url, Path(tmp) / PGDUMP, manifest.schema)
    return manifest
