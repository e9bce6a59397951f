"""Live edits (issue 13): edit-to-visible latency on /api and PATCH throughput, on both stores.

**Data**: the repository's sample shelters (114 points, fixed; ``layers/disaster/shelters.yaml``,
editable ``status``, ``crowding``, ``status_note``) with the city boundary and road areas,
loaded by the real ETL into a fresh store with the staff accounts and a token of the disaster
department (``tests/editcity.py``). PostGIS: a throwaway cluster (``tests/pgcluster.py``).

- **visible** (``tsukuba-gis serve --workers 2``): a staff token PATCHes one shelter's status
  (JSON merge patch, ``If-Match`` the ETag of its previous answer), then the PUBLIC
  ``/api/collections/shelters/items/<id>`` is read on new connections (each may land on either
  worker) until ``READS`` reads in a row show the new value: the time from sending the PATCH to
  the answer of the first of them (from then on every read showed it). Then, from the same
  start, the z14 vector tile holding the shelter and ``/point`` at it (its nearest open
  shelter), each polled by a thread of its own, each until ``READS`` reads in a row show it.
- **PATCH throughput** (``--workers 1``): one client in sequence, ``--clients`` clients each on
  a shelter of its own, and as many on the same shelter (a 412 re-reads the ETag and retries;
  counted). Edits/s are the 200s per second of wall time; p50 of the 200s.
- **floor**: ``Store.edit`` in this process (no HTTP, authentication, body checks), in
  sequence, the same edit of the same shelter as the sequential client's, the two taking turns
  (ROUNDS each, the 1-worker server idle during the floor's): "HTTP/floor" is the floor's
  edits/s over the sequential client's.

Usage::

    .venv/bin/python bench/edits.py                     # both stores, 50 edits, 10 s per case
    .venv/bin/python bench/edits.py --quick --stores gpkg
"""

import argparse
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # editcity, pgcluster

from editcity import EditCity, schema_url  # noqa: E402

from bench import load, report, servers  # noqa: E402
from tsukuba_gis.edits import now_jst  # noqa: E402
from tsukuba_gis.store import open_store  # noqa: E402
from tsukuba_gis.store.base import Editor, EditRequest  # noqa: E402

LAYER = "shelters"
STAFF_ITEMS = f"/internal/api/collections/{LAYER}/items"
PUBLIC_ITEMS = f"/api/collections/{LAYER}/items"
PATCH = {"Content-Type": "application/merge-patch+json"}
TMS = morecantile.tms.get("WebMercatorQuad")
OPEN = ("満員", "開設")  # both open: the shelter stays in /point's open-only list
READS = 4  # reads in a row that must all show an edit (new connections: either worker)
POLL_S = 0.02  # between reads: the pollers share the 2 cores with the server they time
VISIBLE_S = 10.0  # an edit not visible by then is counted as such, not waited for
FIRST = 30  # the shelters the bench edits: this offset of the public list and the next ones
ROUNDS = 3  # the sequential client and the floor take turns this many times


@dataclass
class Case:
    """What one case measured: latencies (s) of the successful edits, counts, wall time."""

    name: str
    times: list[float] = field(default_factory=list)
    wall: float = 0.0
    conflicts: int = 0  # 412s
    others: list[int] = field(default_factory=list)  # any other status (should stay empty)
    missed: int = 0  # visible cases: edits not seen within VISIBLE_S
    load1: float = 0.0

    def row(self, store: str, rate: bool, ratio: str = "-") -> list[str]:
        """Its line of the table."""
        times = sorted(self.times)
        if not times:
            return [store, self.name, "0", "-", "-", "-", "-", str(self.conflicts), self._notes(), ratio]
        ms = [1000 * times[min(len(times) - 1, int(len(times) * q))] for q in (0.5, 0.95)]
        eps = f"{self.rate:,.0f}" if rate else "-"
        cells = [f"{v:.1f}" for v in (*ms, 1000 * times[-1])]
        return [store, self.name, str(len(times)), eps, *cells, str(self.conflicts), self._notes(), ratio]

    def _notes(self) -> str:
        notes = [f"load {self.load1:.2f}"]
        if self.missed:
            notes.append(f"{self.missed} not visible within {VISIBLE_S:.0f} s")
        if self.others:
            notes.append(f"other statuses: {sorted(set(self.others))}")
        return ", ".join(notes)

    def add(self, other: "Case") -> "Case":
        """This case with another run of it added (the higher load kept)."""
        self.times += other.times
        self.wall += other.wall
        self.conflicts += other.conflicts
        self.others += other.others
        self.load1 = max(self.load1, other.load1)
        return self

    @property
    def rate(self) -> float:
        """Successful edits per second of wall time."""
        return len(self.times) / self.wall if self.wall else 0.0


class Editing:
    """A staff client editing one shelter, following its ETag from answer to answer."""

    def __init__(self, url: str, token: dict[str, str], fid: str):
        self.client = httpx.Client(base_url=url, headers=token, timeout=30)
        self.fid = fid
        self.etag = self.read_etag()

    def read_etag(self) -> str:
        """The shelter's ETag now (after a 412: someone else edited it)."""
        answer = self.client.get(f"{STAFF_ITEMS}/{self.fid}", params={"f": "json"})
        answer.raise_for_status()
        return answer.headers["etag"]

    def patch(self, properties: dict) -> httpx.Response:
        """One JSON merge patch with If-Match; the new ETag kept when it is accepted."""
        body = json.dumps({"properties": properties})
        headers = {**PATCH, "If-Match": self.etag}
        answer = self.client.patch(f"{STAFF_ITEMS}/{self.fid}", content=body, headers=headers)
        if answer.status_code == 200:
            self.etag = answer.headers["etag"]
        return answer

    def close(self) -> None:
        """Its connection."""
        self.client.close()


def _shelters(url: str, n: int) -> list[dict]:
    """``n`` public shelters from offset FIRST (id, lon, lat)."""
    page = httpx.get(
        f"{url}{PUBLIC_ITEMS}", params={"limit": n, "offset": FIRST, "f": "json"}, timeout=30
    ).json()
    return [{"id": f["id"], "lonlat": f["geometry"]["coordinates"]} for f in page["features"]]


def _streak(check: Callable[[], bool], started: float) -> float | None:
    """Seconds from ``started`` to the answer of the first of READS checks in a row that held
    (every read since showed the edit); None when none did within VISIBLE_S."""
    in_row, since = 0, 0.0
    while time.perf_counter() - started < VISIBLE_S:
        if check():
            in_row, since = in_row + 1, since or time.perf_counter()
            if in_row == READS:
                return since - started
        else:
            in_row, since = 0, 0.0
        time.sleep(POLL_S)
    return None


def _streaks(checks: dict[str, Callable[[], bool]], started: float) -> dict[str, float]:
    """``_streak`` of each check, each polled by a thread of its own (a tile made on demand
    does not delay /point's reads); the checks that never held are left out."""
    took: dict[str, float] = {}

    def poll(name: str) -> None:
        found = _streak(checks[name], started)
        if found is not None:
            took[name] = found

    threads = [threading.Thread(target=poll, args=(name,)) for name in checks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=VISIBLE_S + 60)
    return took


class Reader:
    """The public side of one shelter, read on new connections (no keep-alive: the kernel
    hands each connection to either worker)."""

    def __init__(self, url: str, shelter: dict):
        self.client = httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
        self.fid, (self.lon, self.lat) = shelter["id"], shelter["lonlat"]
        self.tile = TMS.tile(self.lon, self.lat, 14)

    def item(self, value: str) -> bool:
        """Whether /api's item shows ``value``."""
        item = self.client.get(f"{PUBLIC_ITEMS}/{self.fid}", params={"f": "json"})
        return item.json()["properties"]["status"] == value

    def in_tile(self, value: str) -> bool:
        """Whether the z14 vector tile holding the shelter shows ``value``."""
        t = self.tile
        mvt = self.client.get(f"/api/collections/{LAYER}/tiles/WebMercatorQuad/14/{t.y}/{t.x}")
        features = mapbox_vector_tile.decode(mvt.content).get(LAYER, {}).get("features", [])
        shown = [
            f["properties"].get("status") for f in features if f["properties"].get("common_id") == self.fid
        ]
        return shown == [value]

    def on_point(self, value: str) -> bool:
        """Whether /point at the shelter has it first among the open ones, with ``value``."""
        answer = self.client.get("/point", params={"lat": self.lat, "lon": self.lon}).json()
        nearest = next(g for g in answer["nearest"] if g["layer"] == LAYER)["features"]
        return bool(nearest) and (nearest[0]["id"], nearest[0].get("status")) == (self.fid, value)


VISIBLE = {"api": "edit → /api item", "tile": "edit → z14 tile", "point": "edit → /point"}


def visible(url: str, token: dict[str, str], edits: int, workers: int) -> list[Case]:
    """The PATCHes' latency; edit-to-visible on /api, then on the tile and /point (a thread each)."""
    (shelter,) = _shelters(url, 1)
    editing, reader = Editing(url, token, shelter["id"]), Reader(url, shelter)
    patched = Case(f"PATCH answered ({workers} worker{'s' * (workers > 1)})", load1=load.load1())
    seen = {key: Case(name, load1=patched.load1) for key, name in VISIBLE.items()}
    editing.patch({"status": OPEN[1]})  # 災害時モード on before the clock: /point lists open ones only
    try:
        for i in range(edits):
            value = OPEN[i % 2]
            started = time.perf_counter()
            answer = editing.patch({"status": value})
            if answer.status_code != 200:
                patched.others.append(answer.status_code)
                continue
            patched.times.append(time.perf_counter() - started)
            took = _streaks({"api": lambda v=value: reader.item(v)}, started)
            took |= _streaks(
                {"tile": lambda v=value: reader.in_tile(v), "point": lambda v=value: reader.on_point(v)},
                started,
            )
            for key, case in seen.items():
                if key in took:
                    case.times.append(took[key])
                else:
                    case.missed += 1
    finally:
        editing.close()
        reader.client.close()
    return [patched, *seen.values()]


def throughput(url: str, token: dict[str, str], name: str, fids: list[str], seconds: float) -> Case:
    """PATCHes of ``status_note`` for ``seconds``, one client per entry of ``fids``."""
    case, lock = Case(name, load1=load.load1()), threading.Lock()
    editors = [Editing(url, token, fid) for fid in fids]
    deadline = time.monotonic() + seconds

    def run(editing: Editing, n: int) -> None:
        count = 0
        while time.monotonic() < deadline:
            count += 1
            started = time.perf_counter()
            answer = editing.patch({"status_note": f"bench {n}.{count}"})
            took = time.perf_counter() - started
            with lock:
                if answer.status_code == 200:
                    case.times.append(took)
                elif answer.status_code == 412:
                    case.conflicts += 1
                else:
                    case.others.append(answer.status_code)
            if answer.status_code == 412:
                editing.etag = editing.read_etag()

    threads = [threading.Thread(target=run, args=(e, n)) for n, e in enumerate(editors)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    case.wall = time.perf_counter() - started
    for editing in editors:
        editing.close()
    return case


def floor(store_url: str, fid: str, seconds: float) -> Case:
    """``Store.edit`` in this process, in sequence: the store's own cost of an edit."""
    case = Case("floor", load1=load.load1())
    store = open_store(store_url)
    try:
        record = store.current(LAYER)
        revision = store.revision(record, fid)
        editor = Editor("bench", "disaster", "bench")
        started = time.perf_counter()
        count = 0
        while time.perf_counter() - started < seconds:
            count += 1
            request = EditRequest(
                "modify",
                fid,
                editor,
                properties={"status_note": f"floor {count}"},
                expect=(record.version, revision),
                stamp=("updated_at", now_jst()),
            )
            began = time.perf_counter()
            result = store.edit(record, request)
            case.times.append(time.perf_counter() - began)
            record, revision = result.record, result.revision
        case.wall = time.perf_counter() - started
    finally:
        store.close()
    return case


@dataclass(frozen=True)
class Sizes:
    """How much to measure: edits timed until visible, seconds per throughput case, concurrent
    clients, workers of the server the edits are seen on."""

    edits: int = 50
    seconds: float = 10.0
    clients: int = 4
    workers: int = 2


QUICK = Sizes(edits=5, seconds=1.5, clients=2)


def measure(label: str, city: EditCity, work: Path, sizes: Sizes) -> list[list[str]]:
    """Every case on one store: the table's rows."""
    edits, seconds, clients, workers = sizes.edits, sizes.seconds, sizes.clients, sizes.workers
    token = city.staff().bearer("edit")
    server = servers.serve(f"edits-{label}-{workers}w", city.env, work, workers)
    try:
        seen = visible(server.url, token, edits, workers)
        if workers != 1:  # (else the same server goes on: a start-up saved)
            server.stop()
            server = servers.serve(f"edits-{label}-1w", city.env, work, workers=1)
        fids = [s["id"] for s in _shelters(server.url, clients + 1)]
        sequential, base = Case("PATCH (1 worker), 1 client"), Case("floor: Store.edit in-process")
        for _ in range(ROUNDS):  # alternated: both see the same load (and disk)
            sequential.add(throughput(server.url, token, sequential.name, fids[:1], seconds / ROUNDS))
            base.add(floor(city.settings.store_url, fids[0], seconds / ROUNDS))
        name = f"PATCH (1 worker), {clients} clients"
        own = throughput(server.url, token, f"{name}, own shelters", fids[1:], seconds)
        same = throughput(server.url, token, f"{name}, one shelter", fids[:1] * clients, seconds)
    finally:
        server.stop()  # (a stopped one again: nothing happens)
    ratio = f"{base.rate / sequential.rate:.1f}x" if sequential.rate else "-"
    return [
        *(case.row(label, False) for case in seen),
        sequential.row(label, True, ratio),
        own.row(label, True),
        same.row(label, True),
        base.row(label, True),
    ]


HEAD = ["store", "case", "edits", "edits/s", "p50 ms", "p95 ms", "max ms", "412", "notes", "HTTP/floor"]


def run(stores: list[str], work: Path, sizes: Sizes, dsn: str | None = None) -> str:
    """Measure ``stores`` (gpkg, postgis) and return the Markdown table (PostGIS: ``dsn``, else
    a throwaway cluster of the bench's own)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows, cluster = [], None
    try:
        for label in stores:
            if label == "postgis" and dsn is None:
                cluster = servers.start_cluster()
                dsn = cluster.create_database("edits")
            store = schema_url(dsn) if label == "postgis" else ""
            rows += measure(label, EditCity(work / label, store), work, sizes)
    finally:
        if cluster is not None:
            cluster.destroy()
    return report.markdown(HEAD, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", nargs="+", choices=["gpkg", "postgis"], default=["gpkg", "postgis"])
    parser.add_argument("--edits", type=int, default=Sizes.edits, help="edits timed until visible")
    parser.add_argument("--seconds", type=float, default=Sizes.seconds, help="per throughput case")
    parser.add_argument("--clients", type=int, default=Sizes.clients, help="concurrent clients")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} (a look, not figures)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench/edits"))
    parser.add_argument("--dsn", help="a PostgreSQL database to use instead of a throwaway cluster")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes(args.edits, args.seconds, args.clients)
    before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    table = run(args.stores, args.workdir, sizes, args.dsn)
    after = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"\n{sizes}\nuptime before: {before}\nuptime after:  {after}\n")
    print(table)


if __name__ == "__main__":
    main()
