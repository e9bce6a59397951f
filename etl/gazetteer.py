"""The gazetteer: every searchable name of the public layers, with its kana reading and romaji.

Built after the layers are loaded, from the current version of every public layer whose
definition has a ``search:`` block (towns, landmarks, shelters, ...), and written to the store
as one more versioned table, ``gazetteer`` (both stores, through ``Store.writer``: kept
versions, atomic swap, ``store copy``), that is not a layer definition and so never an OGC
collection. The server's search (``server/placenames.py``) reads it; an entry names the layer
version it was made from, and the server ignores entries of a version that is no longer current.

Readings: a ``reading_field`` of the layer (landmarks); for towns, Japan Post's reading of the
大字・町名 (``search.readings``) and the reading of N丁目; for other names that start with a town
name of two or more characters, that town's reading for the start (竹園東小学校 → たけぞの東小学校;
``reading = "prefix"``). Nothing is guessed from a dictionary: names without a known reading are
searched by how they are written.
"""

import csv
import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args

import geopandas as gpd
import shapely

from etl.paths import in_sources
from tsukuba_gis.catalog import Catalog
from tsukuba_gis.errors import SourceError
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.names import chome_kana, chome_number, hepburn, hiragana
from tsukuba_gis.presentdef import SearchKind
from tsukuba_gis.store import Column, LayerRecord, Query, Store

LOG = logging.getLogger(__name__)
GAZETTEER_ID = "gazetteer"
# Bump when what the build writes changes, so an unchanged store is rebuilt once.
BUILD_VERSION = 2
COLUMNS = (
    Column("name", "string"),
    Column("kana", "string"),
    Column("romaji", "string"),
    Column("name_en", "string"),
    Column("aliases", "string"),
    Column("kind", "string"),
    Column("level", "string"),
    Column("layer", "string"),
    Column("layer_version", "integer"),
    Column("feature_id", "string"),
    Column("reading", "string"),
)
KINDS = set(get_args(SearchKind))
MIN_PREFIX = 2  # a one-character town (大, 島, 桜) would read too many names wrongly


@dataclass
class GazetteerReport:
    """What one build did: ``built``, ``skipped`` (nothing changed), ``empty`` or ``failed``."""

    status: str = "skipped"
    version: int | None = None
    entries: int = 0
    with_reading: int = 0
    layers: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for report.json."""
        return asdict(self)


def read_readings(path: Path) -> dict[str, str]:
    """``name -> hiragana reading`` of a readings CSV (``name,kana``, UTF-8)."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as err:
        raise SourceError(f"{path}: cannot read the readings file: {err}") from None
    if rows and not {"name", "kana"} <= set(rows[0]):
        raise SourceError(f"{path}: a readings file needs the columns name and kana")
    return {r["name"].strip(): hiragana(r["kana"].strip()) for r in rows if r["name"] and r["kana"]}


class Readings:
    """The town readings every name is read with (all ``search.readings`` files together)."""

    def __init__(self, towns: dict[str, str]):
        self.towns = towns
        self.prefixes = sorted((n for n in towns if len(n) >= MIN_PREFIX), key=len, reverse=True)

    def town(self, name: str) -> tuple[str, str, str] | None:
        """(kana, romaji, level) of a town name (吾妻一丁目, 大穂), None when Japan Post lacks it."""
        chome = chome_number(name)
        base = chome[0] if chome else name
        kana = self.towns.get(base)
        if kana is None:
            return None
        if chome is None:
            return kana, hepburn(kana).capitalize(), "oaza"
        return kana + chome_kana(chome[1]), f"{hepburn(kana).capitalize()} {chome[1]}-chome", "chome"

    def prefix(self, name: str) -> str | None:
        """The name with its leading town name read (竹園東小学校 → たけぞの東小学校), or None."""
        found = next((p for p in self.prefixes if name.startswith(p) and len(name) > len(p)), None)
        return None if found is None else self.towns[found] + name[len(found) :]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _entry(layer: LayerDef, props: dict, readings: Readings) -> dict[str, Any] | None:
    """The gazetteer row of one feature (without its position and ids), None without a name."""
    search = layer.search
    assert search is not None and layer.title_field
    name = _text(props.get(layer.title_field))
    if not name:
        return None
    kind = _text(props.get(search.kind_field)) if search.kind_field else search.kind
    details = [_text(props.get(d)) for d in search.detail_fields if _text(props.get(d))]
    row = {
        "name": " ".join([name, *details]),
        "kind": kind if kind in KINDS else "facility",
        "kana": None,
        "romaji": None,
        "name_en": _text(props.get(search.english_field)) or None if search.english_field else None,
        "aliases": _text(props.get(search.alias_field)) or None if search.alias_field else None,
        "level": None,
        "reading": None,
    }
    own = hiragana(_text(props.get(search.reading_field))) if search.reading_field else ""
    town = readings.town(name) if row["kind"] == "town" else None
    if own:
        romaji = " ".join(hepburn(word).capitalize() for word in own.split())
        row.update(kana=own, romaji=romaji, reading="layer")
    elif town and details:  # the 小字 is not read: the reading covers the 大字 only
        row.update(kana=" ".join([town[0], *details]), reading="prefix")
    elif town:
        row.update(kana=town[0], romaji=town[1], level=town[2], reading="japanpost")
    elif (prefixed := readings.prefix(name)) is not None:
        row.update(kana=prefixed, reading="prefix")
    if row["kind"] == "town":
        row["level"] = "koaza" if details else (row["level"] or ("chome" if chome_number(name) else "oaza"))
    return row


def _layer_rows(store: Store, layer: LayerDef, record: LayerRecord, readings: Readings) -> list[dict]:
    search = layer.search
    assert search is not None and layer.title_field
    select = tuple(dict.fromkeys([layer.title_field, *search.fields()]))
    page = store.query(record, Query(select=select, limit=record.feature_count + 1, with_count=False))
    points = shapely.get_coordinates(shapely.centroid(shapely.from_wkb(page.wkb)))
    rows = []
    for fid, props, (lon, lat) in zip(page.ids, page.properties, points, strict=True):
        row = _entry(layer, props, readings)
        if row is not None:
            rows.append(
                {
                    **row,
                    "layer": layer.id,
                    "layer_version": record.version,
                    "feature_id": str(fid),
                    "geometry": shapely.Point(lon, lat),
                }
            )
    return rows


def _searchable(catalog: Catalog, store: Store) -> list[tuple[LayerDef, LayerRecord]]:
    """Public layers with a ``search:`` block and a title field that are loaded, in the one order."""
    found = []
    for layer in catalog.in_order(catalog.public_layers()):
        record = store.current(layer.id)
        public = {f.name for f in layer.public_fields()}
        if layer.search and layer.title_field in public and record is not None:
            found.append((layer, record))
    return found


def _reading_files(layers: Sequence[LayerDef], sources_dir: Path) -> list[Path]:
    files = {layer.search.readings for layer in layers if layer.search and layer.search.readings}
    return [in_sources(sources_dir, name, f"{name} (search.readings)") for name in sorted(files)]


def _signature(layers: list[tuple[LayerDef, LayerRecord]], files: list[Path]) -> str:
    digest = hashlib.sha256(f"gazetteer v{BUILD_VERSION}".encode())
    for layer, record in layers:
        digest.update(json.dumps([layer.id, record.version, record.source_checksum]).encode())
        digest.update(layer.search.model_dump_json().encode() if layer.search else b"")
    for path in files:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def build_gazetteer(
    catalog: Catalog, store: Store, sources_dir: Path, force: bool = False
) -> GazetteerReport:
    """Write a new gazetteer version when a searchable layer or a readings file changed."""
    started = time.monotonic()
    report = GazetteerReport()
    try:
        layers = _searchable(catalog, store)
        report.layers = [layer.id for layer, _ in layers]
        files = _reading_files([layer for layer, _ in layers], sources_dir)
        signature = _signature(layers, files)
        current = store.current(GAZETTEER_ID)
        if current is not None and current.source_checksum == signature and not force:
            report.version, report.entries = current.version, current.feature_count
            return report
        towns: dict[str, str] = {}
        for path in files:
            towns.update(read_readings(path))
        readings = Readings(towns)
        rows = [row for layer, record in layers for row in _layer_rows(store, layer, record, readings)]
        if not rows:
            report.status = "empty"
            return report
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        with store.writer(GAZETTEER_ID, COLUMNS, "point") as writer:
            writer.append(frame[[c.name for c in COLUMNS] + ["geometry"]])
            meta = {
                "source_checksum": signature,
                "definition_checksum": hashlib.sha256(f"v{BUILD_VERSION}".encode()).hexdigest(),
                "title": "地名・施設名の索引（検索用）",
                "duration_s": round(time.monotonic() - started, 3),
            }
            record = writer.commit(meta)
        report.status, report.version, report.entries = "built", record.version, len(rows)
        report.with_reading = sum(1 for r in rows if r["kana"])
    except (SourceError, OSError) as err:
        report.status, report.error = "failed", str(err)
    return report
