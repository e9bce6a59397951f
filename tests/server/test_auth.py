"""Staff sessions on a real server: cookie flags, fixation, logout, CSRF, back-off, audit, and
no secret in any log."""

import statistics
import time

import httpx
import pytest
from click.testing import CliRunner

from tsukuba_gis.cli.main import cli

PASSWORD = "tsukuba-express 2005"
EVIL = "http://evil.example"
LOCK = {
    "TSUKUBA_GIS_AUTH_LOCK_USER_FAILURES": "3",
    "TSUKUBA_GIS_AUTH_LOCK_IP_FAILURES": "8",
    "TSUKUBA_GIS_AUTH_LOCK_BASE_S": "2",
    "TSUKUBA_GIS_AUTH_LOCK_MAX_S": "4",
    "TSUKUBA_GIS_AUTH_LOCK_WINDOW_S": "60",
    # The test client plays the reverse proxy: its X-Forwarded-For gives each test an address.
    "TSUKUBA_GIS_TRUSTED_PROXIES": "127.0.0.1",
}
# argon2 at 16 MiB, one pass: a few ms a check, enough to see whether an unknown name is checked
# against the dummy hash; the production defaults (64 MiB, 3 passes) cost ~100 ms.
ARGON2 = {
    "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
    "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "16384",
    "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
}


@pytest.fixture(scope="module")
def accounts(sample_data_dir, tmp_path_factory):
    """The CLI's environment, with one account per test that changes accounts."""
    home = tmp_path_factory.mktemp("auth")
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(sample_data_dir),
        "TSUKUBA_GIS_AUTH_ACCOUNTS": str(home / "accounts.sqlite"),
        "TSUKUBA_GIS_AUTH_AUDIT_LOG": str(home / "audit.log"),
        **ARGON2,
    }
    for name in ("yamada", "sato", "kato", "ito", "goto"):
        run_cli(env, "users", "add", name, "--password-stdin", stdin=PASSWORD + "\n")
    return {"env": env, "home": home}


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.fixture(scope="module")
def server(sample_data_dir, live_server, accounts):
    server = type(live_server)(sample_data_dir, {**accounts["env"], **LOCK})  # tests/conftest.py
    yield server
    server.stop()


def new_client(server, address: str = "10.0.0.1", **headers: str) -> httpx.Client:
    """A client; X-Forwarded-For (127.0.0.1 is a trusted proxy here) gives each test its own address."""
    return httpx.Client(base_url=server.url, timeout=30, headers={"X-Forwarded-For": address, **headers})


def login(client: httpx.Client, username: str, password: str = PASSWORD, **kwargs) -> httpx.Response:
    return client.post("/auth/login", json={"username": username, "password": password}, **kwargs)


def staff_config(server, cookie: str) -> int:
    """Status of a staff resource requested with only this session cookie (a fresh jar)."""
    headers = {"Cookie": f"tsukuba_gis_session={cookie}", "X-Forwarded-For": "10.0.0.99"}
    return httpx.get(f"{server.url}/internal/viewer-config.json", headers=headers).status_code


def test_login_sets_a_strict_httponly_session_cookie(server):
    with new_client(server) as client:
        response = login(client, "yamada")
        assert response.status_code == 200
        body = response.json()
        assert body["user"] == "yamada" and body["role"] == "staff" and body["auth"] == "session"
        assert len(body["csrf_token"]) >= 40 and body["expires"] > time.time()
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("tsukuba_gis_session=")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert flags == {"httponly", "path=/", "samesite=strict"}  # no Secure over plain HTTP
        assert client.get("/auth/me").json() == {**body}
        config = client.get("/internal/viewer-config.json")
        assert config.status_code == 200 and "shelters_staff" in config.json()["layers"]
        assert response.headers["cache-control"] == "no-store"


def test_https_behind_a_proxy_gets_a_secure_host_cookie(server):
    with new_client(server, "10.0.0.2", **{"X-Forwarded-Proto": "https"}) as client:
        response = login(client, "yamada")
        name, _, rest = response.headers["set-cookie"].partition("=")
        assert name == "__Host-tsukuba_gis_session"
        assert "secure" in {part.strip().lower() for part in rest.split(";")}
        session_id = rest.split(";")[0]
        me = client.get("/auth/me", headers={"Cookie": f"{name}={session_id}"})
        assert me.status_code == 200 and me.json()["user"] == "yamada"


def test_form_login_and_bad_bodies(server):
    with new_client(server, "10.0.0.3") as client:
        form = client.post("/auth/login", data={"username": "yamada", "password": PASSWORD})
        assert form.status_code == 200 and form.json()["user"] == "yamada"
        bad = [
            client.post("/auth/login", content=b"{not json", headers={"content-type": "application/json"}),
            client.post("/auth/login", json={"username": "yamada"}),
            client.post("/auth/login", json=["yamada", PASSWORD]),
            client.post("/auth/login", content=b"yamada", headers={"content-type": "text/plain"}),
            client.post("/auth/login", json={"username": "x", "password": "y" * 20000}),
        ]
        assert [r.status_code for r in bad] == [400] * 5
        assert all(r.json()["code"] == "InvalidParameterValue" for r in bad)
        wrong_method = client.get("/auth/login")
        assert wrong_method.status_code == 405 and wrong_method.json()["code"]


def test_a_planted_cookie_is_never_promoted_to_a_session(server):
    planted = "A" * 43  # an attacker-chosen id set in the victim's browser before login
    with new_client(server, "10.0.0.4") as victim:
        victim.cookies.set("tsukuba_gis_session", planted)
        assert victim.get("/auth/me").status_code == 401
        response = login(victim, "yamada")
        issued = response.cookies["tsukuba_gis_session"]
        assert issued != planted
        assert staff_config(server, planted) == 401 and staff_config(server, issued) == 200


def test_an_attackers_own_session_planted_in_a_browser_is_ended_by_the_victims_login(server):
    with new_client(server, "10.0.0.5") as attacker, new_client(server, "10.0.0.6") as victim:
        attackers = login(attacker, "sato").cookies["tsukuba_gis_session"]
        victim.cookies.set("tsukuba_gis_session", attackers)
        victims = login(victim, "yamada").cookies["tsukuba_gis_session"]
        assert victims != attackers
        assert staff_config(server, attackers) == 401
        me = httpx.get(f"{server.url}/auth/me", cookies={"tsukuba_gis_session": victims}).json()
        assert me["user"] == "yamada"


def test_logout_ends_the_session_on_the_server(server):
    with new_client(server, "10.0.0.7") as client:
        response = login(client, "yamada")
        cookie, csrf = response.cookies["tsukuba_gis_session"], response.json()["csrf_token"]
        out = client.post("/auth/logout", headers={"X-CSRF-Token": csrf, "Origin": server.url})
        assert out.status_code == 204
        assert 'tsukuba_gis_session=""' in out.headers["set-cookie"]
        assert staff_config(server, cookie) == 401  # the old cookie, replayed
        replay = httpx.Client(base_url=server.url, cookies={"tsukuba_gis_session": cookie})
        assert replay.get("/auth/me").status_code == 401
        assert replay.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 401
        assert replay.get("/internal/api/collections").status_code == 401


def test_state_changes_need_the_csrf_token_and_our_origin(server):
    with new_client(server, "10.0.0.8") as client:
        csrf = login(client, "yamada").json()["csrf_token"]
        refused = [
            client.post("/auth/logout"),
            client.post("/auth/logout", headers={"X-CSRF-Token": "wrong"}),
            client.post("/auth/logout", headers={"X-CSRF-Token": csrf, "Origin": EVIL}),
            client.post("/auth/logout", headers={"X-CSRF-Token": csrf, "Referer": f"{EVIL}/x"}),
            client.post("/auth/logout", headers={"X-CSRF-Token": csrf, "Origin": "null"}),
            client.post("/internal/api/collections", headers={"Origin": server.url}),
            client.delete("/internal/api/collections", headers={"X-CSRF-Token": csrf, "Origin": EVIL}),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        assert all(r.json()["code"] == "Forbidden" for r in refused)
        assert client.get("/auth/me").status_code == 200  # none of them signed anybody out
        # with the token and from here, the request passes the wall (there is no POST route)
        passed = client.post(
            "/internal/api/collections", headers={"X-CSRF-Token": csrf, "Origin": server.url}
        )
        assert passed.status_code == 405
        foreign_login = login(client, "yamada", headers={"Origin": EVIL})
        assert foreign_login.status_code == 403 and "set-cookie" not in foreign_login.headers


def _failures(client: httpx.Client, username: str, count: int) -> list[tuple[int, float]]:
    answers = []
    for _ in range(count):
        start = time.perf_counter()
        response = login(client, username, "not the password at all")
        answers.append((response.status_code, time.perf_counter() - start))
    return answers


def test_back_off_locks_a_name_from_one_address_whether_or_not_it_exists(server):
    with new_client(server, "10.0.1.1") as client:
        real = _failures(client, "kato", 4)
        locked = login(client, "kato")  # the right password, from the guessing address
        locked_at = time.monotonic()
        basic = client.get("/internal/api/collections", auth=("kato", PASSWORD))
        ghost = _failures(client, "ghost", 4)
    assert [s for s, _ in real] == [s for s, _ in ghost] == [401, 401, 401, 429]
    assert locked.status_code == 429 and locked.json()["code"] == "TooManyRequests"
    assert 1 <= int(locked.headers["retry-after"]) <= 2
    assert basic.status_code == 429  # Basic is the same password check, locked the same
    # Same timing class: the unknown name is verified against a dummy argon2 hash too.
    real_s = statistics.median(t for s, t in real if s == 401)
    ghost_s = statistics.median(t for s, t in ghost if s == 401)
    assert 1 / 3 < real_s / ghost_s < 3, (real_s, ghost_s)
    time.sleep(max(0.0, locked_at + int(locked.headers["retry-after"]) + 0.2 - time.monotonic()))
    with new_client(server, "10.0.1.1") as client:
        assert login(client, "kato").status_code == 200


def test_a_stranger_cannot_lock_a_staff_member_out(server, accounts):
    with new_client(server, "10.0.4.66") as stranger:
        assert [login(stranger, "ito", "guess guess guess").status_code for _ in range(4)] == [401] * 3 + [
            429
        ]
    with new_client(server, "10.0.4.1") as own:  # the holder, elsewhere: the right password works
        signed_in = login(own, "ito")
        assert signed_in.status_code == 200
        assert own.get("/internal/api/collections", auth=("ito", PASSWORD)).status_code == 200
        me = own.get("/auth/me").json()
    # ... and sees who has been trying (OWASP: tell the user about failed attempts).
    seen = {a["address"]: a for a in me["failed_sign_ins"]}
    assert seen["10.0.4.66"]["failures"] == 3 and seen["10.0.4.66"]["locked_until"]
    assert "10.0.4.1" not in seen
    listed = run_cli(accounts["env"], "users", "attempts", "ito")
    assert "10.0.4.66\t3 failure(s)" in listed
    assert "3 failed sign-in(s)" in next(
        line for line in run_cli(accounts["env"], "users", "list").splitlines() if line.startswith("ito")
    )


def test_ipv6_clients_are_counted_per_64(server):
    answers = []
    for i in range(4):  # four addresses of one /64: one counter
        with new_client(server, f"2001:db8:1:2::{i + 1}") as client:
            answers.append(login(client, "sato", "wrong wrong wrong").status_code)
    assert answers == [401, 401, 401, 429]
    with new_client(server, "2001:db8:1:3::1") as client:  # another network
        assert login(client, "sato").status_code == 200


def test_back_off_locks_an_address_that_tries_many_names(server):
    with new_client(server, "10.0.2.1") as client:
        answers = [login(client, f"guess{i}", "wrong password!").status_code for i in range(9)]
        assert answers[:8] == [401] * 8 and answers[8] == 429
        assert login(client, "goto").status_code == 429  # even a right password, from here
    with new_client(server, "10.0.2.2") as elsewhere:
        assert login(elsewhere, "goto").status_code == 200


def test_wrong_name_and_wrong_password_answer_alike(server):
    with new_client(server, "10.0.3.1") as client:
        wrong_password, unknown = login(client, "yamada", "nope nope nope"), login(client, "nobody")
    assert wrong_password.status_code == unknown.status_code == 401
    assert wrong_password.json() == unknown.json()


def test_passwd_and_remove_end_sessions_and_tokens(server, accounts):
    with new_client(server, "10.0.4.1") as client:
        ito = login(client, "ito").cookies["tsukuba_gis_session"]
        run_cli(accounts["env"], "users", "passwd", "ito", "--password-stdin", stdin="a brand new password\n")
        assert staff_config(server, ito) == 401
        assert login(client, "ito", "a brand new password").status_code == 200
        token = run_cli(accounts["env"], "tokens", "create", "ito")
        assert client.get("/internal/api", headers={"X-API-Key": token}).status_code == 200
        run_cli(accounts["env"], "users", "remove", "ito", "--yes")
        assert client.get("/internal/api", headers={"X-API-Key": token}).status_code == 401
        assert client.get("/auth/me").status_code == 401


def test_audit_names_who_read_what_and_no_log_holds_a_secret(server, accounts):
    token = run_cli(accounts["env"], "tokens", "create", "sato")
    with new_client(server, "10.0.5.1") as client:
        session = login(client, "yamada")
        client.get(
            "/internal/api/collections/shelters_staff/items",
            params={"limit": 2, "api_key": "leaked-in-a-url"},
        )
        httpx.get(
            f"{server.url}/internal/api/collections/shelters_staff/items",
            headers={"Authorization": f"Bearer {token}"},
        )
        httpx.get(f"{server.url}/internal/api/collections", auth=("sato", PASSWORD))
        login(client, "sato", "a wrong password for the log")
    # The server writes the log after answering: wait (bounded) for the last event to land.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        audit = (accounts["home"] / "audit.log").read_text()
        if '"event": "login_failed"' in audit and '"auth": "token"' in audit:
            break
        time.sleep(0.1)
    lines = audit.splitlines()
    assert any(
        '"user": "yamada"' in line
        and '"auth": "session"' in line
        and '"collection": "shelters_staff"' in line
        and '"status": 200' in line
        for line in lines
    )
    assert any('"user": "sato"' in line and '"auth": "token"' in line for line in lines)
    assert any('"event": "login_failed"' in line for line in lines)
    server_log = open(server.log.name, encoding="utf-8").read()
    secrets = [
        PASSWORD,
        "a wrong password for the log",
        token,
        token.split("_", 2)[-1],  # the secret part (it may hold "_" itself)
        session.cookies["tsukuba_gis_session"],
        session.json()["csrf_token"],
        "leaked-in-a-url",
    ]
    for secret in secrets:
        assert secret not in audit and secret not in server_log


def test_a_broken_account_store_answers_503_not_500(sample_data_dir, tmp_path):
    from fastapi.testclient import TestClient

    from server.app import create_app
    from server.auth.settings import AuthSettings
    from server.auth.tokens import new_token
    from tsukuba_gis.settings import Settings

    accounts = tmp_path / "accounts.sqlite"
    app = create_app(
        Settings(data_dir=sample_data_dir, public_url="http://testserver"),
        AuthSettings(accounts=str(accounts), audit_log=tmp_path / "audit.log"),
    )
    accounts.write_bytes(b"this is not a database" * 100)
    with TestClient(app, raise_server_exceptions=False) as client:
        for response in (
            client.get("/internal/api/collections", auth=("yamada", PASSWORD)),
            client.post("/auth/login", json={"username": "yamada", "password": "x"}),
            client.get("/auth/me", headers={"X-API-Key": new_token()[1]}),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "ServiceUnavailable"


def test_forwarded_for_counts_only_from_trusted_proxies(sample_data_dir, accounts, start_server):
    # Default: no trusted proxy. A local process cannot pick a fresh address per guess.
    plain = start_server(sample_data_dir, {**accounts["env"], **LOCK, "TSUKUBA_GIS_TRUSTED_PROXIES": ""})
    answers = []
    for i in range(4):
        with new_client(plain, f"10.9.0.{i + 1}") as client:
            answers.append(login(client, "yamada", "wrong wrong wrong").status_code)
    assert answers == [401, 401, 401, 429]  # one address (127.0.0.1): locked after three
    lines = (accounts["home"] / "audit.log").read_text(encoding="utf-8").splitlines()
    assert not any('"10.9.0.' in line for line in lines)
    assert any('"client": "127.0.0.1"' in line or '"client":"127.0.0.1"' in line for line in lines)
