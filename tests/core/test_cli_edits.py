"""The command line of live edits (issue 13): departments of users and tokens, token scopes, the
accounts migration, and ``etl history`` / ``etl revert`` on both stores."""

import sqlite3

import pytest
from click.testing import CliRunner
from editcity import CHEAP_ARGON2

from server.auth.accounts import open_account_store
from server.auth.accounts_sqlite import SCHEMA
from tsukuba_gis.cli.main import cli
from tsukuba_gis.store import Query, open_store
from tsukuba_gis.store.base import Editor, EditRequest

PASSWORD = "correct horse battery"


def run(env, *args, stdin=None, code=0):
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"TSUKUBA_GIS_DATA_DIR": str(tmp_path), "TSUKUBA_GIS_AUTH_ACCOUNTS": None, **CHEAP_ARGON2}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_users_and_tokens_get_departments_and_scopes(request, env, tmp_path, backend):
    where = str(tmp_path / "accounts.sqlite")
    if backend == "postgresql":  # the account store hosts share (server/auth/accounts_postgres.py)
        where = request.getfixturevalue("postgis_url")
        env = {**env, "TSUKUBA_GIS_AUTH_ACCOUNTS": where}
    added = run(
        env, "users", "add", "tanaka", "--department", "disaster", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert "added tanaka (staff: disaster)" in added.stderr
    wrong = run(
        env, "users", "add", "x", "--department", "bousai", "--password-stdin", stdin=PASSWORD + "\n", code=2
    )
    assert "no department bousai" in wrong.output and "disaster" in wrong.output
    assert run(env, "users", "departments", "tanaka").stdout.strip() == "disaster"
    assert run(env, "users", "departments", "tanaka", "disaster", "roads").stdout.strip() == "disaster, roads"
    assert "\tdisaster,roads\t" in run(env, "users", "list").stdout
    token = run(env, "tokens", "create", "tanaka", "--scope", "edit", "--department", "roads").stdout.strip()
    accounts = open_account_store(where)
    (record,) = accounts.list_tokens("tanaka")
    assert (record.scope, record.departments) == ("edit", ("roads",)) and token.startswith("tgis_")
    listed = run(env, "tokens", "list", "tanaka").stdout.split("\t")
    assert listed[3:5] == ["edit", "roads"]
    assert run(env, "tokens", "create", "tanaka").stdout and accounts.list_tokens("tanaka")[0].scope == "read"
    beyond = run(env, "tokens", "create", "tanaka", "--department", "planning", code=2)
    assert "tanaka is not in planning" in beyond.output
    assert run(env, "users", "departments", "tanaka", "--none").stdout.strip() == "(none)"


def test_a_version_1_account_store_is_migrated_and_its_tokens_stay_read_only(tmp_path):
    path = tmp_path / "accounts.sqlite"
    con = sqlite3.connect(path)
    for statement in SCHEMA:
        con.execute(statement)
    con.execute("INSERT INTO users VALUES ('old', 'staff', 'hash', 1, 1)")
    con.execute("INSERT INTO tokens VALUES ('abcdef012345', 'old', 'QGIS', 'digest', 1, NULL, NULL, NULL)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    accounts = open_account_store(str(path))
    assert accounts.get_user("old").departments == ()
    token = accounts.get_token("abcdef012345")
    assert (token.scope, token.departments, token.name) == ("read", None, "QGIS")
    assert accounts.set_departments("old", ["disaster"]) and accounts.get_user("old").departments == (
        "disaster",
    )


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_history_lists_edits_and_revert_undoes_one(request, tmp_path, backend, edit_cities):
    cluster = request.getfixturevalue("postgis_cluster") if backend == "postgis" else None
    city = edit_cities.new(tmp_path, cluster)
    env = {**city.env, "TSUKUBA_GIS_STORE": city.store or None}
    store = open_store(city.settings.store_url)
    fid = store.query(store.current("shelters"), Query(limit=1)).ids[0]
    staff = Editor("kato-bousai", "disaster", "session")
    for status in ("開設", "満員"):
        store.edit(
            store.current("shelters"), EditRequest("modify", fid, staff, properties={"status": status})
        )
    history = run(env, "etl", "history", "shelters").stdout
    assert "2 live edit(s)" in history and "kato-bousai (disaster, session)" in history
    assert "status: '未開設' -> '開設'" in history and "status: '開設' -> '満員'" in history
    first, second = store.changes("shelters")
    refused = run(env, "etl", "revert", str(first.id), code=1)
    assert f"revert #{second.id} first" in refused.output
    done = run(env, "etl", "revert", str(second.id)).stdout
    assert f"reverted #{second.id}" in done and "(cli, cli)" in done and f"[revert of #{second.id}]" in done
    now = store.get(store.current("shelters"), fid).properties[0]
    assert now["status"] == "開設" and now["updated_at"].endswith("+09:00")
    run(env, "etl", "revert", str(first.id))  # the later change is undone: this one may go too
    assert store.get(store.current("shelters"), fid).properties[0]["status"] == "未開設"
    assert len(run(env, "etl", "history", "shelters", "--feature", fid).stdout.splitlines()) >= 5
    assert "no change #999999" in run(env, "etl", "revert", "999999", code=1).output
