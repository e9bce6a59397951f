"""Fixtures of the viewer's browser tests: the bundle, what the server publishes, and a page that
fails its test on any uncaught error or console error (see viewerpage.PageErrors)."""

import os
import shutil
import subprocess

import httpx
import pytest
from viewerpage import PageErrors

from tsukuba_gis.settings import PROJECT_ROOT

VIEWER = PROJECT_ROOT / "viewer"
BUILD = VIEWER / "public" / "build"


def _newest_source_mtime() -> float:
    sources = [*VIEWER.joinpath("src").rglob("*"), *VIEWER.glob("package*.json")]
    return max(path.stat().st_mtime for path in sources if path.is_file())


@pytest.fixture(scope="session", autouse=True)
def viewer_build():
    """The bundle the server serves, rebuilt (esbuild, ~0.1 s) when older than the sources."""
    bundle = BUILD / "index.js"
    if bundle.exists() and bundle.stat().st_mtime >= _newest_source_mtime():
        return bundle
    npm = shutil.which("npm")
    if not npm or not (VIEWER / "node_modules" / ".bin" / "esbuild").exists():
        pytest.fail("the viewer is not built: run `make install` (npm ci && npm run build)")
    subprocess.run(
        [npm, "run", "build"],
        cwd=VIEWER,
        check=True,
        timeout=120,
        env={**os.environ, "npm_config_update_notifier": "false"},
    )
    return bundle


@pytest.fixture(scope="module")
def api(live_server):
    """What the server publishes: the viewer config and the OGC collections."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        config = client.get("/viewer-config.json").json()
        collections = client.get("/api/collections", params={"f": "json"}).json()["collections"]
        shelters = client.get("/api/collections/shelters/items", params={"f": "json", "limit": 1000}).json()
    return {"config": config, "collections": collections, "shelters": shelters}


@pytest.fixture
def page_errors():
    """The uncaught and console errors of the test's page; ``allow(pattern)`` the expected ones."""
    return PageErrors()


@pytest.fixture
def page(page, page_errors):
    """tests/conftest.py's page (external hosts blocked), failing the test on any page error."""
    page_errors.watch(page)
    yield page
    page_errors.check()
