"""An ETL run over many layers: each layer on its own, progress in the terminal, one report."""

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from etl import qamap
from etl.diff import diff_versions
from etl.gazetteer import GazetteerReport, build_gazetteer
from etl.pipeline import LayerReport, load_layer
from etl.quarantine import write_rejects
from etl.raster.pipeline import RasterReport
from etl.raster.runner import run_rasters
from etl.report import write_reports
from etl.versions import publish_current
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import Store, open_store, redact_url

LOG = logging.getLogger(__name__)


@dataclass
class RunReport:
    """Every layer of one run; ``ok`` when nothing failed."""

    started_at: str
    store: str
    dry_run: bool = False
    layers: list[LayerReport] = field(default_factory=list)
    rasters: list[RasterReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    gazetteer: GazetteerReport | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every layer loaded, was staged or unchanged, and every definition was valid."""
        return (
            not self.problems
            and all(
                r.status in ("loaded", "staged", "skipped") and not any("error" in p for p in r.published)
                for r in self.layers
            )
            and all(
                r.status in ("loaded", "staged", "skipped") and not any("error" in p for p in r.published)
                for r in self.rasters
            )
            and (self.gazetteer is None or self.gazetteer.status != "failed")
        )

    def to_dict(self) -> dict:
        """JSON-able form for report.json."""
        return {**asdict(self), "ok": self.ok}


def _selected(catalog, layer_ids: Sequence[str], report: RunReport):
    """The vector and the raster layers to load (all when none are named)."""
    if not layer_ids:
        report.problems = [str(p) for p in catalog.problems]
        return list(catalog.layers.values()), list(catalog.rasters.values())
    chosen, rasters = [], []
    for layer_id in layer_ids:
        if layer_id in catalog.layers:
            chosen.append(catalog.layers[layer_id])
        elif layer_id in catalog.rasters:
            rasters.append(catalog.rasters[layer_id])
        else:
            known = ", ".join(sorted(catalog.files))
            report.problems.append(f"no valid layer definition {layer_id!r} (known: {known})")
    mine = {str(catalog.files[layer.id]) for layer in [*chosen, *rasters]}
    # Problems of the named layers, valid or not (an invalid one is not in catalog.layers).
    report.problems += [
        str(p) for p in catalog.problems if str(p.path) in mine or Path(p.path).stem in layer_ids
    ]
    return chosen, rasters


def _load(layer, store, settings, force, progress, sample, dry_run) -> LayerReport:
    task = progress.add_task(layer.id, total=None)
    try:
        return load_layer(
            layer,
            store,
            settings.sources_dir,
            force,
            progress=lambda n: progress.advance(task, n),
            sample=sample,
            dry_run=dry_run,
        )
    except Exception as err:  # one broken layer must not stop the others
        LOG.exception("layer %s failed", layer.id)
        report = LayerReport(layer.id, layer.title.ja, status="failed")
        report.error = f"internal error ({type(err).__name__}): {err}"
        return report
    finally:
        progress.update(task, visible=False)


def _after_load(result: LayerReport, layer: LayerDef, store: Store, settings: Settings, previous) -> None:
    """Diff against the version that was current, and the files derived from the new one."""
    # The load compared the versions itself as it wrote (etl/diff.py VersionDiff).
    if result.status in ("loaded", "staged") and previous is not None and result.diff is None:
        try:
            result.diff = diff_versions(store, layer.id, previous.version, result.version, layer.title_field)
        except Exception as err:  # the diff informs; it must not fail a committed load
            LOG.exception("diff of %s failed", layer.id)
            result.diff = {"error": f"{type(err).__name__}: {err}"}
    if result.status == "loaded" or (result.status == "skipped" and result.note is None):
        result.published = publish_current(settings, store, layer)
    elif result.status == "staged":  # the staged version's quarantine, for review
        name = f"{layer.id}.v{result.version}"
        geojson, table = write_rejects(
            settings.data_dir, name, layer.id, result.version, store.rejects(layer.id, result.version)
        )
        result.published = [
            {
                "publisher": "etl.quarantine:write_rejects",
                "rejects": f"{geojson.parent.name}/{geojson.name}",
                "csv": f"{table.parent.name}/{table.name}",
            }
        ]


def run_etl(
    settings: Settings,
    layer_ids: Sequence[str] = (),
    force: bool = False,
    quiet: bool = False,
    dry_run: bool = False,
) -> RunReport:
    """Load the chosen layers (all when none are named) and write report.json/report.html.

    ``dry_run`` stages each changed layer as a new version that is not current, and reports
    what it would change; ``tsukuba-gis etl activate LAYER VERSION`` publishes it.
    """
    started = time.monotonic()
    # The report is read by people and kept on disk: never with the database password.
    report = RunReport(
        datetime.now(UTC).isoformat(timespec="seconds"), redact_url(settings.store_url), dry_run
    )
    catalog = load_catalog(settings.layers_dir, settings.sources_dir)
    layers, rasters = _selected(catalog, layer_ids, report)
    store = open_store(settings.store_url, settings.keep_versions)
    store.migrate()
    console = Console(stderr=True, quiet=quiet)
    maps: dict[str, str] = {}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    # disable: no refresh thread competing for the GIL when nobody watches (cron, -q).
    with Progress(*columns, console=console, transient=True, disable=quiet) as progress:
        for layer in layers:
            sample = qamap.MapSample()
            previous = store.current(layer.id)
            result = _load(layer, store, settings, force, progress, sample, dry_run)
            _after_load(result, layer, store, settings, previous)
            if result.status in ("loaded", "staged"):
                maps[layer.id] = qamap.render(sample, settings.basemap_pale_url)
            report.layers.append(result)
            console.print(_line(result))
        report.rasters = run_rasters(rasters, store, settings, force, dry_run, progress, console)
    if any(r.status == "loaded" for r in report.layers):  # change records past their time
        store.prune_change_records(settings.changes_keep_days)
    if not dry_run:  # a staged version is not current: the names of the current ones stay
        report.gazetteer = build_gazetteer(catalog, store, settings.sources_dir, force)
        console.print(_gazetteer_line(report.gazetteer))
    report.duration_s = round(time.monotonic() - started, 3)
    write_reports(report.to_dict(), settings.data_dir, maps)
    return report


def _gazetteer_line(g: GazetteerReport) -> str:
    if g.status == "failed":
        return f"[red]✗ gazetteer[/red]: {escape(g.error or '')}"
    if g.status == "built":
        return f"[green]✓ gazetteer[/green] v{g.version}: {g.entries} names, {g.with_reading} with a reading"
    return f"[dim]= gazetteer: {g.status} ({g.entries} names)[/dim]"


def _line(r: LayerReport) -> str:
    if r.status == "failed":
        return f"[red]✗ {r.layer_id}[/red]: {escape(r.error or '')}"
    if r.status == "skipped":
        why = escape(r.note) if r.note else "unchanged"
        return f"[dim]= {r.layer_id}: {why} (v{r.version}, {r.loaded} features); --force reloads[/dim]"
    extra = f", [yellow]{len(r.warnings)} warning(s)[/yellow]" if r.warnings else ""
    if r.diff and "added" in r.diff:
        extra += f"; vs v{r.diff['from']}: +{r.diff['added']} -{r.diff['removed']} ~{r.diff['changed']}"
    if r.live:
        counts = ", ".join(f"{k} {v}" for k, v in r.live["counts"].items()) or "nothing to carry"
        extra += f"; live edits ({r.live['rule']}): {escape(counts)} (report)"
    staged = (
        f" [yellow]staged, not published[/yellow] (publish: tsukuba-gis etl activate"
        f" {r.layer_id} {r.version})"
        if r.status == "staged"
        else ""
    )
    return (
        f"[green]✓ {r.layer_id}[/green] v{r.version}{staged}: read {r.read}, loaded {r.loaded},"
        f" repaired {r.repaired}, rejected {r.rejected}{extra}"
    )
