"""Staff mode in the viewer: log in, see the internal layer, log out back to the public view."""

import pytest
from click.testing import CliRunner
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
