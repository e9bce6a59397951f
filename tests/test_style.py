"""The code passes ruff (pyproject.toml's rules), so a style slip fails CI, not a review."""

import subprocess
import sys

from tsukuba_gis.settings import PROJECT_ROOT

PACKAGES = ["tsukuba_gis", "etl", "server", "tests", "bench", "tools"]


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *PACKAGES],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
