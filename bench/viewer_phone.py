"""The residents' map on an emulated mid-range phone over 4G: first useful map and tap-to-report.

Not a timed test: it prints medians for a person to judge. Each run is a fresh browser context
(cold cache, a first visit) on Debian's Chromium driven by Playwright, with Chromium DevTools'
throttling (CDP): ``Network.emulateNetworkConditions`` 9 Mbit/s down, 1.5 Mbit/s up, 85 ms
round trip, and ``Emulation.setCPUThrottlingRate`` 4. External hosts are blocked, as in a closed
network (the base map fails; its notice shows). Figures per run:

- ``fcp``: first contentful paint (the header, painted from the HTML);
- ``map``: the Leaflet map created (``tg-map-created``);
- ``layer``: the first data layer drawn (``tg-first-layer``): the first useful map;
- ``tap``: a tap on the map to the point report rendered and shown in the sheet, in three
  parts: ``sent`` (the tap to the ``/point`` request leaving), ``answer`` (its round trip and
  download) and ``render`` (the answer to the report on screen).

Bytes: the bundle's JS and CSS as the server's gzip sends them (gzip -9 here), and the lazily
loaded chunks apart. Start nothing first: by default the script loads the sample layers into a
temporary data directory and runs ``tsukuba-gis serve`` on a free loopback port::

    .venv/bin/python bench/viewer_phone.py                  # 5 runs, medians
    .venv/bin/python bench/viewer_phone.py --runs 9 --url http://127.0.0.1:8000
    .venv/bin/python bench/viewer_phone.py --url http://127.0.0.1:8001 --url http://127.0.0.1:8000  # in turns
    .venv/bin/python bench/viewer_phone.py --inline-tilejson   # as if the config carried the TileJSONs
"""

import argparse
import gzip
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The project before bench/ (bench/etl.py is not the etl package), tests/ for the server helper.
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402

BUILD = ROOT / "viewer" / "public" / "build"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2.625,
    "is_mobile": True,
    "has_touch": True,
    "locale": "ja-JP",
}
# Chromium DevTools' "4G"-like profile of the brief: bytes per second, milliseconds.
NETWORK = {
    "offline": False,
    "latency": 85,
    "downloadThroughput": 9_000_000 / 8,
    "uploadThroughput": 1_500_000 / 8,
}
CPU_SLOWDOWN = 4
WAIT_MS = 60_000
TAP = "#map=15/36.0828/140.1115"  # the city centre, shelters and outlines shown

TIMINGS = """() => ({
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
    map: performance.getEntriesByName('tg-map-created')[0]?.startTime,
    layer: performance.getEntriesByName('tg-first-layer')[0]?.startTime,
})"""
# Where a tap's time went, from the resource timing of its /point request.
TAP_PARTS = """() => {
    const request = performance.getEntriesByType('resource').filter((e) => e.name.includes('/point?')).pop();
    if (!request) return {};
    return {sent: request.startTime - window.__tap.start, answer: request.responseEnd - request.startTime,
            render: window.__tap.end - request.responseEnd};
}"""
# Times a tap: from the pointer going down on the map to the report's first heading on screen.
WATCH_TAP = """() => {
    window.__tap = {};
    performance.clearResourceTimings();  // only the tap's own requests from here (the buffer is small)
    document.querySelector('#map').addEventListener('pointerdown',
        () => { window.__tap.start = performance.now(); }, {capture: true, once: true});
    const done = () => {
        const heading = document.querySelector('.tg-point h3');
        if (!heading || !heading.checkVisibility?.() || window.__tap.end) return;
        window.__tap.end = performance.now();
    };
    new MutationObserver(done).observe(document.body, {subtree: true, childList: true});
}"""


def gzip_sizes() -> dict[str, int]:
    """Gzip -9 bytes of the bundle's entry files and of its lazily loaded chunks."""
    sizes = {"js": 0, "css": 0, "lazy_js": 0}
    for path in BUILD.rglob("*"):
        if path.suffix not in {".js", ".css"}:
            continue
        size = len(gzip.compress(path.read_bytes(), 9))
        key = "css" if path.suffix == ".css" else "js" if path.name == "index.js" else "lazy_js"
        sizes[key] += size
    return sizes


def with_tilejson(url: str):
    """A route handler giving the viewer config with each layer's TileJSON in it (`tilejson`): what
    the viewer would get from a server that sends it (see viewer/README.md, "Startup order")."""
    import httpx

    config = httpx.get(f"{url}/viewer-config.json").json()
    for layer_id, layer in config["layers"].items():
        answer = httpx.get(f"{url}/api/collections/{layer_id}/tiles/WebMercatorQuad?f=tilejson")
        if answer.status_code == 200:
            layer["tilejson"] = answer.json()
    body = json.dumps(config)
    return lambda route: route.fulfill(status=200, content_type="application/json", body=body)


def one_run(browser, url: str, inline_tilejson: bool = False) -> dict[str, float]:
    """A first visit on the throttled phone, then a tap in the middle of the map."""
    context = browser.new_context(**PHONE)
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith((url, "data:", "blob:")) else route.abort()
        ),
    )
    if inline_tilejson:
        context.route(f"{url}/viewer-config.json", with_tilejson(url))
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", NETWORK)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    try:
        page.goto(f"{url}/{TAP}")
        page.wait_for_function("() => performance.getEntriesByName('tg-first-layer').length", timeout=WAIT_MS)
        timings = page.evaluate(TIMINGS)
        page.wait_for_function(
            "() => !document.querySelector('.tg-layer[data-status=\"loading\"]')", timeout=WAIT_MS
        )
        page.wait_for_timeout(500)  # let the page settle, as a person looks before tapping
        page.evaluate(WATCH_TAP)
        box = page.locator("#map").bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.4)
        page.wait_for_function("() => window.__tap.end", timeout=WAIT_MS)
        tap = page.evaluate("() => window.__tap.end - window.__tap.start")
        return {**timings, "tap": tap, **page.evaluate(TAP_PARTS)}
    finally:
        context.close()


def serve_samples() -> LiveServer:
    """The sample layers loaded into a temporary data directory, served on a free port."""
    from etl.runner import run_etl
    from tsukuba_gis.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="tsukuba-gis-viewer-bench-"))
    report = run_etl(Settings(data_dir=data_dir), quiet=True)
    if not report.ok:
        raise SystemExit(f"the sample ETL failed: {[(r.layer_id, r.error) for r in report.layers]}")
    return LiveServer(data_dir)


def summary(runs: list[dict[str, float]]) -> str:
    """Medians and ranges of the runs of one URL."""
    # A figure the page did not give in a run (e.g. no paint entry yet) is left out of its median.
    seen = {key: [r[key] for r in runs if r.get(key) is not None] for key in runs[0]}
    medians = {key: round(statistics.median(v)) for key, v in seen.items() if v}
    ranges = {key: (round(min(v)), round(max(v))) for key, v in seen.items() if v}
    return f"median ms: {json.dumps(medians)}  min-max: {json.dumps(ranges)}"


def main() -> None:
    """Print each run and the medians (per URL: several URLs take turns, for a fair comparison)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", action="append", help="a running server; repeat to compare (default: serve the samples here)"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--inline-tilejson", action="store_true", help="serve the config with each layer's TileJSON in it"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = None if args.url else serve_samples()
    urls = [url.rstrip("/") for url in args.url or [server.url]]
    runs: dict[str, list] = {url: [] for url in urls}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for url in urls:
                one_run(browser, url, args.inline_tilejson)  # warm the server's caches (not counted)
            for index in range(args.runs):
                for url in urls:
                    runs[url].append(one_run(browser, url, args.inline_tilejson))
                    times = "  ".join(
                        f"{k} {v:7.0f} ms" if v is not None else f"{k} {'-':>7} ms"
                        for k, v in runs[url][-1].items()
                    )
                    print(f"run {index + 1} {url}: {times}")
            browser.close()
    finally:
        if server:
            server.stop()
    for url in urls:
        print(url, summary(runs[url]))
    print("gzip bytes (this build):", json.dumps(gzip_sizes()))


if __name__ == "__main__":
    main()
