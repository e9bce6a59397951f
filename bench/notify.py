"""Deliveries (issue 16): edit-to-mail and edit-to-webhook latency on loopback, on both stores.

**Data**: the repository's sample shelters with the city boundary and road areas, loaded by the
real ETL into a fresh store with the staff accounts (``tests/editcity.py``); PostGIS: a
throwaway cluster (``tests/pgcluster.py``). One confirmed e-mail subscriber around 竹園東小学校
and one webhook on the shelters layer, both registered through the store.

**Case**: ``tsukuba-gis serve`` (1 worker) and ``tsukuba-gis notify`` (its own process, polling
every ``--interval`` seconds) run; a staff member PATCHes the shelter's status (in sequence,
``--edits`` times, a pause of ``--pause`` s plus a seeded random part of the poll interval
between, so the edits land at every phase of the worker's rounds); the time from sending the PATCH to the
mail's arrival at an aiosmtpd server on loopback and to the webhook's arrival at an HTTP server
on loopback that checks its signature (``tests/receivers.py``). The worker's poll interval is
the floor of the wait (a change lands on average half an interval before the next round). A
first edit, not timed, warms the worker up (its first round builds the layer snapshots).

Usage::

    .venv/bin/python bench/notify.py                          # both stores, 20 edits
    .venv/bin/python bench/notify.py --stores gpkg --edits 5
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import shapely

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # editcity, receivers

from editcity import PASSWORD, EditCity  # noqa: E402
from receivers import Hooks, MailBox  # noqa: E402

from bench import report, servers  # noqa: E402
from tsukuba_gis.store import open_store  # noqa: E402
from tsukuba_gis.store.notify import Reach  # noqa: E402

SHELTER = "E0822000085111"  # 竹園東小学校
ITEMS = f"/internal/api/collections/shelters/items/{SHELTER}"
ROOT = Path(__file__).resolve().parent.parent


def _targets(city: EditCity, hooks: Hooks) -> None:
    store = open_store(city.settings.store_url)
    store.migrate()
    hooks.secrets["/bench"] = "bench-secret-0123456789"
    store.add_webhook(
        f"{hooks.url}/bench", hooks.secrets["/bench"], "public", Reach(("shelters",)), time.time()
    )
    point = shapely.from_wkb(store.get(store.current("shelters"), SHELTER).wkb[0])
    lon, lat = point.x, point.y
    reach = Reach(
        ("shelters",),
        f"lat={lat}&lon={lon}&radius=300",
        (lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01),
        (lon, lat),
        300.0,
    )
    store.confirm_subscription(store.add_subscription("bench@example.jp", "ja", reach, "bench", time.time()))


def _worker(city: EditCity, env: dict[str, str], workdir: Path) -> subprocess.Popen:
    cli = str(ROOT / ".venv" / "bin" / "tsukuba-gis")
    log = (workdir / "notify.log").open("w")
    return subprocess.Popen(
        [cli, "notify"],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _edit(client: httpx.Client, status: str) -> float:
    read = client.get(ITEMS, params={"f": "json"})
    started = time.monotonic()
    answer = client.patch(
        ITEMS,
        json={"properties": {"status": status}},
        headers={"Content-Type": "application/merge-patch+json", "If-Match": read.headers["etag"]},
    )
    answer.raise_for_status()
    return started


def _wait(count, target: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while count() < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count()} of {target} deliveries within {timeout} s")
        time.sleep(0.005)


def run_store(store_name: str, workdir: Path, edits: int, interval: float, pause: float) -> list[list[str]]:
    """The latency rows of one store."""
    cluster = servers.start_cluster() if store_name == "postgis" else None
    mailbox, hooks = MailBox().start(), Hooks().start()
    worker = server = None
    try:
        city = EditCity(workdir / store_name, cluster.create_database("notify") if cluster else "")
        city.staff()
        _targets(city, hooks)
        env = {
            **city.env,
            "TSUKUBA_GIS_SMTP_HOST": "127.0.0.1",
            "TSUKUBA_GIS_SMTP_PORT": str(mailbox.port),
            "TSUKUBA_GIS_NOTIFY_INTERVAL_S": str(interval),
        }
        server = servers.serve(f"ours-{store_name}", env, workdir, workers=1)
        worker = _worker(city, {**env, "TSUKUBA_GIS_PUBLIC_URL": server.url}, workdir)
        mail_ms, hook_ms = [], []
        phase = random.Random(20261203)
        with httpx.Client(base_url=server.url, timeout=30, auth=("kato-bousai", PASSWORD)) as client:
            # One edit first, not timed: the worker's first round builds its snapshots.
            _edit(client, "閉鎖")
            _wait(lambda: len(mailbox.messages), 1)
            _wait(lambda: len(hooks.hits), 1)
            for n in range(edits):
                mails, hits = len(mailbox.messages), len(hooks.hits)
                started = _edit(client, "開設" if n % 2 == 0 else "閉鎖")
                _wait(lambda: len(mailbox.messages), mails + 1)
                _wait(lambda: len(hooks.hits), hits + 1)
                mail_ms.append((mailbox.arrived[-1] - started) * 1000)
                hook_ms.append((hooks.hits[-1].at - started) * 1000)
                assert hooks.hits[-1].signed
                time.sleep(pause + phase.uniform(0, interval))  # every phase of the poll
        return [
            _row(store_name, "edit → mail", mail_ms, interval),
            _row(store_name, "edit → webhook", hook_ms, interval),
        ]
    finally:
        for process in (worker,):
            if process:
                process.terminate()
                process.wait(timeout=10)
        if server:
            server.stop()
        mailbox.stop()
        hooks.stop()
        if cluster:
            cluster.destroy()


def _row(store: str, case: str, ms: list[float], interval: float) -> list[str]:
    q = statistics.quantiles(ms, n=20, method="inclusive") if len(ms) >= 2 else ms * 19
    return [
        store,
        case,
        str(len(ms)),
        f"{statistics.median(ms):.0f}",
        f"{q[18]:.0f}",
        f"{max(ms):.0f}",
        f"{interval * 1000:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["gpkg", "postgis"], choices=["gpkg", "postgis"])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5, help="the worker's poll interval (s)")
    parser.add_argument("--pause", type=float, default=0.1, help="between edits (s)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tsukuba-gis-bench-notify-"))
    try:
        rows = [
            row
            for store in args.stores
            for row in run_store(store, workdir, args.edits, args.interval, args.pause)
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(report.markdown(["store", "case", "edits", "p50 ms", "p95 ms", "max ms", "poll interval ms"], rows))


if __name__ == "__main__":
    main()
