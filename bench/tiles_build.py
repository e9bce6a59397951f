"""Vector tiles, in-process: generation time at ETL and tile latency/size on both stores.

The HTTP side (req/s of cold and warm tiles against TiPg) is in bench/serve.py; this measures
what happens behind a tile URL, on the bench's data set (bench/data.py, 200,000 buildings and
20,000 points) and on the sample layers:

- ``build``: GDAL's MVT encoder writing each layer's MBTiles (what ``tsukuba-gis etl`` does on a
  GeoPackage store), with tiles per zoom and their sizes;
- ``gpkg``: reading tiles from those MBTiles (every tile is pre-built: always "warm");
- ``postgis``: ST_AsMVT on a throwaway PostGIS holding a ``store copy`` of the same data, cold
  (tile cache emptied), then read from ``tg_tile_cache`` by a fresh process (table), then warm
  (from the process's memory);
- ``python`` (when mapbox-vector-tile is installed): one dense tile made on demand in Python
  (shapely + mapbox-vector-tile), the alternative to the pre-built tiles.

Usage::

    .venv/bin/python bench/tiles_build.py                 # everything, work dir /tmp/tsukuba-gis-bench
    .venv/bin/python bench/tiles_build.py --only build gpkg
"""

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import data, scenarios  # noqa: E402
from server.snapshot import Snapshots  # noqa: E402
from server.tiles.service import TileService  # noqa: E402
from tsukuba_gis.catalog import load_catalog  # noqa: E402
from tsukuba_gis.settings import Settings  # noqa: E402
from tsukuba_gis.store import open_store  # noqa: E402
from tsukuba_gis.tiles.mbtiles import build_mbtiles  # noqa: E402
from tsukuba_gis.tiles.rules import tile_spec  # noqa: E402

ZOOMS = {13: 3, 14: 5, 15: 7, 16: 9}  # zoom -> side of the block of tiles around つくば駅


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms"


def _sizes(tiles: list[bytes]) -> str:
    full = [len(t) for t in tiles if t]
    if not full:
        return "all empty"
    raw = max(len(gzip.decompress(t)) for t in tiles if t)
    return (
        f"{len(full)}/{len(tiles)} non-empty, gzip median {statistics.median(full) / 1024:.1f}"
        f" KB, max {max(full) / 1024:.1f} KB, raw max {raw / 1024:.1f} KB"
    )


def measure_build(settings: Settings, layer_ids: list[str]) -> None:
    """Time GDAL's MBTiles build of each layer (a fresh file each time)."""
    store = open_store(settings.store_url)
    catalog = load_catalog(settings.layers_dir)
    total = 0.0
    for layer_id in layer_ids:
        record = store.current(layer_id)
        spec = tile_spec(catalog.layers[layer_id], record, "internal")
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            path = build_mbtiles(store, record, spec, Path(tmp) / "t.mbtiles")
            took = time.perf_counter() - started
            size = path.stat().st_size
        total += took
        print(
            f"build {layer_id:22s} {record.feature_count:7d} features"
            f"  z{spec.minzoom}-{spec.maxzoom}  {took:6.2f} s  {size / 1e6:6.1f} MB"
        )
    print(f"build total {total:.2f} s")


def _timed(service: TileService, tileset, z: int, block) -> tuple[list[float], list[bytes]]:
    times, tiles = [], []
    for _, x, y in block:
        started = time.perf_counter()
        tiles.append(service.tile(tileset, z, x, y))
        times.append(time.perf_counter() - started)
    return times, tiles


def _service(settings: Settings) -> TileService:
    return TileService(Snapshots(settings, open_store(settings.store_url)), "public", "http://x/api")


def measure_serving(settings: Settings, label: str, layer_id: str) -> None:
    """Per zoom: TileService.tile over a block of tiles (PostGIS: cold, then warm), sizes."""
    service = _service(settings)
    tileset = service.tilesets()[layer_id]
    for z, side in ZOOMS.items():
        if not tileset.spec.minzoom <= z <= tileset.spec.maxzoom:
            continue
        block = scenarios.tiles(z, side)
        passes = ["warm"]
        if service.waits:  # PostGIS, cold: ST_AsMVT for every tile (the ETL's pre-built ones removed)
            service.store.tile_cache().clear(layer_id)
            # table: what a server process that has not seen the tile yet reads (tg_tile_cache,
            # pre-built by the ETL or by the cold pass); warm: from the process's own memory.
            passes = ["cold (ST_AsMVT)", "table", "warm (memory)"]
        for name in passes:
            if name == "table":
                service = _service(settings)  # a fresh process's memory: empty
                tileset = service.tilesets()[layer_id]
            times, tiles = _timed(service, tileset, z, block)
            print(
                f"{label} {layer_id:10s} {name:15s} z{z} {len(block):3d} tiles  {_ms(times)}  {_sizes(tiles)}"
            )


def measure_python(settings: Settings, layer_id: str) -> None:
    """One dense z14 tile made in Python: read by bbox, clip, simplify, encode."""
    try:
        import mapbox_vector_tile
    except ImportError:
        print("python: mapbox-vector-tile is not installed; skipped")
        return
    import numpy as np
    import shapely
    from pyproj import Transformer

    from tsukuba_gis.store import Query
    from tsukuba_gis.tiles import grid

    store = open_store(settings.store_url)
    record = store.current(layer_id)
    _, x, y = scenarios.tiles(14, 1)[0]
    left, bottom, right, top = grid.xy_bounds(14, x, y)
    started = time.perf_counter()
    to_4326 = Transformer.from_crs(3857, 4326, always_xy=True)
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    lon0, lat0 = to_4326.transform(left, bottom)
    lon1, lat1 = to_4326.transform(right, top)
    page = store.query(record, Query(bbox=(lon0, lat0, lon1, lat1), limit=1_000_000, with_count=False))
    geoms = shapely.transform(
        shapely.from_wkb(page.wkb), lambda xy: np.column_stack(to_3857.transform(xy[:, 0], xy[:, 1]))
    )
    clipped = shapely.clip_by_rect(geoms, left, bottom, right, top)
    features = [{"geometry": g, "properties": {"id": str(i)}} for g, i in zip(clipped, page.ids, strict=True)]
    bounds = (left, bottom, right, top)
    tile = mapbox_vector_tile.encode(
        [{"name": layer_id, "features": features}], default_options={"quantize_bounds": bounds}
    )
    took = time.perf_counter() - started
    print(
        f"python on demand z14: {len(features)} features, {took * 1000:.0f} ms, {len(tile) / 1024:.0f} KB raw"
    )


def measure_samples() -> None:
    """The tile publisher over every sample layer of layers/ (a fresh sample store)."""
    import etl.publish
    from etl.publish import tiles
    from etl.runner import run_etl

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        saved = list(etl.publish.PUBLISHERS)  # load without the tile publisher first
        etl.publish.PUBLISHERS[:] = [p for p in saved if not p.startswith("etl.publish.tiles")]
        try:
            run_etl(settings, quiet=True)
        finally:
            etl.publish.PUBLISHERS[:] = saved
        store = open_store(settings.store_url)
        catalog = load_catalog(settings.layers_dir)
        started = time.perf_counter()
        for record in store.layers():
            if record.layer_id in catalog.layers:  # not the place-name index the ETL writes
                tiles.publish(settings, store, catalog.layers[record.layer_id], record)
        print(
            f"build every sample layer ({len(store.layers())} layers): {time.perf_counter() - started:.2f} s"
        )


def _publish_tiles(settings: Settings) -> None:
    from etl.publish import tiles

    store = open_store(settings.store_url)
    catalog = load_catalog(settings.layers_dir)
    for record in store.layers():
        if record.layer_id in catalog.layers:  # not the place-name index the ETL writes
            tiles.publish(settings, store, catalog.layers[record.layer_id], record)


def _postgis_settings(project: Path, cluster) -> Settings:
    dsn = cluster.create_database("tiles") + "?schema=bench"
    data.copy_to_postgis(project, dsn, tiles=False)  # the pre-build is timed here
    return Settings(
        data_dir=project / "data", store=dsn, layers_dir=project / "layers", sources_dir=project / "sources"
    )


def main() -> None:
    """Run the chosen measurements and print one line per result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tsukuba-gis-bench"))
    parser.add_argument("--only", nargs="*", default=["build", "gpkg", "postgis", "python"])
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} (quiet below ~1.5)")
    project = data.prepare_project(args.workdir)
    data.load_gpkg(project)
    settings = Settings(
        data_dir=project / "data", layers_dir=project / "layers", sources_dir=project / "sources"
    )
    if "build" in args.only:
        measure_build(settings, ["buildings", "facilities"])
        measure_samples()
    if "gpkg" in args.only:
        _publish_tiles(settings)  # a store loaded before the tile publisher existed
        for layer_id in ("buildings", "facilities"):
            measure_serving(settings, "gpkg", layer_id)
    if "python" in args.only:
        measure_python(settings, "buildings")
    if "postgis" in args.only:
        from bench.servers import start_cluster

        cluster = start_cluster()
        try:
            pg = _postgis_settings(project, cluster)
            started = time.perf_counter()
            _publish_tiles(pg)  # what etl does on PostGIS: tippecanoe build + COPY into tg_tile_cache
            print(f"postgis: pre-build into tg_tile_cache {time.perf_counter() - started:.2f} s")
            for layer_id in ("buildings", "facilities"):
                measure_serving(pg, "postgis", layer_id)
        finally:
            cluster.destroy()


if __name__ == "__main__":
    main()
