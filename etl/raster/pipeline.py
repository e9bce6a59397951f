"""One raster layer through every step: open -> mosaic -> check + statistics -> COG -> register.

Nothing is visible unless every step succeeds: the COG is written aside in the raster
directory and the store's raster writer registers it (renamed to its final name) in one
registry transaction; any error leaves the current version and its file as they were.
"""

import hashlib
import tempfile
import time
import warnings as pywarnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pyproj import Transformer

from etl.formats import FormatError
from etl.raster import cog, mosaic, stats
from etl.raster.sources import RasterInput, expand, open_inputs
from tsukuba_gis.errors import GisError
from tsukuba_gis.rasterdef import RasterLayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import RasterRecord, Store


@dataclass
class RasterReport:
    """What happened to one raster layer in one run (report.json, report.html).

    Attributes:
        status: ``loaded``, ``staged`` (``--dry-run``), ``skipped`` (unchanged) or ``failed``.
        raster: the stored version: size, CRS, nodata, resolution, bounds, COG structure.
        bands: statistics per band.
    """

    layer_id: str
    title: str
    status: str = "pending"
    version: int | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    raster: dict[str, Any] = field(default_factory=dict)
    bands: list[dict[str, Any]] = field(default_factory=list)
    decisions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    diff: dict[str, Any] | None = None
    note: str | None = None
    error: str | None = None
    published: list[dict[str, Any]] = field(default_factory=list)

    def add_time(self, step: str, started: float) -> None:
        """Add the time since ``started`` to a step's total."""
        self.timings[step] = round(self.timings.get(step, 0.0) + time.monotonic() - started, 4)


def checksum(layer: RasterLayerDef, sources_dir: Path) -> str:
    """SHA-256 over every file the layer reads, with their names (a renamed tile moves it)."""
    digest = hashlib.sha256()
    for source in layer.sources:
        for path in expand(source, sources_dir):
            digest.update(path.relative_to(sources_dir).as_posix().encode())
            with open(path, "rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()


def definition_checksum(layer: RasterLayerDef) -> str:
    """SHA-256 of the validated definition (a changed band, range or style reloads)."""
    return hashlib.sha256(layer.model_dump_json().encode()).hexdigest()


def _where(ds_transform, crs, row: int, col: int) -> str:
    x, y = ds_transform @ (col + 0.5, row + 0.5)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return f"row {row}, column {col} (lon {lon:.5f}, lat {lat:.5f})"


class RasterLoad:
    """Loads one raster layer into a new store version."""

    def __init__(self, layer: RasterLayerDef, store: Store, settings: Settings, progress=None):
        self.layer, self.store, self.settings = layer, store, settings
        self.report = RasterReport(layer.id, layer.title.ja)
        self.progress: Callable[[int], None] = progress or (lambda n: None)

    def run(self, meta: dict[str, Any], make_current: bool = True) -> RasterReport:
        """Open, check, write and register; on any error the store keeps the current version."""
        started = time.monotonic()
        raster_dir = self.settings.rasters_path
        raster_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".work-", dir=raster_dir) as work:
            inputs = self._open(Path(work))
            built = mosaic.build(inputs, Path(work) / "mosaic.vrt")
            self.report.decisions.update(built.decisions)
            # One file that says everything itself is read directly; otherwise through the VRT.
            source = inputs[0].dataset if len(inputs) == 1 and inputs[0].as_is else built.path
            scanned = None
            if not (built.overlaps or self.layer.target_crs):  # the mosaic's cells are the COG's
                scanned = self._scan(source, inputs)
            with self.store.raster_writer(self.layer.id, raster_dir) as writer:
                self._write(source, writer.path, inputs)
                if scanned is None:  # reprojected or overlapping: statistics of the written COG
                    scanned = self._scan(writer.path, inputs)
                meta["bands"] = scanned.bands
                meta["decisions"] = {**self.report.decisions, "sources": self.report.sources}
                meta["duration_s"] = round(time.monotonic() - started, 3)
                record = writer.commit(meta, make_current=make_current)
        self._describe(record)
        self.report.add_time("total", started)
        self.report.status = "loaded" if make_current else "staged"
        return self.report

    def _open(self, work: Path) -> list[RasterInput]:
        started = time.monotonic()
        inputs = open_inputs(self.layer, self.settings.sources_dir, work, self.settings.raster_max_bytes)
        for item in inputs:
            self.report.sources.append(
                {
                    "file": item.label,
                    "size": f"{item.width} x {item.height} x {item.count} {item.dtype}",
                    "bytes": item.path.stat().st_size,
                    "decisions": item.decisions,
                }
            )
        if inputs[0].count != len(self.layer.bands):
            raise FormatError(
                f"{inputs[0].label}: {inputs[0].count} band(s), the definition describes"
                f" {len(self.layer.bands)} ({', '.join(b.name for b in self.layer.bands)})"
            )
        self.report.add_time("open", started)
        return inputs

    def _scan(self, path: Path, inputs: list[RasterInput]) -> stats.Scan:
        started = time.monotonic()
        edges = self.layer.histogram_edges() or stats.natural_edges(inputs[0].dtype)
        label = inputs[0].label if len(inputs) == 1 else f"{self.layer.id} (mosaic of {len(inputs)} files)"
        try:
            found = stats.scan(path, label, edges, self.layer.value_range, self.progress)
        except FormatError:
            for item in inputs:  # name the file that cannot be read, not the mosaic
                stats.scan(item.dataset, item.label)
            raise
        self._check(found, inputs, path)
        self.report.add_time("check", started)
        return found

    def _check(self, found: stats.Scan, inputs: list[RasterInput], path: Path) -> None:
        files = ", ".join(i.label for i in inputs)
        if found.valid == 0:
            raise FormatError(
                f"{files}: every cell is no data (nodata {inputs[0].nodata}); check that this is"
                " the right file and its no-data value (the current version stays published)"
            )
        bad = found.out_of_range
        if bad.count:
            import rasterio

            with rasterio.open(path) as ds:
                where = _where(ds.transform, ds.crs, bad.row, bad.col)
            value_range = self.layer.value_range
            raise FormatError(
                f"{files}: {bad.count} cell(s) outside the declared value_range"
                f" {value_range.min:g}..{value_range.max:g}, e.g. {bad.value:g} in band {bad.band} at"
                f" {where}; check the unit and scale (the current version stays published)"
            )

    def _write(self, source: Path, target: Path, inputs: list[RasterInput]) -> None:
        started = time.monotonic()
        resampling = self.layer.resolved_resampling
        opts = cog.options(resampling, self.settings.raster_compression, self.layer.target_crs)
        if self.layer.target_crs:
            self.report.decisions["reprojection"] = (
                f"{inputs[0].crs.to_string()} -> {self.layer.target_crs} ({resampling}),"
                " as the definition says"
            )
        cog.write(source, target, opts, self.layer.id, self.settings.raster_cache_mb)
        structure = cog.check(target)
        self.report.raster["cog"] = {**structure, "resampling": resampling}
        self.report.add_time("write", started)

    def _describe(self, record: RasterRecord) -> None:
        self.report.version = record.version
        cog_structure = self.report.raster.get("cog", {})
        self.report.raster = {
            "file": record.file,
            "size_bytes": record.size_bytes,
            "width": record.width,
            "height": record.height,
            "band_count": record.band_count,
            "dtype": record.dtype,
            "crs": record.crs,
            "nodata": record.nodata,
            "resolution": list(record.resolution),
            "bounds": list(record.bounds),
            "bbox": list(record.bbox),
            "checksum": record.checksum,
            "cog": cog_structure,
        }
        self.report.bands = [
            {"name": b.name, **asdict(s)} for b, s in zip(self.layer.bands, record.bands, strict=True)
        ]


def _already_loaded(store: Store, layer_id: str, meta: dict[str, Any]):
    """The kept version with exactly these sources and definition, and a note if not current."""

    def same(record: RasterRecord) -> bool:
        return (record.source_checksum, record.definition_checksum) == (
            meta["source_checksum"],
            meta["definition_checksum"],
        )

    current = store.current_raster(layer_id)
    if current is not None and same(current):
        return current, None
    for record in store.raster_history(layer_id):
        if not record.current and (current is None or record.version > current.version) and same(record):
            return record, (
                f"these sources are already in v{record.version}, which is not current (staged by"
                f" --dry-run, or rolled back); `tsukuba-gis etl activate {layer_id} {record.version}`"
                " publishes it"
            )
    return None, None


def load_raster(
    layer: RasterLayerDef,
    store: Store,
    settings: Settings,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> RasterReport:
    """Load one raster layer unless its sources and definition are already loaded (``skipped``)."""
    report = RasterReport(layer.id, layer.title.ja)
    try:
        meta = {
            "source_checksum": checksum(layer, settings.sources_dir),
            "definition_checksum": definition_checksum(layer),
        }
        found, note = (None, None) if force else _already_loaded(store, layer.id, meta)
        if found is not None:
            report.status, report.version, report.note = "skipped", found.version, note
            return report
        with pywarnings.catch_warnings(record=True) as caught:  # GDAL's warnings go in the report
            pywarnings.simplefilter("always")
            report = RasterLoad(layer, store, settings, progress).run(meta, make_current=not dry_run)
        report.warnings += sorted({str(w.message) for w in caught})[:20]
    except (GisError, ValueError, OSError) as err:
        report.status, report.error = "failed", str(err)
    return report
