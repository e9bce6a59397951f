"""The delivery worker killed with SIGKILL mid-run, then restarted (and, on PostGIS, the
database restarted under it): every webhook delivery and mail reaches its receiver, none lost,
a copy only of what was in flight at the kill, with the same idempotency key (at-least-once).

A real ``tsukuba-gis notify`` process; real receivers on loopback (tests/receivers.py); on
PostGIS a cluster of this test's own, so restarting it leaves the session's cluster alone.
"""

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from editcity import PASSWORD, EditCity
from fastapi.testclient import TestClient
from liveserver import stop_process
from pgcluster import Cluster
from receivers import Hooks, MailBox
from test_notify import ITEMS, PATCH, SHELTER

from server.app import create_app
from tsukuba_gis.settings import PROJECT_ROOT
from tsukuba_gis.store import open_store
from tsukuba_gis.store.notify import Reach

pytestmark = pytest.mark.live  # starts tsukuba-gis notify processes of its own
HOOKS = 4
BOUSAI = ("kato-bousai", PASSWORD)


@pytest.fixture(params=["gpkg", "postgis"])
def city(request, tmp_path):
    cluster = None
    if request.param == "postgis":
        cluster = Cluster()
        cluster.init()
        cluster.start()
        cluster.make_template()
    try:
        city = EditCity(tmp_path, cluster.create_database("notify") if cluster else "")
        city.cluster = cluster
        city.staff()
        yield city
    finally:
        if cluster:
            cluster.destroy()


class NotifyProcess:
    """``tsukuba-gis notify`` with tiny intervals, logging to a file."""

    def __init__(self, city: EditCity, env: dict[str, str], name: str):
        cli = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
        self.log = open(city.data_dir / f"notify-{name}.log", "w")
        self.process = subprocess.Popen(
            [cli, "-v", "notify"],
            env={**os.environ, **city.env, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no clean-up, the lease is left to run out
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        stop_process(self.process)
        self.log.close()


def edit(client, n: int) -> None:
    """One live edit; a 503 (the app's first request after a database restart) is tried again."""

    def once() -> bool:
        read = client.get(f"{ITEMS}/{SHELTER}", params={"f": "json"}, auth=BOUSAI)
        if read.status_code == 503:
            return False
        answer = client.patch(
            f"{ITEMS}/{SHELTER}",
            json={"properties": {"status_note": f"kill test {n}"}},
            headers={**PATCH, "If-Match": read.headers["etag"]},
            auth=BOUSAI,
        )
        assert answer.status_code in (200, 503), answer.text
        return answer.status_code == 200

    until(once)


def until(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def test_a_killed_worker_loses_and_duplicates_nothing(city):
    mailbox, hooks = MailBox().start(), Hooks(delay_s=0.15).start()
    settings = city.settings.model_copy(update={"public_url": "http://testserver"})
    store = open_store(settings.store_url)
    store.migrate()
    for i in range(HOOKS):
        hooks.secrets[f"/h{i}"] = f"secret-of-hook-{i}-0123456789"
        store.add_webhook(
            f"{hooks.url}/h{i}", hooks.secrets[f"/h{i}"], "internal", Reach(("shelters",)), time.time()
        )
    subscription = store.add_subscription("watcher@example.jp", "ja", Reach(("shelters",)), "h", time.time())
    store.confirm_subscription(subscription)
    env = {
        "TSUKUBA_GIS_PUBLIC_URL": "http://testserver",
        "TSUKUBA_GIS_SMTP_HOST": "127.0.0.1",
        "TSUKUBA_GIS_SMTP_PORT": str(mailbox.port),
        "TSUKUBA_GIS_NOTIFY_INTERVAL_S": "0.05",
        "TSUKUBA_GIS_NOTIFY_SENDERS": "1",
        "TSUKUBA_GIS_NOTIFY_LEASE_S": "1",
        "TSUKUBA_GIS_NOTIFY_BACKOFF_BASE_S": "0.05",
    }
    try:
        with TestClient(create_app(settings, city.auth), raise_server_exceptions=False) as client:
            for n in range(3):
                edit(client, n)
            first = NotifyProcess(city, env, "first")
            until(lambda: len(hooks.hits) >= 2)
            first.kill()  # mid-run: the round's other deliveries are not sent yet
            sent_before = len(hooks.hits)
            assert sent_before < HOOKS, "the worker finished before it was killed"
            edit(client, 3)
            second = NotifyProcess(city, env, "second")
            try:
                until(lambda: len({h.key for h in hooks.hits}) == 2 * HOOKS and len(mailbox.messages) == 2)
                if city.cluster:  # PostgreSQL restarts under the worker, which goes on
                    city.cluster.stop("fast")
                    time.sleep(0.5)
                    city.cluster.start()
                    until(lambda: store.notify_cursor() > 0)
                edit(client, 4)
                until(lambda: len({h.key for h in hooks.hits}) == 3 * HOOKS and len(mailbox.messages) == 3)
                time.sleep(0.3)  # nothing else arrives
            finally:
                second.stop()
            if city.cluster:  # the worker saw the outage and went on
                assert "delivery round stopped" in (city.data_dir / "notify-second.log").read_text()
        keys = Counter(h.key for h in hooks.hits)
        assert all(h.signed for h in hooks.hits)
        assert set(keys.values()) <= {1, 2} and sum(keys.values()) - len(keys) <= 1, keys  # the one in flight
        for key in (k for k, n in keys.items() if n == 2):
            assert len({str(h.body) for h in hooks.hits if h.key == key}) == 1  # the same body again
        records = [c["record"] for h in hooks.hits if h.path == "/h0" for c in h.body["changes"]]
        assert sorted(set(records)) == [r.id for r in store.change_records(after=0, layers=["shelters"])]
        ids = Counter(m["Message-ID"] for m in mailbox.messages)
        assert len(ids) == 3 and sum(ids.values()) - len(ids) <= 1, ids
        assert store.deliveries("pending") == [] and store.deliveries("dead") == []
    finally:
        mailbox.stop()
        hooks.stop()
