"""Scale-out: readers during an ETL, several servers on one database, a read DSN, a restart.

Every server here is a real ``tsukuba-gis serve`` process over a MiniCity (tests/minicity.py):
one public point layer whose ``edition`` column says which hand-over a response comes from.
"""

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from minicity import MiniCity, loaded_city
from pgcluster import Cluster

ITEMS = "/api/collections/sites/items"


def _version_of(client: httpx.Client) -> tuple[int, int, frozenset]:
    """(numberMatched, features returned, editions seen) of one full page of the layer."""
    response = client.get(ITEMS, params={"limit": 1000, "f": "json"})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    return (
        body["numberMatched"],
        len(body["features"]),
        frozenset(f["properties"]["edition"] for f in body["features"]),
    )


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the reload interval"
        time.sleep(0.1)


@pytest.fixture(params=["gpkg", "postgis"])
def city(request, tmp_path) -> MiniCity:
    return loaded_city(request, tmp_path, 30)


def test_20_readers_during_an_etl_see_the_old_or_the_new_version_never_a_mix(city, start_server):
    server = start_server(city.data_dir, city.env)
    old, new = (30, 30, frozenset("A")), (50, 50, frozenset("B"))
    seen: Counter = Counter()
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                try:
                    seen[_version_of(client)] += 1
                except BaseException as err:  # noqa: B036 - every failure counts, then stops
                    errors.append(err)
                    return

    readers = [threading.Thread(target=read) for _ in range(20)]
    for reader in readers:
        reader.start()
    _wait_for(lambda: seen[old] >= 20)
    city.hand_over(50, "B")
    city.etl()
    with httpx.Client(base_url=server.url) as client:
        _wait_for(lambda: _version_of(client) == new)
    time.sleep(0.5)
    stop.set()
    for reader in readers:
        reader.join(timeout=30)
    assert not errors, errors[:3]
    assert set(seen) == {old, new}, seen  # nothing else: no mix, no half-loaded version
    assert seen[old] >= 20 and seen[new] >= 20


def _reader_role(cluster: Cluster, database: str, schema: str) -> str:
    """A read-only login for serving (as a hot standby is), also for tables made later."""
    cluster.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tg_replica') THEN"
        " CREATE ROLE tg_replica LOGIN PASSWORD 'replica-pw'; END IF; END $$",
        "ALTER ROLE tg_replica SET default_transaction_read_only = on",
        f"GRANT USAGE ON SCHEMA {schema} TO tg_replica",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO tg_replica",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO tg_replica",
        database=database,
    )
    return cluster.dsn(database, user="tg_replica", password="replica-pw")


def test_two_servers_on_one_database_one_through_a_read_dsn(postgis_cluster, tmp_path, start_server):
    database = "two_servers"
    city = MiniCity(tmp_path, f"{postgis_cluster.create_database(database)}?schema=city")
    city.hand_over(40, "A")
    city.etl()
    reader = _reader_role(postgis_cluster, database, "city")
    with ThreadPoolExecutor(2) as starting:  # both start at once: half the wait
        one, two = starting.map(
            lambda env: start_server(city.data_dir, env),
            [city.env, {**city.env, "TSUKUBA_GIS_STORE_READ": reader}],
        )
    paths = ["/api/collections", "/api/collections/sites", ITEMS, f"{ITEMS}/S0000007"]

    def answers(server) -> list:
        with httpx.Client(base_url=server.url) as client:
            bodies = [client.get(p, params={"f": "json"}).text for p in paths]
        return [b.replace(server.url, "").split('"timeStamp"')[0] for b in bodies]

    assert answers(one) == answers(two)
    city.hand_over(70, "B")
    city.etl()  # through the primary; both servers notice within the reload interval
    for server in (one, two):
        with httpx.Client(base_url=server.url) as client:
            _wait_for(lambda c=client: _version_of(c) == (70, 70, frozenset("B")), timeout=3)
    assert answers(one) == answers(two)


def _timed_get(client: httpx.Client, path: str) -> tuple[int, float]:
    """Status (0: connection reset) and seconds of one request."""
    started = time.monotonic()
    try:
        status = client.get(path).status_code
    except httpx.TransportError:
        status = 0
    return status, time.monotonic() - started


def test_postgresql_restart_under_load_the_server_recovers_by_itself(own_cluster, tmp_path, start_server):
    own_cluster.execute("CREATE DATABASE city")  # no PostGIS yet: the first ETL installs it
    city = MiniCity(tmp_path, own_cluster.dsn("city"))
    city.hand_over(100, "A")
    city.etl()
    server = start_server(city.data_dir, city.env)
    phase = ["up"]
    statuses = {"up": Counter(), "down": Counter(), "back": Counter(), "done": Counter()}

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while phase[0] != "done":
                started_in = phase[0]
                status = _timed_get(client, f"{ITEMS}?limit=50")[0]
                # A request in flight when the phase changed belongs to the outage.
                statuses["down" if phase[0] != started_in else started_in][status] += 1

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        _wait_for(lambda: statuses["up"][200] >= 8)
        phase[0] = "down"
        own_cluster.stop("fast")
        for _ in range(3):  # unhealthy, and says so at once
            status, took = _timed_get(client, "/health")
            assert status == 503 and took < 2.5, (status, took)
        assert _timed_get(client, ITEMS)[0] >= 500
        own_cluster.start()
        _wait_for(lambda: _timed_get(client, "/health")[0] == 200, timeout=10)
        phase[0] = "back"
        _wait_for(lambda: statuses["back"][200] >= 8)
        assert _version_of(client) == (100, 100, frozenset("A"))
    phase[0] = "done"
    for worker in workers:
        worker.join(timeout=30)
    assert server.process.poll() is None  # the same process all along
    assert set(statuses["up"]) == set(statuses["back"]) == {200}, statuses
    # While down: a 503 with Retry-After (or an answer that needed no database), never a reset,
    # a 500 or a hang.
    assert set(statuses["down"]) <= {200, 503}, statuses
