"""``/metrics`` of a real server, scraped with prometheus-client's own text parser, on both stores."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from minicity import MiniCity, loaded_city
from prometheus_client.parser import text_string_to_metric_families

from tsukuba_gis.settings import PROJECT_ROOT


def _samples(text: str) -> list:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples: list, name: str, **labels: str) -> float:
    found = [
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert found, (name, labels)
    return sum(found)


def _token(city: MiniCity) -> str:
    exe = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
    env = {**os.environ, **city.env}
    run = {"env": env, "capture_output": True, "text": True, "cwd": PROJECT_ROOT, "timeout": 60}
    subprocess.run(
        [exe, "users", "add", "ito", "--password-stdin"], input="a long enough password 1\n", **run
    )
    return subprocess.run([exe, "tokens", "create", "ito"], **run).stdout.strip()


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def city_token(request, tmp_path_factory) -> tuple[MiniCity, str]:
    """A city and a staff token: each test serves it with settings of its own."""
    city = loaded_city(request, tmp_path_factory.mktemp(f"metrics-{request.param}"), 30)
    return city, _token(city)


def test_metrics_count_route_templates_store_time_and_loads(city_token, start_server):
    city, token = city_token
    server = start_server(city.data_dir, {**city.env, "TSUKUBA_GIS_METRICS_ALLOW_FROM": "127.0.0.1"})
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for fid in ("S0000001", "S0000002", "S0000003"):
            assert client.get(f"/api/collections/sites/items/{fid}", params={"f": "json"}).status_code == 200
        assert client.get("/api/collections/sites/items", params={"limit": 5}).status_code == 200
        assert client.get("/no/such/thing/12345").status_code == 404
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/internal/api/collections/sites/items", headers=headers).status_code == 200
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    total = "tsukuba_gis_http_requests_total"
    item = "/api/collections/{collection_id}/items/{item_id}"
    assert _value(samples, total, route=item, method="GET", status="200") == 3  # one series, not three
    assert _value(samples, total, route="unmatched", status="404") == 1
    assert not [s for s in samples if "12345" in str(s.labels) or "S0000001" in str(s.labels)]
    staff = "/internal/api/collections/{collection_id}/items"
    assert _value(samples, total, route=staff, status="200") == 1
    latency = "tsukuba_gis_http_request_duration_seconds_count"
    assert _value(samples, latency, route="/api/collections/{collection_id}/items") == 1
    assert _value(samples, "tsukuba_gis_store_seconds_count", operation="get") == 3
    assert _value(samples, "tsukuba_gis_store_seconds_count", operation="query") >= 2
    assert _value(samples, "tsukuba_gis_store_seconds_sum", operation="query") > 0
    assert _value(samples, "tsukuba_gis_layer_features", layer="sites") == 30
    assert _value(samples, "tsukuba_gis_layer_version", layer="sites") == 1
    assert _value(samples, "tsukuba_gis_layer_rejected", layer="sites") == 0


def test_metrics_answer_staff_and_the_allowed_address_only(city_token, start_server):
    city, token = city_token
    server = start_server(city.data_dir, {**city.env, "TSUKUBA_GIS_METRICS_ALLOW_FROM": "192.0.2.0/24"})
    with httpx.Client(base_url=server.url, timeout=30) as client:
        anonymous = client.get("/metrics")
        assert anonymous.status_code == 404
        assert anonymous.json()["code"] == "NotFound" and "sites" not in anonymous.text
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 404
        staff = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert staff.status_code == 200
    assert _value(_samples(staff.text), "tsukuba_gis_layer_features", layer="sites") == 30


def test_json_log_lines_from_the_server_and_its_access_log(tmp_path, start_server):
    city = MiniCity(tmp_path)
    city.hand_over(5, "A")
    city.etl()
    server = start_server(city.data_dir, {**city.env, "TSUKUBA_GIS_LOG_FORMAT": "json"})
    assert httpx.get(f"{server.url}/api/collections/sites/items/S0000002", timeout=30).status_code == 200
    server.stop()
    lines = [
        json.loads(line) for line in Path(server.log.name).read_text(encoding="utf-8").splitlines() if line
    ]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any("/api/collections/sites/items/S0000002" in line["message"] for line in access), access


def test_the_grafana_dashboard_asks_only_for_metrics_the_server_exports():
    from prometheus_client import REGISTRY

    import server.metrics  # noqa: F401 (registers the metrics)

    dashboard = json.loads((PROJECT_ROOT / "docs/grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    asked = {m for e in exprs for m in re.findall(r"tsukuba_gis_[a-z_]+", e)}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    exported = {
        f"{family.name}{suffix}"
        for family in REGISTRY.collect()
        if family.name.startswith("tsukuba_gis")
        for suffix in suffixes.get(family.type, ("",))
    }
    exported |= {
        f"tsukuba_gis_layer_{n}" for n in ("version", "features", "rejected", "load_duration_seconds")
    }
    assert asked and asked <= exported, asked - exported
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
