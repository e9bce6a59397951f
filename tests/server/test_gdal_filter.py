"""GDAL's ``-where`` reaches the server as one CQL2 request (server log), on both stores.

GDAL (3.12 inside pyogrio; Debian's ogr2ogr 3.6 when installed) reads the items operation's
``filter-lang`` enum in /api/openapi and then sends the attribute filter as CQL text.
"""

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote

import httpx
import pyogrio
import pytest

WHERE = "name LIKE '%小学校%'"


def _items_requests(log: Path, since: int) -> list[str]:
    time.sleep(0.2)  # the access log line is written after the answer
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[since:]
    return [unquote(line) for line in lines if "/collections/shelters/items" in line]


def _log(server) -> Path:
    return Path(server.log.name)


def _expected(server) -> list[str]:
    page = httpx.get(f"{server.url}/api/collections/shelters/items", params={"limit": 1000}).json()
    return sorted(
        f["properties"]["common_id"] for f in page["features"] if "小学校" in f["properties"]["name"]
    )


def test_pyogrio_where_is_one_filtered_request(each_live_server):
    log = _log(each_live_server)
    since = len(log.read_text(encoding="utf-8", errors="replace").splitlines())
    url = f"OAPIF:{each_live_server.url}/api/collections/shelters"
    frame = pyogrio.read_dataframe(url, where=WHERE)
    requests = _items_requests(log, since)
    assert sorted(frame["common_id"]) == _expected(each_live_server)
    filtered = [r for r in requests if "filter=" in r]
    assert len(filtered) == 1 and "name LIKE '%小学校%'" in filtered[0]
    # Besides it only the first page GDAL reads for the schema: never the whole layer.
    assert len(requests) <= 2 and all("offset=" not in r for r in requests)


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="Debian gdal-bin (make test-deps) not installed")
def test_ogr2ogr_where_is_one_filtered_request(each_live_server, tmp_path):
    log = _log(each_live_server)
    since = len(log.read_text(encoding="utf-8", errors="replace").splitlines())
    out = tmp_path / "schools.gpkg"
    source = f"OAPIF:{each_live_server.url}/api/collections/shelters"
    subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(out), source, "-oo", "PAGE_SIZE=1000", "-where", WHERE],
        check=True,
        timeout=60,
        capture_output=True,
    )
    filtered = [r for r in _items_requests(log, since) if "filter=" in r]
    assert sorted(pyogrio.read_dataframe(out)["common_id"]) == _expected(each_live_server)
    assert len(filtered) == 1 and "name LIKE '%小学校%'" in filtered[0]
