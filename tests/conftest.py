"""Shared fixtures: a store loaded from the real sample sources, a real server, a real browser.

Everything runs on 127.0.0.1; every wait loop is bounded.
"""

import importlib.util
import itertools
import json
from pathlib import Path

import pytest
from liveserver import LiveServer, free_port, offline_context, wait_http  # noqa: F401 (fixtures' helpers)

from tsukuba_gis.settings import PROJECT_ROOT, Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def sample_data_dir(tmp_path_factory) -> Path:
    """A data directory with every sample layer loaded once for the whole session."""
    from etl.runner import run_etl

    data_dir = tmp_path_factory.mktemp("data")
    report = run_etl(Settings(data_dir=data_dir), quiet=True)
    assert report.ok, [(r.layer_id, r.error) for r in report.layers if r.status == "failed"]
    _keep_report(data_dir)
    return data_dir


# The report.json each sample store's ETL wrote, by data directory: a test that runs the ETL
# again on a sample store (test_samples.py) rewrites the file, whatever order the tests run in.
_FIRST_REPORTS: dict[Path, dict] = {}


def _keep_report(data_dir: Path) -> None:
    _FIRST_REPORTS[data_dir] = json.loads((data_dir / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def each_sample_report(each_sample_settings) -> dict:
    """The report.json of the session's ETL run over each sample store."""
    return _FIRST_REPORTS[each_sample_settings.data_dir]


@pytest.fixture(scope="session")
def sample_settings(sample_data_dir) -> Settings:
    """Settings pointing at the loaded sample store."""
    return Settings(data_dir=sample_data_dir)


@pytest.fixture(scope="session")
def live_server(sample_data_dir):
    """The real server over the sample store, for the whole session."""
    server = LiveServer(sample_data_dir)
    yield server
    server.stop()


@pytest.fixture
def start_server():
    """Start ``tsukuba-gis serve`` processes (data dir, more environment); stopped at the end."""
    servers: list[LiveServer] = []

    def start(
        data_dir: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = (), timeout: float = 30.0
    ) -> LiveServer:
        servers.append(LiveServer(data_dir, env, args, timeout))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


class AppClient:
    """Starlette's TestClient over ``create_app`` of one sample store: the server in this process.

    For tests of what the routes answer, where a separate server process adds nothing but its
    start-up (the process boundary, workers, signals and the real socket have their own tests).

    Attributes:
        client: the TestClient (an httpx.Client; base URL ``http://testserver``).
        url: that base URL, as ``LiveServer.url``.
    """

    def __init__(self, settings: Settings):
        from fastapi.testclient import TestClient

        from server.app import create_app

        self.url = "http://testserver"
        app = create_app(settings.model_copy(update={"public_url": self.url}))
        self.client = TestClient(app, base_url=self.url, raise_server_exceptions=False)
        self.client.__enter__()  # the lifespan: first snapshots built, store closed at the end

    def close(self) -> None:
        """Run the app's shutdown."""
        self.client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def app_client(sample_settings):
    """The app over the GeoPackage sample store, in-process, for the whole session."""
    app = AppClient(sample_settings)
    yield app.client
    app.close()


@pytest.fixture(scope="session")
def postgis_app_client(postgis_sample_settings):
    """The app over the PostGIS sample store, in-process, for the whole session."""
    app = AppClient(postgis_sample_settings)
    yield app.client
    app.close()


@pytest.fixture(scope="session", params=["gpkg", "postgis"])
def each_app_client(request):
    """The in-process app on each backend's sample store: a test using it runs once per store."""
    return request.getfixturevalue("app_client" if request.param == "gpkg" else "postgis_app_client")


# Fixtures that make a test slow or need more than Python: ``make test-fast`` leaves them out.
LANE_MARKERS = {
    "postgis": ("postgis", "own_cluster"),
    "browser": ("browser", "page"),
    "live": ("live_server", "each_live_server", "postgis_live_server", "start_server"),
}


def pytest_collection_modifyitems(config, items):
    """Mark each test by what it needs (PostgreSQL, Chromium, a server process)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        for marker, prefixes in LANE_MARKERS.items():
            if any(n.startswith(prefixes) for n in names):
                item.add_marker(marker)
        if "postgis" in params.values() or any("postgis" in n for n in names):
            item.add_marker("postgis")


@pytest.fixture(scope="session")
def postgis_cluster():
    """A throwaway PostgreSQL + PostGIS cluster for the whole session (tests/pgcluster.py)."""
    from pgcluster import Cluster

    cluster = Cluster(free_port())
    cluster.init()
    cluster.start()
    cluster.make_template()
    yield cluster
    cluster.destroy()


@pytest.fixture
def own_cluster():
    """A cluster of this test's own (with the PostGIS template): stopping, crashing or
    restarting it leaves the session's cluster alone."""
    from pgcluster import Cluster

    cluster = Cluster()
    cluster.init()
    cluster.start()
    cluster.make_template()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def postgis_test_db(postgis_cluster) -> str:
    """The database of the store-level tests; each test takes its own schema in it."""
    return postgis_cluster.create_database("stores")


_SCHEMAS = itertools.count()


@pytest.fixture
def postgis_url(postgis_test_db) -> str:
    """A store URL with a fresh schema (an environment) of the test database."""
    return f"{postgis_test_db}?schema=test_{next(_SCHEMAS)}"


@pytest.fixture(scope="session")
def postgis_sample_settings(postgis_cluster, tmp_path_factory) -> Settings:
    """Settings of the sample layers loaded into a PostGIS database, once per session."""
    from etl.runner import run_etl

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("data-postgis"), store=postgis_cluster.create_database("samples")
    )
    report = run_etl(settings, quiet=True)
    assert report.ok, [(r.layer_id, r.error) for r in report.layers if r.status == "failed"]
    _keep_report(settings.data_dir)
    return settings


@pytest.fixture(scope="session")
def postgis_live_server(postgis_sample_settings):
    """The real server over the PostGIS sample store, for the whole session."""
    server = LiveServer(
        postgis_sample_settings.data_dir, env={"TSUKUBA_GIS_STORE": postgis_sample_settings.store}
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def edit_cities(tmp_path_factory):
    """``edit_cities.new(root, cluster)``: a city to edit of its own, copied from one loaded once
    per session and store kind (tests/editcity.py)."""
    from editcity import EditCities

    return EditCities(tmp_path_factory.mktemp("edit-city-templates"))


@pytest.fixture(scope="session", params=["gpkg", "postgis"])
def each_sample_settings(request) -> Settings:
    """The sample store on each backend: a test using it runs once per store."""
    name = "sample_settings" if request.param == "gpkg" else "postgis_sample_settings"
    return request.getfixturevalue(name)


@pytest.fixture(scope="session", params=["gpkg", "postgis"])
def each_live_server(request):
    """The real server on each backend's sample store: a test using it runs once per store."""
    return request.getfixturevalue("live_server" if request.param == "gpkg" else "postgis_live_server")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download cannot work here)."""
    from playwright import sync_api as playwright_api

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-deps` (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser page; external hosts (base map tiles) are blocked: tests stay offline."""
    context = offline_context(browser, viewport={"width": 1280, "height": 800}, locale="ja-JP")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def load_bench():
    """``load_bench(name)``: the module of ``bench/<name>.py``, loaded from its path as
    ``bench_<name>`` (as a module named ``etl`` it would shadow the ETL package)."""

    def load(name: str):
        path = PROJECT_ROOT / "bench" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
