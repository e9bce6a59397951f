"""An ETL run over many layers: each layer on its own, progress in the terminal, one report."""

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from etl.pipeline import LayerReport, load_layer
from etl.publish import publish
from etl.report import write_reports
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store

LOG = logging.getLogger(__name__)


@dataclass
class RunReport:
    """Every layer of one run; ``ok`` when nothing failed."""

    started_at: str
    store: str
    layers: list[LayerReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every layer loaded or was unchanged and every definition was valid."""
        return not self.problems and all(
            r.status in ("loaded", "skipped") and not any("error" in p for p in r.published)
            for r in self.layers)

    def to_dict(self) -> dict:
        """JSON-able form for report.json."""
        return {**asdict(self), "ok": self.ok}


def _selected(catalog, layer_ids: Sequence[str], report: RunReport):
    if not layer_ids:
        report.problems = [str(p) for p in catalog.problems]
        return list(catalog.layers.values())
    chosen = []
    for layer_id in layer_ids:
        if layer_id in catalog.layers:
            chosen.append(catalog.layers[layer_id])
        else:
            known = ", ".join(sorted(catalog.layers))
            report.problems.append(f"no valid layer definition {layer_id!r} (known: {known})")
    mine = {str(catalog.files[layer.id]) for layer in chosen}
    report.problems += [str(p) for p in catalog.problems if str(p.path) in mine]
    return chosen


def _load(layer, store, settings, force, progress) -> LayerReport:
    task = progress.add_task(layer.id, total=None)
    try:
        return load_layer(layer, store, settings.sources_dir, force,
                          progress=lambda n: progress.advance(task, n))
    except Exception as err:  # one broken layer must not stop the others
        LOG.exception("layer %s failed", layer.id)
        report = LayerReport(layer.id, layer.title.ja, status="failed")
        report.error = f"internal error ({type(err).__name__}): {err}"
        return report
    finally:
        progress.update(task, visible=False)


def run_etl(settings: Settings, layer_ids: Sequence[str] = (), force: bool = False,
            quiet: bool = False) -> RunReport:
    """Load the chosen layers (all when none are named) and write report.json/report.html."""
    started = time.monotonic()
    report = RunReport(datetime.now(UTC).isoformat(timespec="seconds"), settings.store_url)
    catalog = load_catalog(settings.layers_dir, settings.sources_dir)
    layers = _selected(catalog, layer_ids, report)
    store = open_store(settings.store_url, settings.keep_versions)
    store.migrate()
    console = Console(stderr=True, quiet=quiet)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        for layer in layers:
            result = _load(layer, store, settings, force, progress)
            if result.status in ("loaded", "skipped"):
                result.published = publish(settings, store, layer, store.current(layer.id))
            report.layers.append(result)
            console.print(_line(result))
    report.duration_s = round(time.monotonic() - started, 3)
    write_reports(report.to_dict(), settings.data_dir)
    return report


def _line(r: LayerReport) -> str:
    if r.status == "failed":
        return f"[red]✗ {r.layer_id}[/red]: {escape(r.error or '')}"
    if r.status == "skipped":
        return f"[dim]= {r.layer_id}: unchanged (v{r.version}, {r.loaded} features); --force reloads[/dim]"
    extra = f", [yellow]{len(r.warnings)} warning(s)[/yellow]" if r.warnings else ""
    return (f"[green]✓ {r.layer_id}[/green] v{r.version}: read {r.read}, loaded {r.loaded},"
            f" repaired {r.repaired}, rejected {r.rejected}{extra}")
