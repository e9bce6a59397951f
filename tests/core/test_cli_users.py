"""``tsukuba-gis users`` and ``tokens``: accounts and personal tokens from the command line."""

import sqlite3

import pytest
from click.testing import CliRunner

from server.auth import tokens
from server.auth.accounts import open_account_store
from server.auth.passwords import Passwords
from server.auth.settings import AuthSettings
from tsukuba_gis.cli.main import cli

PASSWORD = "correct horse battery"
CHEAP = {
    "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
    "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "8",
    "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
}


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"TSUKUBA_GIS_DATA_DIR": str(tmp_path), "TSUKUBA_GIS_AUTH_ACCOUNTS": None, **CHEAP}


def run(env, *args, stdin=None, code=0):
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    assert result.exit_code == code, result.output
    return result


def store(tmp_path):
    return open_account_store(str(tmp_path / "accounts.sqlite"))


def test_add_prompts_twice_and_stores_an_argon2_hash(env, tmp_path):
    result = run(env, "users", "add", "Yamada", "--role", "admin", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert "added yamada (admin)" in result.stderr
    user = store(tmp_path).get_user("yamada")
    assert user.role == "admin" and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert Passwords(AuthSettings()).verify(user.password_hash, PASSWORD)
    assert (tmp_path / "accounts.sqlite").stat().st_mode & 0o077 == 0  # owner only


def test_production_hashing_uses_argon2_cffi_defaults(monkeypatch):
    for name in CHEAP:
        monkeypatch.delenv(name, raising=False)
    hasher = Passwords(AuthSettings()).hasher
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)


def test_add_refuses_mismatch_weak_duplicate_and_bad_names(env):
    mismatch = run(env, "users", "add", "sato", stdin=f"{PASSWORD}\nsomething else entirely\n", code=1)
    assert "do not match" in mismatch.output
    assert (
        "at least 12" in run(env, "users", "add", "sato", "--password-stdin", stdin="short\n", code=1).output
    )
    assert (
        "user name"
        in run(
            env, "users", "add", "satotarou1234", "--password-stdin", stdin="SatoTarou1234\n", code=1
        ).output
    )
    run(env, "users", "add", "sato", "--password-stdin", stdin=PASSWORD + "\n")
    assert (
        "already exists"
        in run(env, "users", "add", "SATO", "--password-stdin", stdin=PASSWORD + "\n", code=1).output
    )
    assert (
        run(env, "users", "add", "bad name!", "--password-stdin", stdin=PASSWORD + "\n", code=2).exit_code
        == 2
    )


def test_list_passwd_remove(env, tmp_path):
    run(env, "users", "add", "kato", "--password-stdin", stdin=PASSWORD + "\n")
    run(env, "users", "add", "ito", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    lines = run(env, "users", "list").stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["ito", "admin"], ["kato", "staff"]]
    before = store(tmp_path).get_user("kato").password_hash
    run(env, "users", "passwd", "kato", "--password-stdin", stdin="another long password\n")
    assert store(tmp_path).get_user("kato").password_hash != before
    assert (
        "no user"
        in run(env, "users", "passwd", "nobody", "--password-stdin", stdin=PASSWORD + "\n", code=1).output
    )
    assert run(env, "users", "remove", "kato", stdin="n\n", code=1).exit_code == 1  # asks first
    run(env, "users", "remove", "kato", "--yes")
    assert [u.username for u in store(tmp_path).list_users()] == ["ito"]
    assert "no user" in run(env, "users", "remove", "kato", "--yes", code=1).output


def test_tokens_are_shown_once_stored_hashed_listed_and_revoked(env, tmp_path):
    run(env, "users", "add", "goto", "--password-stdin", stdin=PASSWORD + "\n")
    created = run(env, "tokens", "create", "goto", "--expires", "30", "--name", "QGIS PC-12")
    token = created.stdout.strip()
    token_id = tokens.token_id_of(token)
    assert token_id and token_id in created.stderr and "not shown again" in created.stderr
    with sqlite3.connect(tmp_path / "accounts.sqlite") as con:
        dump = "\n".join(con.iterdump())
    secret = token.removeprefix(f"tgis_{token_id}_")  # the secret may hold "_" itself (URL-safe base64)
    assert secret != token and len(secret) == 43
    assert token not in dump and secret not in dump and tokens.digest(token) in dump
    listed = run(env, "tokens", "list", "goto").stdout.split("\t")
    assert listed[:3] == [token_id, "goto", "active"] and listed[-1].strip() == "QGIS PC-12"
    run(env, "tokens", "revoke", token_id)
    assert run(env, "tokens", "list").stdout.split("\t")[2] == "revoked"
    assert "no active token" in run(env, "tokens", "revoke", token_id, code=1).output
    assert "no user" in run(env, "tokens", "create", "nobody", code=1).output
    never = run(env, "tokens", "create", "goto", "--expires", "0").stdout.strip()
    assert store(tmp_path).get_token(tokens.token_id_of(never)).expires is None
    assert "token(s)" in run(env, "users", "list").stdout


def test_an_account_store_of_an_unknown_kind_is_named(env):
    # sqlite and postgresql exist (server/auth/accounts_postgres.py); anything else is a clear error
    result = run({**env, "TSUKUBA_GIS_AUTH_ACCOUNTS": "mysql://db/gis"}, "users", "list", code=1)
    assert "no account store for 'mysql'" in result.output
