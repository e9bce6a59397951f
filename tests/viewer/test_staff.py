"""Staff mode in the viewer: log in (password or SSO), see the internal layer, log out back to the
public view."""

import pytest
from click.testing import CliRunner
from oidcprovider import CLIENT_ID, CLIENT_SECRET, MockProvider
from viewerpage import WAIT_MS, checkbox, open_viewer

from tsukuba_gis.cli.main import cli

pytestmark = pytest.mark.browser

PASSWORD = "tsukuba-express 2005"
# argon2 at its cheapest (as tests/server/test_auth.py): the test is about the viewer.
ARGON2 = {
    "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
    "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "16384",
    "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
}


@pytest.fixture(scope="module")
def staff_server(sample_data_dir, live_server, tmp_path_factory):
    """A server with one staff account (its own account store and audit log)."""
    home = tmp_path_factory.mktemp("viewer-auth")
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(sample_data_dir),
        "TSUKUBA_GIS_AUTH_ACCOUNTS": str(home / "accounts.sqlite"),
        "TSUKUBA_GIS_AUTH_AUDIT_LOG": str(home / "audit.log"),
        **ARGON2,
    }
    result = CliRunner().invoke(
        cli, ["users", "add", "suzuki", "--password-stdin"], env=env, input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    server = type(live_server)(sample_data_dir, env)  # tests/conftest.py LiveServer
    yield server
    server.stop()


def log_in(page, password: str) -> None:
    page.click(".tg-staff-login")
    page.fill('.tg-dialog input[name="username"]', "suzuki")
    page.fill('.tg-dialog input[name="password"]', password)
    page.click('.tg-dialog button[type="submit"]')


def test_staff_log_in_see_internal_layers_and_log_out(page, staff_server, page_errors):
    page_errors.allow("status of 401")  # the wrong password, answered as such
    open_viewer(page, staff_server)
    assert page.locator('.tg-layer[data-layer="shelters_staff"]').count() == 0
    log_in(page, "wrong password 123")
    page.wait_for_selector(".tg-dialog .tg-error:not(:empty)", timeout=WAIT_MS)
    assert "違います" in page.inner_text(".tg-dialog .tg-error")
    page.fill('.tg-dialog input[name="password"]', PASSWORD)
    with page.expect_navigation(timeout=WAIT_MS):
        page.click('.tg-dialog button[type="submit"]')
    page.wait_for_selector('.tg-layer[data-layer="shelters_staff"]', state="attached", timeout=WAIT_MS)
    assert "suzuki" in page.inner_text(".tg-staff-mode")
    page.click("#tg-tab-layers")
    page.check(checkbox("shelters_staff"))
    page.wait_for_selector("path.tg-layer-shelters_staff", state="attached", timeout=WAIT_MS)
    # Logging out returns to the public view.
    with page.expect_navigation(timeout=WAIT_MS):
        page.click(".tg-staff button")
    page.wait_for_selector(".tg-staff-login", timeout=WAIT_MS)
    assert page.locator('.tg-layer[data-layer="shelters_staff"]').count() == 0


@pytest.fixture(scope="module")
def sso_server(sample_data_dir, live_server, tmp_path_factory):
    """A server whose staff sign in at a real OpenID provider on loopback (tests/oidcprovider.py)."""
    provider = MockProvider()
    home = tmp_path_factory.mktemp("viewer-sso")
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(sample_data_dir),
        "TSUKUBA_GIS_AUTH_ACCOUNTS": str(home / "accounts.sqlite"),
        "TSUKUBA_GIS_AUTH_AUDIT_LOG": str(home / "audit.log"),
        "TSUKUBA_GIS_AUTH_OIDC_ISSUER": provider.url,
        "TSUKUBA_GIS_AUTH_OIDC_CLIENT_ID": CLIENT_ID,
        "TSUKUBA_GIS_AUTH_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        **ARGON2,
    }
    try:
        server = type(live_server)(sample_data_dir, env)
        yield server
        server.stop()
    finally:
        provider.stop()


def test_sso_login_at_the_provider_lands_in_staff_mode(page, sso_server, page_errors):
    page_errors.allow("pico")  # the provider's page asks a CDN for its style sheet (blocked: offline)
    open_viewer(page, sso_server)
    page.click(".tg-staff-login")
    page.wait_for_selector(".tg-sso-login:not([hidden])", timeout=WAIT_MS)
    assert page.inner_text(".tg-sso-login") == "統合認証でログイン"
    with page.expect_navigation(timeout=WAIT_MS):
        page.click(".tg-sso-login")
    # The provider's own page: choose the identity (a city's Entra ID would ask for a password).
    page.click('button[name="sub"][value="tanaka"]')
    page.wait_for_url(f"{sso_server.url}/*", timeout=WAIT_MS)
    page.wait_for_selector('.tg-layer[data-layer="shelters_staff"]', state="attached", timeout=WAIT_MS)
    assert "tanaka" in page.inner_text(".tg-staff-mode")
    assert "staff=sso" not in page.url  # the landing mark is gone from the address bar
    page.click("#tg-tab-layers")
    page.check(checkbox("shelters_staff"))
    page.wait_for_selector("path.tg-layer-shelters_staff", state="attached", timeout=WAIT_MS)
    # A reload stays in staff mode, as after a password login.
    page.reload()
    page.wait_for_selector('.tg-layer[data-layer="shelters_staff"]', state="attached", timeout=WAIT_MS)


def test_the_dialog_offers_no_sso_where_it_is_not_configured(page, staff_server):
    open_viewer(page, staff_server)
    page.click(".tg-staff-login")
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/auth/methods'))",
        timeout=WAIT_MS,
    )
    assert page.locator(".tg-sso-login").is_hidden()
