"""``tsukuba-gis serve``: uvicorn with httptools and uvloop, never h11, workers as asked."""

import importlib.util
import os

import uvicorn
from click.testing import CliRunner

from tsukuba_gis.cli.main import cli


def test_serve_runs_httptools_and_uvloop_workers(monkeypatch, sample_data_dir):
    calls, publishers = [], []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    # serve exports the public URL and the metrics directory for its workers: a copy of the
    # environment to change, or every server a later test starts would share one metrics directory.
    monkeypatch.setattr(os, "environ", dict(os.environ))
    # the open-data publisher of live layers is a thread of the serving process, not of pytest's
    monkeypatch.setattr("etl.publish.live.start", publishers.append)
    monkeypatch.setenv("TSUKUBA_GIS_DATA_DIR", str(sample_data_dir))
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--workers", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ((args, kwargs),) = calls
    assert len(publishers) == 1 and os.environ["PROMETHEUS_MULTIPROC_DIR"]
    # Plain h11 workers stalled keep-alive connections under wrk on these machines.
    # httptools (our subclass adds a per-request deadline against slow clients: server/protocol.py).
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert issubclass(kwargs["http"], HttpToolsProtocol) and kwargs["loop"] == "uvloop"
    assert kwargs["workers"] == 3 and args == ("server.main:app",)


def test_httptools_and_uvloop_are_installed():
    for name in ("httptools", "uvloop"):  # uvicorn[standard]; without them uvicorn falls back
        assert importlib.util.find_spec(name) is not None, name


def test_a_missing_extra_is_named(monkeypatch, sample_data_dir):
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if tsukuba-gis[server] were not installed
    monkeypatch.setenv("TSUKUBA_GIS_DATA_DIR", str(sample_data_dir))
    result = CliRunner().invoke(cli, ["serve", "--port", "8123"])
    assert result.exit_code == 1
    assert "'server' extra" in result.output and "pip install 'tsukuba-gis[server]'" in result.output
