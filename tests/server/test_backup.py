"""Backup while a load runs, wipe, restore: every public and staff document answers the same.

Each store (GeoPackage, PostGIS) in turn: a MiniCity with a staff user and token is served by a
real ``tsukuba-gis serve``; ``tsukuba-gis backup`` runs while an ETL loads a new hand-over and an
account is added; then the data directory (and the PostGIS schema) is wiped, ``tsukuba-gis
restore`` puts the archive back, a new server starts, and the hash of a crawl of fixed public and
staff URLs must equal the crawl before or after the load (the backup is one snapshot of either).
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import psycopg
import pytest
from minicity import MiniCity, loaded_city

from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store.postgis_settings import split_schema

PUBLIC = [
    "/api?f=json",
    "/api/collections?f=json",
    "/api/collections/sites?f=json",
    "/api/collections/sites/items?f=json&limit=1000",
    "/api/collections/sites/items/S0000007?f=json",
    "/api/collections/sites/items?f=csv&limit=1000",
    "/api/collections/sites/queryables?f=json",
    "/viewer-config.json",
    "/search?q=地点1",
    "/point?lat=36.1&lon=140.1&radius=500",
]
STAFF = [
    "/internal/api/collections?f=json",
    "/internal/api/collections/sites/items?f=json&limit=1000",
    "/internal/viewer-config.json",
    "/auth/me",
]
# The parts of an answer that tell when and how fast it was made, not what the service holds:
# pygeoapi's items timeStamp, /point's generated times (UTC and JST), search's and /point's took_ms.
TIME_STAMP = re.compile(rb'"(timeStamp|generated|generated_jst|took_ms)": ?("[^"]*"|[0-9.]+)')


def _cli(city: MiniCity, *args: str, stdin: str = "", timeout: float = 300) -> str:
    exe = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
    done = subprocess.run(
        [exe, *args],
        env={**os.environ, **city.env},
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=timeout,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def _crawl(url: str, token: str) -> dict[str, str]:
    """URL -> status and SHA-256 of the body (timeStamp removed, the server's own address a name)."""
    out = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for path, headers in [(p, {}) for p in PUBLIC] + [
            (p, {"Authorization": f"Bearer {token}"}) for p in STAFF
        ]:
            response = client.get(path, headers=headers)
            body = TIME_STAMP.sub(rb'"\1":""', response.content).replace(url.encode(), b"BASE")
            out[path] = f"{response.status_code} {hashlib.sha256(body).hexdigest()}"
    return out


def _wipe(city: MiniCity) -> None:
    shutil.rmtree(city.data_dir)
    city.data_dir.mkdir()
    if city.store:
        dsn, schema = split_schema(city.store, "tsukuba_gis")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(psycopg.sql.Identifier(schema)))


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def city(request, tmp_path_factory) -> MiniCity:
    """One city per store for both tests: the damaged archive's test runs on the restored one."""
    return loaded_city(request, tmp_path_factory.mktemp(f"backup-{request.param}") / "city", 3000)


def test_backup_during_a_load_wipe_restore_answers_byte_identically(city, start_server, tmp_path):
    _cli(city, "users", "add", "kato", "--password-stdin", stdin="correct horse battery staple\n")
    token = _cli(city, "tokens", "create", "kato").strip()
    server = start_server(city.data_dir, city.env)
    before = _crawl(server.url, token)
    assert [k for k, v in before.items() if not v.startswith("200 ")] == []

    city.hand_over(20000, "B")
    load = city.etl_process()
    archive = tmp_path / "backup.tar"
    exe = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
    edit = subprocess.Popen(  # an account edit at the same time
        [exe, "users", "add", "sato", "--password-stdin"],
        env={**os.environ, **city.env},
        stdin=subprocess.PIPE,
    )
    edit.stdin.write(b"another horse battery staple\n")
    edit.stdin.close()
    _cli(city, "backup", str(archive))  # while the load and the edit run
    assert edit.wait(timeout=60) == 0
    assert load.wait(timeout=300) == 0, (city.data_dir / "etl.log").read_text()
    after = _crawl(server.url, token)
    assert after != before  # the load changed what is served
    server.stop()

    assert "verified" in _cli(city, "backup", "--verify", str(archive))
    _wipe(city)
    _cli(city, "restore", str(archive))
    restored = start_server(city.data_dir, city.env)
    again = _crawl(restored.url, token)
    assert again in (before, after), [k for k in again if again[k] not in (before[k], after[k])]


def test_a_damaged_archive_is_refused_by_verify_and_restore(city, tmp_path):
    archive = tmp_path / "backup.tar"
    _cli(city, "backup", str(archive))
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert {m.split("/")[0] for m in manifest["members"]} >= {"store", "data"}
    raw = bytearray(archive.read_bytes())
    raw[2048] ^= 0xFF  # a byte inside the first member's data
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(bytes(raw))
    exe = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
    for args in (["backup", "--verify", str(damaged)], ["restore", str(damaged)]):
        done = subprocess.run([exe, *args], env={**os.environ, **city.env}, capture_output=True, text=True)
        assert done.returncode == 1 and "damaged" in done.stderr, done.stderr
    again = subprocess.run(
        [exe, "restore", str(archive)], env={**os.environ, **city.env}, capture_output=True, text=True
    )
    assert again.returncode == 1 and "not empty" in again.stderr, again.stderr  # never over a live one


def test_raster_files_go_into_the_backup_and_back(sample_settings, tmp_path):
    from tsukuba_gis.backup.archive import Sources, backup
    from tsukuba_gis.backup.restore import restore
    from tsukuba_gis.store import open_store

    source = Sources(sample_settings.data_dir, sample_settings.store_url, sample_settings.rasters_path)
    rasters = open_store(sample_settings.store_url).rasters()
    assert rasters, "the samples have raster layers"
    manifest = backup(source, tmp_path / "samples.tar")
    kept = {r.path(sample_settings.rasters_path) for r in rasters}
    for path in kept:
        member = manifest.members[f"rasters/{path.relative_to(sample_settings.rasters_path).as_posix()}"]
        assert member["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    target = Sources(tmp_path / "data", str(tmp_path / "data/store.gpkg"), tmp_path / "rasters")
    restore(tmp_path / "samples.tar", target)
    again = open_store(target.store_url).rasters()
    assert [(r.layer_id, r.version, r.etag) for r in again] == [
        (r.layer_id, r.version, r.etag) for r in rasters
    ]
    for path in kept:
        copy = target.rasters / path.relative_to(sample_settings.rasters_path)
        assert copy.read_bytes() == path.read_bytes()
