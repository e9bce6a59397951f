"""A real ``tsukuba-gis serve`` on a free loopback port, the bounded waits it needs, and browser
contexts that reach nothing but loopback.

Imported by tests/conftest.py's fixtures and by tests that start their own server
(``from liveserver import LiveServer``: ``conftest`` is ambiguous with several conftest files).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tsukuba_gis.settings import PROJECT_ROOT


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers 200, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError as err:
            last = err
        time.sleep(0.05)  # a refused connection costs nothing; a start is seen sooner
    raise TimeoutError(f"{url} did not answer within {timeout} s ({last})")


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class LiveServer:
    """A ``tsukuba-gis serve`` process on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        timeout: float = 30.0,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cli = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
        environ = {**os.environ, "TSUKUBA_GIS_DATA_DIR": str(data_dir), **(env or {})}
        environ.pop("TSUKUBA_GIS_PUBLIC_URL", None)
        self.log = open(data_dir / f"server-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [cli, "serve", "--port", str(self.port), *args],
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )
        try:
            wait_http(f"{self.url}/health", timeout)
        except TimeoutError:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate the server (kill if it does not stop within 10 s)."""
        stop_process(self.process)
        self.log.close()


def offline_context(browser, **kwargs):
    """A browser context (``kwargs``: viewport, locale, ...) whose requests to any host but the
    test server's loopback are refused: the tests stay offline (no base map tiles)."""
    context = browser.new_context(**kwargs)
    context.route(
        "**/*",
        lambda route: (
            route.abort()
            if not route.request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else route.continue_()
        ),
    )
    return context
