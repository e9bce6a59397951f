"""Residents' reports (issue 17): submission time with a 3 MB photo, and a worker's memory
during 20 concurrent uploads.

**Data**: the city boundary and the empty ``reports`` layer loaded by the real ETL into a fresh
GeoPackage store (``tests/editcity.py``); a 3 MB JPEG of noise (4000×3000, EXIF GPS), made by
Pillow; the server ``tsukuba-gis serve --workers 1`` on loopback, proof of work at 4 bits and
the per-address limit lifted (``TSUKUBA_GIS_REPORTS_*``).

- **submission**: ``--reports`` POSTs to ``/open311/v2/requests.json`` in sequence, each with
  its challenge fetched and solved before the clock starts: the time from sending the multipart
  body to the answer (photo sniffed, decoded with the bomb limit, resized to 1600 px, re-encoded
  without metadata, stored with the report). p50 and p90.
- **memory**: the worker's RSS before, and its peak (``VmHWM``) after, 20 threads upload at once.

Usage::

    .venv/bin/python bench/reports.py              # 20 reports, 20 concurrent
    .venv/bin/python bench/reports.py --reports 5
"""

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # editcity

from editcity import EditCity  # noqa: E402

from bench import servers  # noqa: E402
from server.reports.challenge import solve  # noqa: E402

ENV = {
    "TSUKUBA_GIS_REPORTS_POW_BITS": "4",
    "TSUKUBA_GIS_REPORTS_PER_ADDRESS_PER_HOUR": "100000",
}


def photo(megabytes: float = 3.0) -> bytes:
    """A noisy 4000×3000 JPEG of about ``megabytes`` with EXIF GPS (noise does not compress)."""
    rng = np.random.default_rng(17)
    pixels = rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (36.0, 5.0, 0.0), 3: "E", 4: (140.0, 6.0, 0.0)})
    image = Image.fromarray(pixels, "RGB")
    for quality in (90, 80, 70, 60, 50, 45, 40, 35, 30, 25, 20):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, exif=exif)
        if out.tell() <= megabytes * 1024 * 1024:
            return out.getvalue()
    return out.getvalue()


def form(client: httpx.Client) -> dict:
    given = client.get("/open311/v2/challenge.json").json()
    return {
        "service_code": "road_damage",
        "lat": "36.0828",
        "long": "140.1115",
        "description": "ベンチマークの報告",
        "challenge": given["challenge"],
        "nonce": solve(given["challenge"], given["bits"]),
    }


def submit(client: httpx.Client, jpeg: bytes) -> float:
    fields = form(client)
    started = time.perf_counter()
    response = client.post("/open311/v2/requests.json", data=fields, files={"media": ("p.jpg", jpeg)})
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return elapsed


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20, help="sequential submissions timed")
    parser.add_argument("--concurrent", type=int, default=20, help="uploads at once for the memory")
    args = parser.parse_args()
    jpeg = photo()
    with tempfile.TemporaryDirectory(prefix="tsukuba-gis-bench-reports-") as tmp:
        city = EditCity(Path(tmp), "", ["city_boundary", "reports"])
        server = servers.serve("reports", {**city.env, **ENV}, Path(tmp), workers=1)
        try:
            worker = server.pids()[-1]  # the one worker (the master's child)
            with httpx.Client(base_url=server.url, timeout=120) as client:
                submit(client, jpeg)  # warm-up: imports, first connection, the store's migration
                times = [submit(client, jpeg) for _ in range(args.reports)]
            before = memory_kb(worker, "VmRSS")
            errors: list[Exception] = []

            def one() -> None:
                try:
                    with httpx.Client(base_url=server.url, timeout=300) as own:
                        submit(own, jpeg)
                except Exception as err:  # noqa: BLE001 (reported below)
                    errors.append(err)

            threads = [threading.Thread(target=one) for _ in range(args.concurrent)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=600)
            wall = time.perf_counter() - started
            peak = memory_kb(worker, "VmHWM")
        finally:
            server.stop()
    quantiles = statistics.quantiles(times, n=10)
    print(f"photo {len(jpeg) / 1024 / 1024:.2f} MB (4000×3000 JPEG with EXIF GPS)")
    print(
        f"submission p50 {statistics.median(times) * 1000:.0f} ms, p90 {quantiles[-1] * 1000:.0f} ms"
        f" ({args.reports} in sequence)"
    )
    print(
        f"{args.concurrent} concurrent uploads: {wall:.1f} s wall, worker RSS {before / 1024:.0f} MB before,"
        f" peak {peak / 1024:.0f} MB; errors {len(errors)}"
    )


if __name__ == "__main__":
    main()
