"""One layer through every step: read -> reproject -> repair/validate -> map schema -> write."""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd

from etl import geometry
from etl.datum import to_lonlat
from etl.formats import FormatError
from etl.read import open_source
from etl.schema import Warnings, check_columns, map_fields
from etl.source import ROW, Chunk
from tsukuba_gis.errors import GisError
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.store import Column, LayerWriter, Reject, Store

SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn")
MAX_REJECT_EXAMPLES = 20


@dataclass
class LayerReport:
    """What happened to one layer in one run (the report shows it as is)."""

    layer_id: str
    title: str
    status: str = "pending"
    version: int | None = None
    read: int = 0
    loaded: int = 0
    repaired: int = 0
    rejected: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)
    transforms: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reject_examples: list[dict[str, Any]] = field(default_factory=list)
    repaired_rows: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    published: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def add_time(self, step: str, started: float) -> None:
        """Add the time since ``started`` to a step's total."""
        self.timings[step] = round(self.timings.get(step, 0.0) + time.monotonic() - started, 4)


def checksum(layer: LayerDef, sources_dir: Path) -> str:
    """SHA-256 over every source file (with shapefile sidecars) of a layer."""
    digest = hashlib.sha256()
    for source in layer.sources:
        path = sources_dir / source.path
        parts = [path.with_suffix(s) for s in SIDECARS] if path.suffix.lower() == ".shp" else [path]
        for part in parts:
            if part.exists():
                digest.update(part.name.encode())
                with open(part, "rb") as handle:
                    while block := handle.read(1 << 20):
                        digest.update(block)
    return digest.hexdigest()


def definition_checksum(layer: LayerDef) -> str:
    """SHA-256 of the validated definition (a changed mapping reloads the layer)."""
    return hashlib.sha256(layer.model_dump_json().encode()).hexdigest()


class LayerLoad:
    """Loads one layer into a new store version; nothing is visible unless every step succeeds."""

    def __init__(self, layer: LayerDef, store: Store, sources_dir: Path,
                 progress: Callable[[int], None] | None = None):
        self.layer, self.store, self.sources_dir = layer, store, sources_dir
        self.report = LayerReport(layer.id, layer.title.ja)
        self.warnings = Warnings()
        self.seen_ids: dict[Any, str] = {}
        self.progress = progress or (lambda n: None)

    def run(self, meta: dict[str, Any]) -> LayerReport:
        """Load every source and commit; on any error the store keeps the current version."""
        columns = [Column(f.name, f.type) for f in self.layer.fields]
        started = time.monotonic()
        with self.store.writer(self.layer.id, columns, self.layer.geometry,
                               id_column=self.layer.id_field) as writer:
            for source in self.layer.sources:
                self._load_source(source, writer)
            if self.report.read != self.report.loaded + self.report.rejected:
                raise GisError(f"count mismatch: read {self.report.read} != loaded"
                               f" {self.report.loaded} + rejected {self.report.rejected}")
            meta["crs"] = {"transforms": self.report.transforms}
            record = writer.commit(meta)
        self.report.add_time("total", started)
        self.report.version = record.version
        self.report.status = "loaded"
        self.report.warnings = self.warnings.as_list()
        return self.report

    def _load_source(self, source, writer: LayerWriter) -> None:
        started = time.monotonic()
        opened = open_source(source, self.sources_dir)
        check_columns(self.layer, opened.columns, opened.label, self.warnings)
        self.report.add_time("read", started)
        read = 0
        for chunk in self._timed_chunks(opened.chunks):
            read += len(chunk.frame) + len(chunk.rejects)
            self._reject(writer, chunk.rejects)
            frame = self._transform(chunk.frame, opened, writer)
            if frame is not None and not frame.empty:
                writer.append(frame)
                self.report.loaded += len(frame)
            self.progress(len(chunk.frame) + len(chunk.rejects))
        if opened.feature_count is not None and not source.filter and opened.feature_count != read:
            self.warnings.add(f"{opened.label}: the file header says {opened.feature_count} features,"
                              f" {read} were read")
        self.report.read += read
        self.report.sources.append({"file": opened.label, "read": read, "decisions": opened.decisions})

    def _timed_chunks(self, chunks):
        iterator = iter(chunks)
        while True:
            started = time.monotonic()
            chunk: Chunk | None = next(iterator, None)
            self.report.add_time("read", started)
            if chunk is None:
                return
            yield chunk

    def _transform(self, frame: gpd.GeoDataFrame, opened, writer: LayerWriter):
        started = time.monotonic()
        frame, rejects = geometry.drop_missing(frame, opened.label)
        self._reject(writer, rejects)
        if frame.empty:
            return None
        try:
            frame, transform = to_lonlat(frame)
        except ValueError as err:
            raise FormatError(f"{opened.label}: cannot reproject from {opened.crs}: {err}") from None
        if transform.to_dict() not in self.report.transforms:
            self.report.transforms.append(transform.to_dict())
        self.report.add_time("reproject", started)
        started = time.monotonic()
        checked = geometry.clean(frame, self.layer.geometry, opened.label)
        self._reject(writer, checked.rejects)
        self.report.repaired += len(checked.repaired_rows)
        self.report.repaired_rows += [{"file": opened.label, "row": r} for r in checked.repaired_rows]
        self.report.add_time("validate", started)
        started = time.monotonic()
        mapped, rejects = map_fields(checked.frame, self.layer, opened.label, self.warnings)
        self._reject(writer, rejects)
        mapped = self._unique_ids(mapped, opened.label, writer)
        self.report.add_time("schema", started)
        return mapped.drop(columns=[ROW])

    def _unique_ids(self, frame: gpd.GeoDataFrame, label: str, writer: LayerWriter):
        key = self.layer.id_field
        if key is None:
            return frame
        duplicate = []
        for idx, value, row in zip(frame.index, frame[key], frame[ROW], strict=True):
            if value in self.seen_ids:
                duplicate.append(idx)
                reason = f"duplicate {key} {value!r} (first at {self.seen_ids[value]})"
                attributes = frame.loc[idx].drop([ROW, frame.geometry.name]).to_dict()
                self._reject(writer, [Reject(label, int(row), reason, attributes)])
            elif value is not None:
                self.seen_ids[value] = f"{label} row {row}"
        return frame.drop(index=duplicate)

    def _reject(self, writer: LayerWriter, rejects: list[Reject]) -> None:
        if not rejects:
            return
        writer.reject(rejects)
        self.report.rejected += len(rejects)
        room = MAX_REJECT_EXAMPLES - len(self.report.reject_examples)
        self.report.reject_examples += [
            {"file": r.source, "row": r.row, "reason": r.reason} for r in rejects[:max(room, 0)]]


def load_layer(layer: LayerDef, store: Store, sources_dir: Path, force: bool = False,
               progress: Callable[[int], None] | None = None) -> LayerReport:
    """Load one layer unless its sources and definition are unchanged (then ``skipped``)."""
    report = LayerReport(layer.id, layer.title.ja)
    try:
        meta = {"source_checksum": checksum(layer, sources_dir),
                "definition_checksum": definition_checksum(layer), "title": layer.title.ja}
        current = store.current(layer.id)
        if (not force and current is not None
                and current.source_checksum == meta["source_checksum"]
                and current.definition_checksum == meta["definition_checksum"]):
            report.status, report.version = "skipped", current.version
            report.loaded = current.feature_count
            return report
        report = LayerLoad(layer, store, sources_dir, progress).run(meta)
    except (GisError, ValueError, OSError) as err:
        report.status, report.error = "failed", str(err)
    return report
