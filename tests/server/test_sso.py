"""The staff SSO login (OpenID Connect code flow with PKCE) against real providers on loopback
(tests/oidcprovider.py): the session it ends in, and every way it must refuse without a 500."""

import base64
import hashlib
import json
import sqlite3
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from click.testing import CliRunner
from editcity import schema_url
from fastapi.testclient import TestClient
from liveserver import free_port
from oidcprovider import CLIENT_ID, CLIENT_SECRET, MockProvider, ScriptedProvider

from server.app import create_app
from server.auth import tokens
from server.auth.accounts import SSO_PASSWORD, SSOLogin, open_account_store
from server.auth.settings import AuthSettings
from tsukuba_gis.cli.main import cli

BASE = "http://testserver"


def auth_settings(home, issuer: str, **extra) -> AuthSettings:
    return AuthSettings(
        accounts=str(home / "accounts.sqlite"),
        audit_log=home / "audit.log",
        argon2_time_cost=1,
        argon2_memory_cost=8,
        argon2_parallelism=1,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_admin_roles=["gis-admin"],
        oidc_http_timeout_s=3,
        **extra,
    )


def client_for(sample_settings, auth: AuthSettings) -> TestClient:
    """The app (in process: the provider is the real server here) at http://testserver."""
    app = create_app(sample_settings.model_copy(update={"public_url": BASE}), auth)
    return TestClient(app, base_url=BASE, follow_redirects=False, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def providers():
    """Both providers of the module, started once; stopped at its end."""
    started = {cls: cls() for cls in (MockProvider, ScriptedProvider)}
    yield started
    for provider in started.values():
        provider.stop()


@pytest.fixture(scope="module")
def provider(providers) -> MockProvider:
    return providers[MockProvider]


@pytest.fixture(scope="module")
def scripted(providers) -> ScriptedProvider:
    return providers[ScriptedProvider]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("sso")


@pytest.fixture(scope="module")
def apps(sample_settings, providers, home):
    """The app over each provider."""
    with (
        client_for(sample_settings, auth_settings(home, providers[MockProvider].url)) as mock,
        client_for(sample_settings, auth_settings(home, providers[ScriptedProvider].url)) as scripted,
    ):
        yield {MockProvider: mock, ScriptedProvider: scripted}


@pytest.fixture(scope="module")
def sso_app(apps) -> TestClient:
    return apps[MockProvider]


@pytest.fixture(scope="module")
def scripted_client(apps) -> TestClient:
    return apps[ScriptedProvider]


@pytest.fixture
def client(sso_app):
    sso_app.cookies.clear()  # every test is a new browser
    return sso_app


def authorization_url(client: TestClient) -> str:
    response = client.get("/auth/oidc/login")
    assert response.status_code == 303, response.text
    return response.headers["location"]


def at_provider(url: str, **form: str) -> str:
    """What the browser does at the provider's form (choose an identity, or deny): the
    callback URL the provider redirects to."""
    answer = httpx.post(url, data=form, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(client: TestClient, sub: str) -> httpx.Response:
    return client.get(at_provider(authorization_url(client), sub=sub))


def test_sign_in_ends_in_a_staff_session_with_the_claimed_departments(client, home):
    url = authorization_url(client)
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{BASE}/auth/oidc/callback"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["scope"] == ["openid profile email"] and query["nonce"][0] != query["state"][0]
    # RFC 7636 4.2: the challenge is BASE64URL(SHA-256(verifier)) of the verifier kept for the callback.
    with sqlite3.connect(home / "accounts.sqlite") as db:
        (verifier,) = db.execute(
            "SELECT verifier FROM sso_logins WHERE state_digest = ?", (tokens.digest(query["state"][0]),)
        ).fetchone()
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == [expected] and 43 <= len(verifier) <= 128
    callback = client.get(at_provider(url, sub="tanaka"))
    assert callback.status_code == 303, callback.text
    assert callback.headers["location"] == f"{BASE}/?staff=sso"
    set_cookie = callback.headers.get_list("set-cookie")
    assert any(c.startswith("tsukuba_gis_session=") and "HttpOnly" in c for c in set_cookie)
    assert any(c.startswith("tsukuba_gis_sso=") and "Max-Age=0" in c for c in set_cookie)  # used up
    me = client.get("/auth/me").json()
    assert (me["user"], me["role"], me["auth"], me["departments"]) == (
        "tanaka",
        "staff",
        "session",
        ["disaster"],
    )
    assert client.get("/internal/viewer-config.json").status_code == 200
    lines = [json.loads(line) for line in (home / "audit.log").read_text().splitlines()]
    login = [line for line in lines if line["event"] == "login" and line["user"] == "tanaka"][-1]
    assert (login["auth"], login["role"], login["departments"]) == ("oidc", "staff", ["disaster"])
    assert login["query"].startswith("code=%5Bredacted%5D&")  # the code never reaches a log
    # A password-less account: no password opens it; the CLI shows it as an SSO account.
    assert (
        client.post("/auth/login", json={"username": "tanaka", "password": SSO_PASSWORD}).status_code == 401
    )
    env = {"TSUKUBA_GIS_AUTH_ACCOUNTS": str(home / "accounts.sqlite")}
    listed = CliRunner().invoke(cli, ["users", "list"], env=env).stdout.splitlines()
    columns = [line.split("\t") for line in listed if line.startswith("tanaka\t")]
    assert [c[:3] + c[4:5] for c in columns] == [["tanaka", "staff", "disaster", "sso"]]


def test_an_admin_role_claim_gives_admin(client):
    assert sign_in(client, "kimura").status_code == 303
    assert client.get("/auth/me").json()["role"] == "admin"


def test_the_methods_say_whether_sso_is_offered(client, sample_settings, home):
    assert client.get("/auth/methods").json() == {"password": True, "sso": True}
    plain = AuthSettings(accounts=str(home / "plain.sqlite"), audit_log=home / "plain.log")
    with client_for(sample_settings, plain) as without:
        assert without.get("/auth/methods").json() == {"password": True, "sso": False}
        missing = without.get("/auth/oidc/login")
        assert missing.status_code == 404 and missing.json()["code"] == "NotFound"


def test_a_forged_state_or_another_browser_is_refused(client):
    url = authorization_url(client)
    code = parse_qs(urlsplit(at_provider(url, sub="tanaka")).query)["code"][0]
    forged = client.get("/auth/oidc/callback", params={"code": code, "state": "forged"})
    assert forged.status_code == 400 and forged.json()["code"] == "InvalidParameterValue"
    state = parse_qs(urlsplit(url).query)["state"][0]
    with TestClient(client.app, base_url=BASE, follow_redirects=False) as other_browser:
        refused = other_browser.get("/auth/oidc/callback", params={"code": code, "state": state})
    assert refused.status_code == 400 and "not started in this browser" in refused.json()["description"]
    assert client.get("/auth/me").status_code == 401


def test_a_replayed_callback_or_code_is_refused(client):
    callback = at_provider(authorization_url(client), sub="tanaka")
    assert client.get(callback).status_code == 303
    client.cookies.clear()
    # Even with the state's cookie sent again (the callback had deleted it), the state worked once.
    state = parse_qs(urlsplit(callback).query)["state"][0]
    again = client.get(callback, headers={"Cookie": f"tsukuba_gis_sso={state}"})
    assert again.status_code == 400 and "sign in again" in again.json()["description"]
    # The used code with a fresh sign-in of this browser: the provider refuses it.
    state = parse_qs(urlsplit(authorization_url(client)).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    replay = client.get("/auth/oidc/callback", params={"code": code, "state": state})
    assert replay.status_code == 401, replay.text
    assert replay.json()["code"] == "InvalidCredentials" and "invalid_grant" in replay.json()["description"]
    assert client.get("/auth/me").status_code == 401


def test_an_id_token_of_another_sign_in_is_refused(client):
    url = authorization_url(client)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    other = parts._replace(query=urlencode({**query, "nonce": "another sign-in"})).geturl()
    refused = client.get(at_provider(other, sub="tanaka"))
    assert refused.status_code == 401 and "nonce" in refused.json()["description"]


def test_a_user_without_a_staff_role_gets_403(client):
    refused = sign_in(client, "nakamura")
    assert (
        refused.status_code == 403 and refused.json()["description"] == "this account has no staff role here"
    )
    assert client.get("/auth/me").status_code == 401


def test_denied_at_the_provider_is_a_clear_page(client):
    callback = at_provider(authorization_url(client), action="deny")
    page = client.get(callback, headers={"Accept": "text/html"})
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "ログインできませんでした" in page.text and "access_denied" in page.text


def test_a_local_account_is_not_taken_over(client, sso_app):
    sso_app.app.state.authenticator.store.add_user("yamada", "staff", "$argon2id$not-a-real-hash")
    refused = sign_in(client, "yamada")
    assert refused.status_code == 403 and "local account" in refused.json()["description"]


def scripted_callback(
    client: TestClient, provider: ScriptedProvider, nonce: str | None = None
) -> httpx.Response:
    """A sign-in whose token endpoint answers with the provider's scripted ID token."""
    client.cookies.clear()
    query = parse_qs(urlsplit(authorization_url(client)).query)
    provider.nonce = query["nonce"][0] if nonce is None else nonce
    return client.get("/auth/oidc/callback", params={"code": "c", "state": query["state"][0]})


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"aud": "another-client"}, "audience"),
        ({"iss": "http://127.0.0.1:1"}, "issuer"),
        ({"exp": 1_000_000_000}, "expired"),
        ({"azp": "another-client", "aud": [CLIENT_ID, "another-client"]}, "azp"),
    ],
)
def test_an_id_token_for_someone_else_is_refused(scripted_client, scripted, claims, says):
    scripted.claims = claims
    try:
        refused = scripted_callback(scripted_client, scripted)
    finally:
        scripted.claims = {}
    assert refused.status_code == 401, refused.text
    assert says in refused.json()["description"].lower()


def test_the_scripted_token_itself_is_accepted(scripted_client, scripted):
    assert scripted_callback(scripted_client, scripted).status_code == 303
    assert scripted_callback(scripted_client, scripted, nonce="stale").status_code == 401


def test_a_wrong_client_secret_is_503_not_the_users_fault(scripted_client, scripted, caplog):
    scripted.token_error = "invalid_client"
    try:
        refused = scripted_callback(scripted_client, scripted)
    finally:
        scripted.token_error = ""
    assert refused.status_code == 503 and refused.json()["code"] == "ServiceUnavailable"
    assert "check the client id and secret" in caplog.text


def test_an_unreachable_provider_is_503_with_a_clear_message(
    sample_settings, home, scripted_client, scripted
):
    with client_for(sample_settings, auth_settings(home, f"http://127.0.0.1:{free_port()}")) as down:
        refused = down.get("/auth/oidc/login")
        assert refused.status_code == 503 and refused.headers["retry-after"]
        assert "identity provider cannot be reached" in refused.json()["description"]
        page = down.get("/auth/oidc/login", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "identity provider cannot be reached" in page.text
    # Down between the login and the callback: the token endpoint cannot be reached.
    scripted_client.cookies.clear()
    state = parse_qs(urlsplit(authorization_url(scripted_client)).query)["state"][0]
    scripted.stop()
    refused = scripted_client.get("/auth/oidc/callback", params={"code": "c", "state": state})
    assert refused.status_code == 503 and refused.json()["code"] == "ServiceUnavailable"


@pytest.fixture(params=["sqlite", "postgresql"])
def account_store(request, tmp_path):
    if request.param == "sqlite":
        return open_account_store(str(tmp_path / "accounts.sqlite"))
    return open_account_store(schema_url(request.getfixturevalue("postgis_test_db")))


def test_both_stores_keep_sso_logins_once_and_never_take_over_local_accounts(account_store):
    store = account_store
    store.add_sso_login(SSOLogin(tokens.digest("s1"), "v" * 86, "n1", 4e9))
    store.add_sso_login(SSOLogin(tokens.digest("old"), "v", "n", 1.0))
    assert store.take_sso_login(tokens.digest("s1"), 2e9) == SSOLogin(
        tokens.digest("s1"), "v" * 86, "n1", 4e9
    )
    assert store.take_sso_login(tokens.digest("s1"), 2e9) is None  # once
    assert store.take_sso_login(tokens.digest("old"), 2e9) is None  # expired (and dropped)
    made = store.sync_sso_user("tanaka", "staff", ["disaster"])
    assert (made.role, made.departments, made.password_hash) == ("staff", ("disaster",), SSO_PASSWORD)
    changed = store.sync_sso_user("tanaka", "admin", [])
    assert (changed.role, changed.departments, changed.created) == ("admin", (), made.created)
    store.add_user("yamada", "staff", "$argon2id$local")
    assert store.sync_sso_user("yamada", "admin", []) is None
    assert store.get_user("yamada").role == "staff"
