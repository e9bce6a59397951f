"""Load generation and accounting: wrk over a list of paths, CPU from /proc, a quiet machine.

wrk (Debian's package) runs 2 threads with 4 connections on loopback. A Lua script cycles each
connection through the scenario's list of paths and prints p50/p95 as JSON. It has no
``response`` hook: with one, wrk hands every body to Lua as a string, which halved the rate of
a 415 KB tile whoever served it (ours 1,761-1,876 vs 3,487-4,360 req/s, nginx's sendfile
2,696-2,738 vs 5,455-5,774; bench/README.md, "Issue 19 on 2026-12-08"), so large answers
measured the client. wrk itself counts 4xx/5xx answers; a redirect or other non-2xx answer is
caught by asking the first paths once before the clock starts. Cold tiles, each asked exactly
once, go through 4 httpx keep-alive connections instead. CPU is read from /proc/<pid>/stat of
the server's processes (and PostgreSQL's, for the PostGIS servers), and the rest of the
machine's busy time during the run is reported as "other" load.
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

TICKS = os.sysconf("SC_CLK_TCK")
CONNECTIONS, THREADS = 4, 2
PREFLIGHT = 10  # paths asked once before a wrk run, to catch redirects (wrk counts 4xx/5xx only)

LUA = r"""
local paths = {%(paths)s}
local headers = {%(headers)s}
local counter, threads = 0, {}
function setup(thread)
  thread:set("id", counter); counter = counter + 1; table.insert(threads, thread)
end
function init(args) i = id end
function request()
  local path = paths[(i %% #paths) + 1]
  i = i + %(threads)d
  return wrk.format("GET", path, headers)
end
function done(summary, latency, requests)
  io.write(string.format('{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p95_us": %%d,' ..
    ' "errors": %%d, "socket_errors": %%d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass
class Sample:
    """One measured run of one scenario on one server."""

    rps: float
    p50_ms: float
    p95_ms: float
    requests: int
    bad: int
    cpu_s: float  # server processes (and PostgreSQL's), user + system
    other_cores: float  # the rest of the machine's busy time, in cores
    load1: float  # the 1-minute load average when the run started


def cpu_seconds(pids: list[int]) -> float:
    """user + system seconds of these processes (gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def busy_seconds() -> float:
    """Seconds all CPUs spent busy since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / TICKS


def load1() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def arguments(description: str, seconds: float, workdir: Path) -> argparse.ArgumentParser:
    """The options of every bench that serves load: runs, seconds a run, the quiet machine it
    waits for, its work folder (``seconds`` and ``workdir`` are the defaults)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=seconds)
    # These 2-core VMs idle at a load average near 1.5; each run records the load and the CPU
    # the rest of the machine used, which is what tells whether a row was disturbed.
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument("--max-wait", type=float, default=180)
    parser.add_argument("--workdir", type=Path, default=workdir)
    return parser


def wait_quiet(limit: float = 1.0, max_wait_s: float = 900, poll_s: float = 60) -> float:
    """Until the 1-minute load average is below ``limit`` (polled, bounded); the last value."""
    deadline = time.monotonic() + max_wait_s
    while (value := load1()) >= limit and time.monotonic() < deadline:
        print(f"  waiting for a quiet machine: load {value:.2f} >= {limit}", flush=True)
        time.sleep(min(poll_s, max(1.0, deadline - time.monotonic())))
    return load1()


def preflight(base_url: str, paths: list[str], headers: dict[str, str] | None = None) -> int:
    """How many of ``paths`` do not answer 2xx, each asked once (wrk counts only 4xx/5xx)."""
    with httpx.Client(base_url=base_url, headers=headers or {}, timeout=120) as http:
        return sum(not 200 <= http.get(path).status_code < 300 for path in paths)


def run_wrk(
    wrk: str,
    base_url: str,
    paths: list[str],
    seconds: float,
    pids: list[int],
    headers: dict[str, str] | None = None,
) -> Sample:
    """One wrk run cycling through ``paths`` for ``seconds``; ``bad``: answers that were not
    2xx (the first ``PREFLIGHT`` paths asked once before, and wrk's own 4xx/5xx count)."""
    not_ok = preflight(base_url, paths[:PREFLIGHT], headers)
    quoted = ", ".join(json.dumps(p) for p in paths)
    lua_headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"paths": quoted, "threads": THREADS, "headers": lua_headers})
    start_load = load1()
    cpu0, busy0, t0 = cpu_seconds(pids), busy_seconds(), time.monotonic()
    wrk_cpu0 = _children_cpu()
    out = subprocess.run(
        [
            wrk,
            "-t",
            str(THREADS),
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{int(seconds)}s",
            "--timeout",
            "60s",
            "-s",
            script.name,
            base_url + paths[0],
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    wall = time.monotonic() - t0
    cpu = cpu_seconds(pids) - cpu0
    wrk_cpu = _children_cpu() - wrk_cpu0
    os.unlink(script.name)
    line = next((x for x in out.stdout.splitlines() if x.startswith('{"requests"')), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-1500:]} {out.stderr[-1500:]}")
    result = json.loads(line)
    seconds_run = result["duration_us"] / 1e6
    other = max(0.0, busy_seconds() - busy0 - cpu - wrk_cpu) / wall
    return Sample(
        rps=result["requests"] / seconds_run,
        p50_ms=result["p50_us"] / 1000,
        p95_ms=result["p95_us"] / 1000,
        requests=result["requests"],
        bad=not_ok + result["errors"] + result["socket_errors"],
        cpu_s=cpu,
        other_cores=other,
        load1=start_load,
    )


def each_once(
    base_url: str, paths: list[str], pids: list[int], headers: dict[str, str] | None = None
) -> Sample:
    """Every path exactly once over CONNECTIONS keep-alive connections (cold tiles).

    wrk cannot stop after a fixed list, so this bounded pass uses httpx in as many threads.
    """
    todo = list(enumerate(paths))
    lock = threading.Lock()
    times: list[float] = []
    bad = [0]
    # The clients are made before the clock starts: an httpx.Client builds an SSL context
    # (20-60 ms each, even for http://), which counted as the server's time in a block of one
    # z10 tile (9 vs 4 req/s where the latencies were 27 vs 161 ms).
    clients = [
        httpx.Client(base_url=base_url, headers=headers or {}, timeout=120) for _ in range(CONNECTIONS)
    ]
    start = threading.Barrier(CONNECTIONS + 1, timeout=60)  # bounded

    def client(http: httpx.Client) -> None:
        start.wait()
        while True:
            with lock:
                if not todo:
                    return
                _, path = todo.pop()
            started = time.perf_counter()
            status = http.get(path).status_code
            with lock:
                times.append(time.perf_counter() - started)
                bad[0] += status > 299

    threads = [threading.Thread(target=client, args=(http,)) for http in clients]
    for thread in threads:
        thread.start()
    start_load = load1()
    cpu0, busy0, own0 = cpu_seconds(pids), busy_seconds(), time.process_time()
    start.wait()
    t0 = time.monotonic()
    for thread in threads:
        thread.join(timeout=900)
    wall = time.monotonic() - t0
    for http in clients:
        http.close()
    cpu = cpu_seconds(pids) - cpu0
    times.sort()
    other = (busy_seconds() - busy0 - cpu - (time.process_time() - own0)) / wall
    return Sample(
        rps=len(times) / wall,
        p50_ms=statistics.median(times) * 1000,
        p95_ms=times[min(len(times) - 1, int(len(times) * 0.95))] * 1000,
        requests=len(times),
        bad=bad[0],
        cpu_s=cpu,
        other_cores=max(0.0, other),
        load1=start_load,
    )


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (wrk) so far."""
    usage = os.times()
    return usage.children_user + usage.children_system


def rss_mb(pids: list[int]) -> list[float]:
    """Resident set size of each process, MB."""
    found = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return found
