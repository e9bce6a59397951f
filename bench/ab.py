"""Before and after a change, at the same moment: two servers, wrk rounds interleaved.

A change worth a few per cent is smaller than what these shared 2-core machines drift between
two runs of ``bench/serve.py``, so this serves the bench project twice, from this checkout
("after") and from a git worktree of ``--before`` (a revision; the same venv, its code first on
``PYTHONPATH``), both GeoPackage (``--postgis``: both on one PostGIS copy of it, in a throwaway
cluster), and alternates which goes first in each round. Prints req/s
per round, the medians and the server CPU per request of each.

Usage::

    .venv/bin/python bench/ab.py --before HEAD~1                    # items ~360 m and one feature
    .venv/bin/python bench/ab.py --before a29aa2f --runs 6 --seconds 8 --scenario feature
    .venv/bin/python bench/ab.py --before HEAD~1 --postgis
"""

import contextlib
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, load, scenarios, servers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = scenarios.OURS


def main() -> None:
    parser = load.arguments(__doc__.split("\n\n")[0], 5, Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--before", required=True, help="the git revision to compare with")
    parser.add_argument("--scenario", nargs="+", choices=sorted(SCENARIOS), default=sorted(SCENARIOS))
    parser.add_argument("--postgis", action="store_true", help="both servers on a PostGIS copy")
    args = parser.parse_args()
    project = data.prepare_project(args.workdir)
    data.load_gpkg(project)  # the store and its tiles, once per seed and size
    wrk = servers.have_wrk()
    with tempfile.TemporaryDirectory(prefix="tsukuba-gis-ab-") as tmp, contextlib.ExitStack() as stack:
        dsn = stack.enter_context(servers.postgis_copy(project, "bench"))[1] if args.postgis else None
        tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), args.before], check=True
        )
        running: dict[str, servers.Server] = {}
        try:
            before = {"PYTHONPATH": str(tree)}
            running["before"] = servers.start_ours("before", project, dsn, Path(tmp), before)
            running["after"] = servers.start_ours("after", project, dsn, Path(tmp))
            _rounds(args, wrk, running)
        finally:
            for server in running.values():
                server.stop()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)


def _rounds(args, wrk: str, running: dict[str, "servers.Server"]) -> None:
    found: dict[tuple[str, str], list[load.Sample]] = {}
    for run in range(args.runs):
        load.wait_quiet(args.max_load, args.max_wait)
        order = ("before", "after") if run % 2 == 0 else ("after", "before")
        for scenario in args.scenario:
            paths = SCENARIOS[scenario]()
            for name in order:
                server = running[name]
                sample = load.run_wrk(wrk, server.url, paths, args.seconds, server.pids())
                if sample.bad:
                    raise SystemExit(f"{name}: {sample.bad} bad answers in {scenario}")
                found.setdefault((scenario, name), []).append(sample)
    print(
        f"before = {args.before}, after = this checkout; {args.runs} interleaved rounds of {args.seconds:g} s"
    )
    for scenario in args.scenario:
        medians = {}
        for name in ("before", "after"):
            samples = found[scenario, name]
            medians[name] = statistics.median(s.rps for s in samples)
            cpu = statistics.median(s.cpu_s / s.requests * 1000 for s in samples)
            rounds = " ".join(f"{s.rps:,.0f}" for s in samples)
            print(
                f"{scenario:9s} {name:6s} req/s {rounds}; median {medians[name]:,.0f}, CPU {cpu:.3f} ms/req"
            )
        print(f"{scenario:9s} after/before {medians['after'] / medians['before']:.3f}x")


if __name__ == "__main__":
    main()
