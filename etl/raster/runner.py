"""The raster layers of an ETL run: each on its own, a progress bar each, a line each."""

import logging
from typing import Any

from rich.markup import escape

from etl.publish.raster_opendata import publish_raster
from etl.raster.diff import diff_rasters
from etl.raster.pipeline import RasterReport, load_raster
from tsukuba_gis.rasterdef import RasterLayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import Store

LOG = logging.getLogger(__name__)


def _load(layer: RasterLayerDef, store: Store, settings: Settings, force: bool, progress, dry_run: bool):
    task = progress.add_task(f"{layer.id} (raster)", total=None)
    try:
        return load_raster(
            layer, store, settings, force, progress=lambda n: progress.advance(task, n), dry_run=dry_run
        )
    except Exception as err:  # one broken layer must not stop the others
        LOG.exception("raster layer %s failed", layer.id)
        report = RasterReport(layer.id, layer.title.ja, status="failed")
        report.error = f"internal error ({type(err).__name__}): {err}"
        return report
    finally:
        progress.update(task, visible=False)


def publish_current(settings: Settings, store: Store, layer: RasterLayerDef) -> list[dict[str, Any]]:
    """The files derived from the layer's current version (open data); a failure is reported."""
    target = "etl.publish.raster_opendata:publish_raster"
    record = store.current_raster(layer.id)
    if record is None:
        return []
    try:
        return [{"publisher": target, **publish_raster(settings, layer, record)}]
    except Exception as err:  # a derived file must not undo or hide a successful load
        LOG.exception("publisher %s failed for %s", target, layer.id)
        return [{"publisher": target, "error": f"{type(err).__name__}: {err}"}]


def run_rasters(
    layers: list[RasterLayerDef],
    store: Store,
    settings: Settings,
    force: bool,
    dry_run: bool,
    progress,
    console,
) -> list[RasterReport]:
    """Load each raster layer, diff it against the version that was current, print its line."""
    reports = []
    for layer in layers:
        previous = store.current_raster(layer.id)
        result = _load(layer, store, settings, force, progress, dry_run)
        if result.status in ("loaded", "staged") and previous is not None:
            try:
                result.diff = diff_rasters(
                    store, settings.rasters_path, layer.id, previous.version, result.version
                )
            except Exception as err:  # the diff informs; it must not fail a committed load
                LOG.exception("diff of %s failed", layer.id)
                result.diff = {"error": f"{type(err).__name__}: {err}"}
        if result.status == "loaded" or (result.status == "skipped" and result.note is None):
            result.published = publish_current(settings, store, layer)
        reports.append(result)
        console.print(line(result))
    return reports


def line(r: RasterReport) -> str:
    """The terminal line of one raster layer."""
    if r.status == "failed":
        return f"[red]✗ {r.layer_id}[/red]: {escape(r.error or '')}"
    if r.status == "skipped":
        why = escape(r.note) if r.note else "unchanged"
        return f"[dim]= {r.layer_id}: {why} (raster v{r.version}); --force reloads[/dim]"
    raster: dict[str, Any] = r.raster
    extra = ""
    if r.diff and "changed_cells" in r.diff:
        d = r.diff
        extra = f"; vs v{d['from']}: {d['changed_cells']} cells changed ({d['changed_area_m2']} m²)"
    staged = (
        f" [yellow]staged, not published[/yellow] (publish: tsukuba-gis etl activate"
        f" {r.layer_id} {r.version})"
        if r.status == "staged"
        else ""
    )
    return (
        f"[green]✓ {r.layer_id}[/green] raster v{r.version}{staged}: {raster['width']} x {raster['height']}"
        f" x {raster['band_count']} {raster['dtype']}, {raster['crs']},"
        f" {raster['size_bytes'] / 1e6:.1f} MB COG{extra}"
    )
