"""Sequential latency of a running server on the sample data: one client, keep-alive, p50.

What a single user waits for, not throughput (that is ``bench/serve.py``). Start the server on
the sample layers first (``make run``, or ``tsukuba-gis serve --port 8000`` after ``etl``), then::

    .venv/bin/python bench/latency.py                       # http://127.0.0.1:8000, 200 requests each
    .venv/bin/python bench/latency.py --url http://host:8000 --requests 500
"""

import argparse
import statistics
import time

import httpx

PATHS = [
    "/health",
    "/api/collections?f=json",
    "/api/collections/shelters/items?limit=100&f=json",
    "/api/collections/road_areas/items?bbox=140.10,36.07,140.13,36.10&limit=100&f=json",
    "/api/collections/towns/items?limit=1000&f=json",
    "/search?q=吾妻",
    "/search?q=つくば",
    "/point?lat=35.9909&lon=140.13296",
]


def main() -> None:
    """Print the median (and 95th percentile) of each path, after one warm-up request."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with httpx.Client(base_url=args.url, timeout=30) as client:
        first = client.get("/api/collections/shelters/items?limit=1&f=json").json()
        paths = PATHS + [f"/api/collections/shelters/items/{first['features'][0]['id']}?f=json"]
        for path in paths:
            client.get(path).raise_for_status()  # warm-up, and a wrong path fails loudly
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(f"p50 {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms  {path}")


if __name__ == "__main__":
    main()
