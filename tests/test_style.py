"""The code passes ruff (pyproject.toml's rules) and is ruff-formatted: a style slip fails CI."""

import subprocess
import sys

from tsukuba_gis.settings import PROJECT_ROOT

PACKAGES = ["tsukuba_gis", "etl", "server", "tests", "bench", "tools"]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *PACKAGES],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_finds_nothing():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_changes_nothing():
    result = _ruff("format", "--check")
    assert result.returncode == 0, "run `make format`:\n" + result.stdout + result.stderr
