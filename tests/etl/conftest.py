"""Fixtures of the ETL tests: a throwaway project per test (see handover.py)."""

import pytest
from handover import Project


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path)
