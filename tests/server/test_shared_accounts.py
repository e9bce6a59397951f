"""Accounts in PostgreSQL: two ``tsukuba-gis serve`` processes on one PostGIS store share a login,
its logout, tokens and the lock-out of a guessed name (what hosts behind a load balancer need)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest
from minicity import MiniCity

from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store.postgis_settings import split_schema

PASSWORD = "tsukuba-express 2005"
LOCK = {
    "TSUKUBA_GIS_AUTH_LOCK_USER_FAILURES": "3",
    "TSUKUBA_GIS_AUTH_LOCK_BASE_S": "30",
    "TSUKUBA_GIS_AUTH_LOCK_MAX_S": "60",
    "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
    "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "16384",
    "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
}
STAFF = "/internal/viewer-config.json"


def _cli(city: MiniCity, *args: str, stdin: str = "") -> str:
    exe = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
    env = {**os.environ, **city.env, **LOCK}
    done = subprocess.run(
        [exe, *args], env=env, input=stdin, capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def city(postgis_url, tmp_path) -> MiniCity:
    city = MiniCity(tmp_path, postgis_url)
    city.hand_over(10, "A")
    city.etl()
    return city


def test_two_servers_share_login_logout_tokens_and_lockout(city, start_server):
    _cli(city, "users", "add", "suzuki", "--password-stdin", stdin=PASSWORD + "\n")
    _cli(city, "users", "add", "tanaka", "--password-stdin", stdin=PASSWORD + "\n")
    assert not (city.data_dir / "accounts.sqlite").exists()  # they went to PostgreSQL
    dsn, schema = split_schema(city.store, "tsukuba_gis")
    with psycopg.connect(dsn) as conn:
        names = conn.execute(f'SELECT username FROM "{schema}".users ORDER BY 1').fetchall()
    assert names == [("suzuki",), ("tanaka",)]

    one, two = (start_server(city.data_dir, {**city.env, **LOCK}) for _ in range(2))
    with httpx.Client(base_url=one.url, timeout=30) as a, httpx.Client(base_url=two.url, timeout=30) as b:
        signed_in = a.post("/auth/login", json={"username": "suzuki", "password": PASSWORD})
        assert signed_in.status_code == 200
        cookie = {"Cookie": f"tsukuba_gis_session={a.cookies['tsukuba_gis_session']}"}
        a.cookies.clear()  # from here on, each request carries only the cookie it is given
        assert b.get(STAFF, headers=cookie).status_code == 200  # the other host knows the session
        assert b.get("/auth/me", headers=cookie).json()["user"] == "suzuki"
        csrf = signed_in.json()["csrf_token"]
        out = b.post("/auth/logout", headers={**cookie, "X-CSRF-Token": csrf, "Origin": two.url})
        assert out.status_code in (200, 204), out.text
        assert a.get(STAFF, headers=cookie).status_code == 401  # logged out everywhere

        token = _cli(city, "tokens", "create", "suzuki")
        bearer = {"Authorization": f"Bearer {token}"}
        assert a.get(STAFF, headers=bearer).status_code == b.get(STAFF, headers=bearer).status_code == 200

        wrong = [
            a.post("/auth/login", json={"username": "tanaka", "password": "wrong"}).status_code
            for _ in range(3)
        ]
        assert wrong == [401, 401, 401]
        locked = b.post("/auth/login", json={"username": "tanaka", "password": PASSWORD})
        assert locked.status_code == 429, locked.text  # the count made on one host locks on the other
