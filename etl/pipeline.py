"""One layer through every step: read -> reproject -> repair/validate -> map schema -> write.

Nothing is visible unless every step of every source succeeds: the store writer holds the
new version in one transaction, and any error leaves the current version as it was.
"""

import hashlib
import time
import warnings as pywarnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from etl import datum, geometry
from etl.diff import VersionDiff
from etl.formats import FormatError
from etl.layerreport import LayerReport
from etl.live import LiveCarry
from etl.paths import SHAPEFILE_PARTS
from etl.qamap import MapSample
from etl.read import open_source
from etl.schema import Warnings, check_columns, code_tables, map_fields
from etl.source import ROW, Chunk, OpenedSource
from etl.unique import IdRegistry
from tsukuba_gis.errors import GisError
from tsukuba_gis.layerdef import LayerDef, SourceDef
from tsukuba_gis.store import Column, LayerWriter, Reject, Store
from tsukuba_gis.store.editing import now_utc

SIDECARS = SHAPEFILE_PARTS

__all__ = ["LayerLoad", "LayerReport", "checksum", "definition_checksum", "load_layer"]


def _files(layer: LayerDef, sources_dir: Path) -> list[Path]:
    files = []
    for source in layer.sources:
        path = sources_dir / source.path
        shapefile = path.suffix.lower() == ".shp"
        files += [path.with_suffix(s) for s in SIDECARS] if shapefile else [path]
    return files + [sources_dir / f.codelist for f in layer.fields if f.codelist]


def checksum(layer: LayerDef, sources_dir: Path) -> str:
    """SHA-256 over every file a layer reads (sources, shapefile sidecars, code lists)."""
    digest = hashlib.sha256()
    for part in _files(layer, sources_dir):
        if part.is_file():
            digest.update(part.name.encode())
            with open(part, "rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
    return digest.hexdigest()


def definition_checksum(layer: LayerDef) -> str:
    """SHA-256 of the validated definition (a changed mapping reloads the layer)."""
    return hashlib.sha256(layer.model_dump_json().encode()).hexdigest()


def run_id() -> str:
    """The id of an ETL run in change records (``etl:<run id>``): its start, UTC."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class DiffingWriter(LayerWriter):
    """A writer that also shows each chunk to a VersionDiff (one pass: etl/diff.py)."""

    def __init__(self, writer: LayerWriter, diff: VersionDiff):
        self.writer, self.diff = writer, diff

    def append(self, frame: gpd.GeoDataFrame) -> None:
        """Write the chunk and compare it."""
        self.writer.append(frame)
        self.diff.add(frame)

    def reject(self, rejects: Sequence[Reject]) -> None:
        """Quarantine as the writer does."""
        self.writer.reject(rejects)

    def commit(self, meta: dict[str, Any], make_current: bool = True):
        """Commit through the writer."""
        return self.writer.commit(meta, make_current)

    def __exit__(self, exc_type, exc, tb) -> None:
        """Nothing of its own: the wrapped writer is the context manager."""


class LayerLoad:
    """Loads one layer into a new store version; nothing is visible unless every step succeeds."""

    def __init__(
        self,
        layer: LayerDef,
        store: Store,
        sources_dir: Path,
        progress: Callable[[int], None] | None = None,
        sample: MapSample | None = None,
    ):
        self.layer, self.store, self.sources_dir = layer, store, sources_dir
        self.report = LayerReport(layer.id, layer.title.ja)
        self.warnings = Warnings()
        self.ids = IdRegistry()
        self.codes: dict[str, dict[str, str]] = {}
        self.progress = progress or (lambda n: None)
        self.sample = sample or MapSample()
        self.carry: LiveCarry | None = None

    def run(self, meta: dict[str, Any], make_current: bool = True) -> LayerReport:
        """Load every source and commit; on any error the store keeps the current version."""
        columns = [Column(f.name, f.type) for f in self.layer.fields]
        started = time.monotonic()
        self.codes = code_tables(self.layer, self.sources_dir)
        with self.store.writer(
            self.layer.id, columns, self.layer.geometry, id_column=self.layer.id_field
        ) as stored:
            # Read after the writer holds the layer's lock: no live edit can land in between.
            self.carry = LiveCarry.read(self.store, self.layer)
            writer = self._diffing(stored)
            for source in self.layer.sources:
                self._load_source(source, writer)
            self._check_totals()
            self._carry_over(writer)
            meta["crs"] = {
                "transforms": self.report.transforms,
                "decisions": [s["decisions"] for s in self.report.sources],
            }
            if isinstance(writer, DiffingWriter):  # the records go into the switch's transaction
                self.report.diff, meta["change_records"] = writer.diff.finish(
                    stored.version, f"etl:{meta.get('run_id') or run_id()}", now_utc()
                )
            record = stored.commit(meta, make_current=make_current)
        self.report.add_time("total", started)
        self.report.version = record.version
        self.report.status = "loaded" if make_current else "staged"
        self.report.warnings = self.warnings.as_list()
        return self.report

    def _diffing(self, writer: LayerWriter) -> LayerWriter:
        """The writer, comparing what it takes with the current version when there is one (a
        first load changes nothing anyone followed: no records)."""
        previous = self.store.current(self.layer.id)
        if previous is None:
            return writer
        names = [f.name for f in self.layer.fields]
        diff = VersionDiff(self.store, previous, names, self.layer.id_field, self.layer.title_field)
        return DiffingWriter(writer, diff)

    def _carry_over(self, writer: LayerWriter) -> None:
        """Features staff added that the source lacks (``keep_live``), and the report of it all."""
        if self.carry is None:
            return
        extra = self.carry.extra()
        if extra is not None and not extra.empty:
            writer.append(extra)
        self.report.live = self.carry.summary()

    def _check_totals(self) -> None:
        r = self.report
        if r.read != r.loaded + r.rejected:
            raise GisError(f"count mismatch: read {r.read} != loaded {r.loaded} + rejected {r.rejected}")
        files = ", ".join(s["file"] for s in r.sources)
        if r.read == 0 and not self.layer.live_only:
            raise FormatError(
                f"{files}: no features at all; check that this is the right file"
                " (the current version stays published)"
            )
        if r.loaded == 0 and r.read:
            first = r.reject_examples[0]
            raise FormatError(
                f"{files}: every one of the {r.read} features was rejected, e.g."
                f" {first['file']} row {first['row']}: {first['reason']}; nothing"
                " was published (check the CRS and the coordinate columns)"
            )

    def _load_source(self, source: SourceDef, writer: LayerWriter) -> None:
        started = time.monotonic()
        with pywarnings.catch_warnings(record=True) as caught:
            pywarnings.simplefilter("always")
            opened = open_source(source, self.sources_dir)
            if opened.feature_count == 0 and not self.layer.live_only:
                raise FormatError(
                    f"{opened.label}: no features at all; check that this is the"
                    " right file (the current version stays published)"
                )
            check_columns(self.layer, opened.columns, opened.label, self.warnings, opened.quiet_columns)
            self.report.add_time("read", started)
            read = self._load_chunks(opened, writer)
        for caught_warning in caught:  # GDAL and reader warnings belong in the report
            self.warnings.add(f"{opened.label}: {caught_warning.message}")
        if opened.feature_count is not None and not source.filter and opened.feature_count != read:
            self.warnings.add(
                f"{opened.label}: the file header says {opened.feature_count} features, {read} were read"
            )
        self.report.read += read
        self.report.sources.append({"file": opened.label, "read": read, "decisions": opened.decisions})

    def _load_chunks(self, opened: OpenedSource, writer: LayerWriter) -> int:
        read = 0
        for chunk in self._timed_chunks(opened.chunks):
            read += len(chunk.frame) + len(chunk.rejects)
            self._reject(writer, chunk.rejects)
            frame = self._transform(chunk.frame, opened.label, writer)
            if frame is not None and not frame.empty:
                started = time.monotonic()
                writer.append(frame)
                self.report.loaded += len(frame)
                self.report.add_time("write", started)
            self.progress(len(chunk.frame) + len(chunk.rejects))
        return read

    def _timed_chunks(self, chunks):
        iterator = iter(chunks)
        while True:
            started = time.monotonic()
            chunk: Chunk | None = next(iterator, None)
            self.report.add_time("read", started)
            if chunk is None:
                return
            yield chunk

    def _transform(self, frame: gpd.GeoDataFrame, label: str, writer: LayerWriter):
        started = time.monotonic()
        frame = self._to_lonlat(frame, label, writer)
        self.report.add_time("reproject", started)
        if frame is None:
            return None
        started = time.monotonic()
        checked = geometry.clean(frame, self.layer.geometry, label)
        self._reject(writer, checked.rejects)
        self.report.repaired += checked.repaired_count
        self.report.add_examples(
            "repaired_examples",
            [{k: v for k, v in r.items() if k != "geometry_wkt"} for r in checked.repaired],
        )
        for item in checked.repaired:
            self.sample.add_marked("repaired", item["geometry_wkt"], f"row {item['row']}: {item['reason']}")
        self.report.add_time("validate", started)
        started = time.monotonic()
        mapped, rejects = map_fields(checked.frame, self.layer, label, self.warnings, self.codes)
        self._reject(writer, rejects)
        mapped = self._unique_ids(mapped, checked.frame, label, writer)
        if self.carry is not None:
            mapped = self.carry.apply(mapped)
        self._sample(mapped)
        self.report.add_time("schema", started)
        return mapped.drop(columns=[ROW])

    def _to_lonlat(self, frame: gpd.GeoDataFrame, label: str, writer: LayerWriter):
        """Quarantine what cannot be reprojected (no geometry, not in Japan, off the Tokyo grid)."""
        frame, rejects = geometry.drop_missing(frame, label)
        self._reject(writer, rejects)
        try:
            frame, rejects = geometry.check_source_extent(frame, label)
            self._reject(writer, rejects)
            off_grid = datum.outside_mesh(frame)
            if off_grid.any():
                # Their geometry, for the quarantine, through PROJ's approximate Helmert shift.
                shown = frame[off_grid].to_crs("EPSG:4326")
                self._reject(
                    writer,
                    geometry.reject_rows(shown, np.ones(len(shown), bool), label, datum.OUTSIDE_MESH_REASON),
                )
                frame = frame[~off_grid]
            if frame.empty:
                return None
            frame, transform = datum.to_lonlat(frame)
        except ValueError as err:
            raise FormatError(f"{label}: cannot reproject from {frame.crs}: {err}") from None
        if transform.to_dict() not in self.report.transforms:
            self.report.transforms.append(transform.to_dict())
        return frame

    def _unique_ids(self, frame: gpd.GeoDataFrame, source: gpd.GeoDataFrame, label: str, writer: LayerWriter):
        """Quarantine features whose id was seen before (with their source attributes)."""
        key = self.layer.id_field
        if key is None:
            return frame
        found = self.ids.duplicates(frame[key], frame[ROW], label)
        if not found:
            return frame
        mask = np.zeros(len(frame), dtype=bool)
        mask[[i for i, _ in found]] = True
        values = frame[key].to_numpy()
        reasons = [
            f"duplicate {key} {values[i]!r} (first at {where}); give each feature its own {key}"
            for i, where in found
        ]
        self._reject(writer, geometry.reject_rows(source.loc[frame.index], mask, label, reasons))
        return frame[~mask]

    def _sample(self, frame: gpd.GeoDataFrame) -> None:
        name = self.layer.title_field or self.layer.id_field
        rows = frame[ROW].to_numpy()
        values = frame[name].to_numpy() if name else None

        def labels(positions: np.ndarray) -> list[str]:
            if values is None:
                return [f"row {rows[i]}" for i in positions]
            return [f"{values[i]} (row {rows[i]})" for i in positions]

        self.sample.add_loaded(frame.geometry.to_numpy(), labels)

    def _reject(self, writer: LayerWriter, rejects: list[Reject]) -> None:
        if not rejects:
            return
        writer.reject(rejects)
        self.report.rejected += len(rejects)
        self.report.add_examples(
            "reject_examples", [{"file": r.source, "row": r.row, "reason": r.reason} for r in rejects]
        )
        for r in rejects:
            self.sample.add_marked("rejected", r.geometry_wkt, f"row {r.row}: {r.reason}")


def _already_loaded(store: Store, layer_id: str, meta: dict[str, Any]):
    """The kept version holding exactly these sources and definition, and a note if not current.

    A non-current version newer than the current one was staged (``--dry-run``) or rolled
    back from: loading the same files again would silently re-publish what staff withdrew.
    """

    def same(record) -> bool:
        return (
            record.source_checksum == meta["source_checksum"]
            and record.definition_checksum == meta["definition_checksum"]
        )

    current = store.current(layer_id)
    if current is not None and same(current):
        return current, None
    for record in store.history(layer_id):
        if not record.current and (current is None or record.version > current.version) and same(record):
            return record, (
                f"these sources are already in v{record.version}, which is not"
                " current (staged by --dry-run, or rolled back); `tsukuba-gis etl"
                f" activate {layer_id} {record.version}` publishes it"
            )
    return None, None


def load_layer(
    layer: LayerDef,
    store: Store,
    sources_dir: Path,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
    sample: MapSample | None = None,
    dry_run: bool = False,
) -> LayerReport:
    """Load one layer unless its sources and definition are already loaded (then ``skipped``).

    ``dry_run`` stages the new version (kept, not current) so it can be diffed first.
    """
    report = LayerReport(layer.id, layer.title.ja)
    try:
        meta = {
            "source_checksum": checksum(layer, sources_dir),
            "definition_checksum": definition_checksum(layer),
            "title": layer.title.ja,
        }
        found, note = (None, None) if force else _already_loaded(store, layer.id, meta)
        if found is not None:
            report.status, report.version, report.note = "skipped", found.version, note
            report.loaded = found.feature_count
            return report
        report = LayerLoad(layer, store, sources_dir, progress, sample).run(meta, make_current=not dry_run)
    except (GisError, ValueError, OSError) as err:
        report.status, report.error = "failed", str(err)
    return report
