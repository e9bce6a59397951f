"""The OpenAPI document is the contract: valid, self-contained, and what the server really does.

openapi-spec-validator checks the document; schemathesis (its CLI, against the real server)
generates requests for every documented operation and checks that no answer is a server
error and that every status, media type and body is the documented one. Bounded: a few
examples per operation and a time budget per API, fixed seed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from openapi_spec_validator import OpenAPIV30SpecValidator

from tsukuba_gis.cli.main import cli

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
BUDGET_S = 30
CHEAP_ARGON2 = {
    "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
    "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "8",
    "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
}


def _refs(node) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _schemathesis(url: str, tmp_path: Path, headers: dict[str, str] | None = None) -> None:
    st = Path(sys.executable).parent / "st"
    command = [str(st), "run", f"{url}/openapi?f=json", "--url", url, "--checks", CHECKS]
    command += ["--max-examples", "3", "--max-time", str(BUDGET_S), "--seed", "14", "--workers", "2"]
    command += ["--phases", "examples,coverage,fuzzing", "--no-color", "--report-dir", str(tmp_path)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_PROXY": "127.0.0.1"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=BUDGET_S + 120, env=env, cwd=tmp_path
    )
    summary = done.stdout[-3000:]
    failed = [line.strip() for line in done.stdout.splitlines() if "curl -X" in line or "[5" in line]
    assert done.returncode == 0, "\n".join(failed) + summary
    assert "generated" in summary and " passed" in summary


WRITES = {"post", "put", "patch", "delete", "options"}
EDITABLE = (
    "/collections/shelters/",
    "/collections/road_areas/",
    "/collections/reports/",
)  # editable: in layers/


def _validated(document: dict, writes: bool = False) -> None:
    errors = [str(e).splitlines()[0] for e in OpenAPIV30SpecValidator(document).iter_errors()]
    assert errors == []
    assert all(ref.startswith("#/components/") for ref in _refs(document))
    for path, item in document["paths"].items():
        if writes and (path + "/").startswith(EDITABLE):  # the staff side writes editable layers only
            assert "get" in set(item) and set(item) <= {"get"} | WRITES, path
        else:
            assert set(item) == {"get"}, path  # the public side only reads: no POST, no OPTIONS


def test_public_openapi_is_valid_and_self_contained(each_live_server):
    document = httpx.get(f"{each_live_server.url}/api/openapi", params={"f": "json"}).json()
    _validated(document)
    items = document["paths"]["/collections/shelters/items"]["get"]
    names = {p.get("name") for p in items["parameters"]}
    assert {"filter", "filter-lang", "filter-crs", "crs", "bbox-crs", "name"} <= names
    assert {"$ref": "#/components/parameters/bbox"} in items["parameters"]
    crs = next(p for p in items["parameters"] if p.get("name") == "crs")
    assert "http://www.opengis.net/def/crs/EPSG/0/6677" in crs["schema"]["enum"]
    assert "application/geo+json" in items["responses"]["200"]["content"]
    assert "shelters_staff" not in json.dumps(document)


def test_schemathesis_public(each_live_server, tmp_path):
    _schemathesis(f"{each_live_server.url}/api", tmp_path)


@pytest.fixture(scope="module")
def staff_server(sample_data_dir, tmp_path_factory):
    from liveserver import LiveServer

    home = tmp_path_factory.mktemp("contract-staff")
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(sample_data_dir),
        "TSUKUBA_GIS_AUTH_ACCOUNTS": str(home / "accounts.sqlite"),
        "TSUKUBA_GIS_AUTH_AUDIT_LOG": str(home / "audit.log"),
        **CHEAP_ARGON2,
    }
    runner = CliRunner()
    added = runner.invoke(
        cli, ["users", "add", "suzuki", "--password-stdin"], env=env, input="tsukuba 2025 gis\n"
    )
    assert added.exit_code == 0, added.output
    made = runner.invoke(cli, ["tokens", "create", "suzuki", "--name", "schemathesis"], env=env)
    assert made.exit_code == 0, made.output
    server = LiveServer(sample_data_dir, env)
    yield server, made.stdout.strip()
    server.stop()


def test_schemathesis_staff_with_a_token(staff_server, tmp_path):
    server, token = staff_server
    headers = {"Authorization": f"Bearer {token}"}
    document = httpx.get(f"{server.url}/internal/api/openapi", params={"f": "json"}, headers=headers).json()
    _validated(document, writes=True)
    assert "/collections/shelters_staff/items" in document["paths"]
    assert "post" in document["paths"]["/collections/shelters/items"]
    _schemathesis(f"{server.url}/internal/api", tmp_path, headers)
