"""The store interface every backend implements (GeoPackage embedded, PostGIS scale-out)."""

from abc import ABC, abstractmethod
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import geopandas as gpd

from tsukuba_gis.errors import EditConflict, NotFound
from tsukuba_gis.store.notify import NotifyTables

FieldType = Literal["string", "integer", "number", "boolean", "date"]
EditKind = Literal["add", "modify", "delete"]
RecordKind = Literal["added", "removed", "modified"]


@dataclass(frozen=True)
class Column:
    """A published column of a layer table."""

    name: str
    type: FieldType


@dataclass(frozen=True)
class LayerRecord:
    """One loaded version of a layer, as the registry table records it."""

    layer_id: str
    version: int
    table: str
    current: bool
    geometry_type: str
    feature_count: int
    rejected_count: int
    bbox: tuple[float, float, float, float] | None
    columns: tuple[Column, ...]
    source_checksum: str
    definition_checksum: str
    loaded_at: str
    duration_s: float
    crs: dict[str, Any] = field(default_factory=dict)
    id_column: str | None = None
    edit_seq: int = 0
    edited_at: str | None = None

    @property
    def etag(self) -> str:
        """A validator for HTTP caching that changes whenever the served data does (a new
        version, and every live edit of this one: ``edit_seq``)."""
        edits = f"-e{self.edit_seq}" if self.edit_seq else ""
        return f'"{self.layer_id}-{self.version}-{self.source_checksum[:12]}{edits}"'

    @property
    def changed_at(self) -> str:
        """When the served data last changed: the load, or the last live edit."""
        return max(self.loaded_at, self.edited_at or "")


@dataclass(frozen=True)
class Reject:
    """A source feature that was not loaded, kept with its reason (the quarantine)."""

    source: str
    row: int
    reason: str
    attributes: dict[str, Any]
    geometry_wkt: str | None = None


@dataclass(frozen=True)
class Query:
    """A features query, already validated by the caller.

    Attributes:
        bbox: lon/lat box; features whose geometry intersects it.
        equals: property = value filters.
        sortby: (column, ascending) pairs.
        select: the columns to return (None: all the caller may see).
        filter: a CQL2 filter as a checked pygeofilter tree (``tsukuba_gis/store/cql.py``), or None.
    """

    bbox: tuple[float, float, float, float] | None = None
    equals: tuple[tuple[str, Any], ...] = ()
    sortby: tuple[tuple[str, bool], ...] = ()
    select: tuple[str, ...] | None = None
    offset: int = 0
    limit: int = 10
    skip_geometry: bool = False
    with_count: bool = True
    filter: Any = None


@dataclass
class FeaturePage:
    """Rows of one page: ids, WKB geometries (or None) and property rows."""

    ids: list[Any]
    wkb: list[bytes | None]
    properties: list[dict[str, Any]]
    number_matched: int | None


class LayerWriter(AbstractContextManager):
    """Writes one new version of a layer; nothing is visible until ``commit``.

    Attributes:
        version: the number the new version gets.
    """

    version: int

    @abstractmethod
    def append(self, frame: gpd.GeoDataFrame) -> None:
        """Add loaded features (published columns, EPSG:4326 geometry)."""

    @abstractmethod
    def reject(self, rejects: Sequence[Reject]) -> None:
        """Add features to the quarantine of this version."""

    @abstractmethod
    def commit(self, meta: dict[str, Any], make_current: bool = True) -> LayerRecord:
        """Keep the new version and, unless ``make_current`` is False (a staged version, e.g.
        ``etl --dry-run``), make it current, atomically; return its record.

        ``meta["change_records"]``: what the switch changes (ChangeRecord), written in the same
        transaction when the version becomes current."""


def grown_bbox(bbox: list[float] | None, bounds: Any) -> list[float]:
    """``bbox`` (None: none yet) grown to hold every row of ``bounds``, an (n, 4) array of
    minx, miny, maxx, maxy (shapely's ``bounds``): what a writer keeps over its chunks."""
    box = [
        float(bounds[:, 0].min()),
        float(bounds[:, 1].min()),
        float(bounds[:, 2].max()),
        float(bounds[:, 3].max()),
    ]
    if bbox is None:
        return box
    return [min(bbox[0], box[0]), min(bbox[1], box[1]), max(bbox[2], box[2]), max(bbox[3], box[3])]


@dataclass(frozen=True)
class BandStats:
    """Statistics of one band of a stored raster version (no-data cells left out).

    ``histogram[i]`` counts cells with ``edges[i] <= value < edges[i + 1]`` (the last bin
    includes its upper edge); the edges come from the definition's classes, breaks or value
    range, else from the band's min and max.
    """

    min: float | None
    max: float | None
    mean: float | None
    stddev: float | None
    valid_count: int
    nodata_count: int
    edges: tuple[float, ...] = ()
    histogram: tuple[int, ...] = ()


@dataclass(frozen=True)
class RasterRecord:
    """One loaded version of a raster layer: a COG file and what the registry knows of it.

    Attributes:
        file: the COG, relative to the raster directory (``<layer>/v<N>-<checksum>.tif``).
        checksum: SHA-256 of the COG file.
        crs: ``EPSG:nnnn`` when the CRS has a code, else its WKT.
        bounds: (left, bottom, right, top) in ``crs``.
        bbox: the same box in lon/lat (EPSG:4326), for catalogues and the viewer.
        resolution: cell size (x, y) in ``crs`` units.
        decisions: what the load decided and why (CRS, nodata, mosaic, reprojection).
    """

    layer_id: str
    version: int
    current: bool
    file: str
    checksum: str
    size_bytes: int
    crs: str
    width: int
    height: int
    band_count: int
    dtype: str
    nodata: float | None
    resolution: tuple[float, float]
    bounds: tuple[float, float, float, float]
    bbox: tuple[float, float, float, float]
    bands: tuple[BandStats, ...]
    source_checksum: str
    definition_checksum: str
    loaded_at: str
    duration_s: float
    decisions: dict[str, Any] = field(default_factory=dict)

    def path(self, raster_dir: Path) -> Path:
        """Where the COG of this version is under a raster directory."""
        return raster_dir / self.file

    @property
    def etag(self) -> str:
        """A validator for HTTP caching that changes whenever the served raster does."""
        return f'"{self.layer_id}-r{self.version}-{self.checksum[:12]}"'


class RasterWriter(AbstractContextManager):
    """Writes one new version of a raster layer; nothing is visible until ``commit``.

    Attributes:
        path: where the caller writes the COG: a file aside in the raster directory, renamed
            to its final name by ``commit`` (removed when the writer is left without one).
    """

    path: Path

    @abstractmethod
    def commit(self, meta: dict[str, Any], make_current: bool = True) -> RasterRecord:
        """Register the COG at ``path`` as the next version (or ``version`` given to the
        writer) and, unless ``make_current`` is False, make it current, atomically.

        ``meta``: ``source_checksum``, ``definition_checksum``, ``bands`` (BandStats per
        band), ``decisions``; ``loaded_at``/``duration_s`` too for a store copy. The file's
        structure (CRS, size, bounds, dtype) and checksum are read from the file itself.
        """


# (z, x, y from the top, gzip-compressed MVT) of a tile set, streamed; close() stops it early
TileRows = Generator[tuple[int, int, int, bytes], None, None]


@dataclass(frozen=True)
class TileSpec:
    """What the tiles of one layer version look like for one audience.

    Attributes:
        variant: "public" or "internal"; staff share the public tiles when they carry the same.
        fields: (name, type) of the attributes every feature carries, in order.
        id_field: the attribute holding the feature's OGC API id ("fid" when the layer has none).
        key: changes with anything the tile bytes depend on (version, rules, fields, zooms).
    """

    layer_id: str
    version: int
    variant: str
    geometry: str
    fields: tuple[tuple[str, str], ...]
    id_field: str
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float]
    key: str

    @property
    def cache_variant(self) -> str:
        """The variant with its key, for caches keyed by (layer, version, variant, z, x, y)."""
        return f"{self.variant}-{self.key}"


def feature_etag(version: int, revision: int) -> str:
    """The strong ETag of one feature: its layer version and revision (``"3.7"``)."""
    return f'"{version}.{revision}"'


@dataclass(frozen=True)
class Editor:
    """Who makes an edit, recorded with its change (never shown on the public side).

    Attributes:
        user: the account (or the OS user for the CLI).
        department: the department the edit was allowed by (None: an admin, the CLI).
        via: how the user signed in (session, basic, token, oidc) or ``cli``.
    """

    user: str
    department: str | None = None
    via: str = "api"


@dataclass(frozen=True)
class EditRequest:
    """One edit of a layer's current version, already checked against its definition.

    Attributes:
        kind: ``add``, ``modify`` (the given properties and/or geometry) or ``delete``.
        feature_id: the feature's id (its id column's value, else its fid), new for ``add``.
        properties: column -> new value (``add``: columns not given are empty).
        geometry: the new geometry as lon/lat WKB of the layer's geometry type; None: unchanged.
        expect: (version, revision) the client saw (its If-Match); None: unconditional.
        stamp: (column, time) set too when the edit changes anything (``updated_field``).
        cause: why, recorded with the change (``edit``, ``revert of #12``).
        reverts: the change this one reverts.
    """

    kind: EditKind
    feature_id: str
    editor: Editor
    properties: Mapping[str, Any] = field(default_factory=dict)
    geometry: bytes | None = None
    expect: tuple[int, int] | None = None
    stamp: tuple[str, str] | None = None
    cause: str = "edit"
    reverts: int | None = None


@dataclass(frozen=True)
class Change:
    """One recorded edit: who, when, the feature before and after (the change table).

    Attributes:
        id: store-wide, in the order changes were made.
        seq: the layer version's edit sequence after this change.
        before, after: every column of the feature (None: it did not exist / no longer does).
        geometry_before, geometry_after: WKB, only when the geometry changed (or for add/delete).
        bounds: lon/lat box of the feature before and after (which tiles it touched).
        rev_before, rev_after: the feature's revision (its ETag) before and after.
        at: ISO 8601 UTC time of the commit.
    """

    id: int
    layer_id: str
    version: int
    seq: int
    feature_id: str
    kind: EditKind
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    geometry_before: bytes | None
    geometry_after: bytes | None
    bounds: tuple[float, float, float, float] | None
    rev_before: int | None
    rev_after: int | None
    user: str
    department: str | None
    via: str
    at: str
    cause: str
    reverts: int | None = None

    def changed_fields(self) -> list[str]:
        """The columns whose value differs between before and after."""
        before, after = self.before or {}, self.after or {}
        return [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]


@dataclass(frozen=True)
class EditResult:
    """What an edit did: its change (None when nothing differed), the layer record after it,
    and the feature's revision (0 once deleted)."""

    change: Change | None
    record: LayerRecord
    feature_id: str
    revision: int

    @property
    def etag(self) -> str:
        """The feature's new ETag (for the answer's ``ETag`` header)."""
        return feature_etag(self.record.version, self.revision)


@dataclass(frozen=True)
class ChangeRecord:
    """One feature's change as published data (the outbox ``tg_change_records``, issue 16).

    Written in the transaction of the change itself: a live edit, or the ETL switching a layer
    to a new version. Feeds read it newest first; a delivery worker reads on from the last id it
    handled (ids grow in commit order in each store).

    Attributes:
        id: store-wide, increasing in commit order (0 before it is written).
        fields: column -> (before, after) of the columns that changed (all non-empty ones of
            an added or removed feature); every column, internal ones too: readers filter.
        properties: every column of the feature after the change (before it, when removed),
            so a reader can name the feature (its title field) without the layer.
        geometry_changed: whether the geometry differs (always for added/removed).
        bounds: lon/lat box of the feature (before and after); point: a lon/lat point on it.
        at: ISO 8601 UTC time of the change; cause: ``etl:<run id>`` or ``edit:<department>``,
            never a person.
    """

    layer_id: str
    version: int
    feature_id: str
    kind: RecordKind
    fields: dict[str, tuple[Any, Any]]
    properties: dict[str, Any]
    geometry_changed: bool
    bounds: tuple[float, float, float, float] | None
    point: tuple[float, float] | None
    at: str
    cause: str
    id: int = 0


class Store(NotifyTables, ABC):
    """A place layers are loaded into and served from.

    Attributes:
        scheme: the URL scheme (or name) the backend registers under.
        url: where the store lives.
        in_process: reads are CPU work in this process (no waiting on a server), so a worker
            thread gains nothing and costs GIL hand-offs.
    """

    scheme: ClassVar[str]
    in_process: ClassVar[bool] = False

    def __init__(self, url: str, keep_versions: int = 5):
        self.url = url
        self.keep_versions = keep_versions

    @abstractmethod
    def migrate(self) -> list[int]:
        """Create or upgrade the store schema; return the migrations applied."""

    @abstractmethod
    def generation(self) -> int:
        """A counter that grows with every change of the registry (the server reloads on it)."""

    @abstractmethod
    def layers(self) -> list[LayerRecord]:
        """The current version of every loaded layer."""

    @abstractmethod
    def history(self, layer_id: str) -> list[LayerRecord]:
        """Every kept version of a layer, newest first."""

    @abstractmethod
    def activate(self, layer_id: str, version: int, records: Sequence[ChangeRecord] = ()) -> LayerRecord:
        """Make a kept version current again (rollback), with the change ``records`` of the switch
        written in the same transaction."""

    @abstractmethod
    def writer(
        self,
        layer_id: str,
        columns: Sequence[Column],
        geometry_type: str,
        id_column: str | None = None,
        version: int | None = None,
    ) -> LayerWriter:
        """Start writing a new version of a layer (``version``: an explicit number, higher than
        any kept, for ``store copy``; ``commit`` then takes ``loaded_at``/``duration_s`` from
        its meta too)."""

    @abstractmethod
    def rejects(self, layer_id: str, version: int) -> list[Reject]:
        """The quarantine of one version."""

    @abstractmethod
    def query(self, record: LayerRecord, query: Query) -> FeaturePage:
        """One page of features of a layer version."""

    @abstractmethod
    def get(self, record: LayerRecord, feature_id: str, select: Sequence[str] | None = None) -> FeaturePage:
        """One feature by id (an empty page when there is none)."""

    @abstractmethod
    def iter_frames(
        self,
        record: LayerRecord,
        chunk_size: int = 50_000,
        columns: Sequence[str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> Iterator[gpd.GeoDataFrame]:
        """Every feature of a version in fid order, in chunks (for exports, diffs and store
        copies); only the given attribute columns (and the geometry) when ``columns`` names some;
        with ``bbox`` (lon/lat), only the features whose box meets it, found by the spatial index
        (the features around the tiles a live edit touched)."""

    @abstractmethod
    def tile(self, record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
        """The gzip-compressed MVT of one tile of a tile set (b"" when it holds no feature).

        Raises ``TilesNotReady`` when the tile set cannot answer yet (being built).
        """

    @abstractmethod
    def publish_tiles(self, record: LayerRecord, specs: Sequence[TileSpec]) -> list[str]:
        """Pre-build every tile of these tile sets (idempotent); the variants it built."""

    @abstractmethod
    def tile_set(self, spec: TileSpec) -> TileRows | None:
        """(z, x, y, tile) of every non-empty tile of a pre-built tile set; None when it is not
        built (whatever was made on demand). For ``store copy``, which carries tile sets across."""

    @abstractmethod
    def load_tile_set(
        self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int, bytes]]
    ) -> int:
        """Put a whole pre-built tile set in place, made elsewhere by the same rules (the same
        ``spec.key``), in place of any it had; how many tiles."""

    def rebuild_tiles(
        self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int]]
    ) -> int:
        """Re-encode these (z, x, y) tiles of a pre-built tile set from the features now stored
        (what an edit touched), by the same rules; how many tiles were written."""
        raise NotImplementedError(f"{type(self).__name__} cannot rebuild single tiles")

    # -- live edits (issue 13): in place, on the current version, each a recorded change ------

    @abstractmethod
    def edit(self, record: LayerRecord, request: EditRequest) -> EditResult:
        """Apply one edit to the layer's current version in one transaction with its change row,
        the version's ``edit_seq`` (+1), the tiles it touches and the registry generation.

        ``record`` is the current version as the caller knows it. Raises EditConflict when it
        is no longer current (a reload) or ``request.expect`` no longer holds (another edit);
        FeatureNotFound, FeatureExists (an add with a taken id); StoreBusy while another writer
        (an ETL of the layer) holds the store. Nothing is written when it raises.
        """

    @abstractmethod
    def revision(self, record: LayerRecord, feature_id: str) -> int | None:
        """A feature's current revision (its ETag with the version), None when there is none."""

    @abstractmethod
    def changes(
        self,
        layer_id: str | None = None,
        *,
        after: int = 0,
        version: int | None = None,
        feature_id: str | None = None,
        limit: int = 1000,
    ) -> list[Change]:
        """Recorded changes with ids above ``after``, oldest first (a change feed reads on
        from the last id it saw)."""

    # -- change records (issue 16): the outbox feeds and deliveries read --------------------

    def change_records(
        self,
        *,
        before: int | None = None,
        after: int = 0,
        layers: Sequence[str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        limit: int = 100,
    ) -> list[ChangeRecord]:
        """Change records with ``after < id < before``, of these layers (None: all), whose
        bounds meet ``bbox``; newest first when ``before`` is given (a feed's pages), else
        oldest first (a delivery cursor reading on from ``after``)."""
        if layers is not None and not layers:
            return []
        clauses, args = ["id > ?"], [after]
        if before is not None:
            clauses.append("id < ?")
            args.append(before)
        if layers is not None:
            clauses.append(f"{self._records_layer_term(len(layers))} IN ({', '.join('?' * len(layers))})")
            args += list(layers)
        if bbox is not None:
            clauses.append("max_x >= ? AND min_x <= ? AND max_y >= ? AND min_y <= ?")
            args += [bbox[0], bbox[2], bbox[1], bbox[3]]
        order = "DESC" if before is not None else "ASC"
        return self._change_rows(" AND ".join(clauses), args, order, limit)

    def _records_layer_term(self, layers: int) -> str:
        """The column term of the records query's layer filter (a store may steer its planner)."""
        return "layer_id"

    @abstractmethod
    def _change_rows(self, where: str, args: list[Any], order: str, limit: int) -> list[ChangeRecord]:
        """Records matching ``where`` (SQL with ``?`` marks) ordered by id ``order``, at most
        ``limit`` (``change_records`` decides the query; the backend runs it)."""

    @abstractmethod
    def prune_change_records(self, keep_days: int) -> int:
        """Delete change records older than ``keep_days``; how many went."""

    @abstractmethod
    def tile_seq(self, record: LayerRecord, z: int, x: int, y: int) -> int:
        """The edit sequence of the last change that touched this tile (0: none since the load),
        so a tile is re-made, and its ETag changes, only where an edit landed."""

    def change(self, change_id: int) -> Change | None:
        """One recorded change by id."""
        found = self.changes(after=change_id - 1, limit=1)
        return found[0] if found and found[0].id == change_id else None

    def revert(self, change_id: int, editor: Editor, stamp: tuple[str, str] | None = None) -> EditResult:
        """Undo one change with a new change (``reverts`` = its id), if the feature is still as
        that change left it; EditConflict otherwise (revert the later changes first).

        ``stamp``: (updated field, time) to set on the feature instead of restoring that column.
        """
        change = self.change(change_id)
        if change is None:
            raise NotFound(f"no change #{change_id} in this store")
        record = self.current(change.layer_id)
        if record is None or record.version != change.version:
            now = f"v{record.version} is current" if record else "the layer is not loaded"
            raise EditConflict(
                f"change #{change_id} was made on v{change.version} of {change.layer_id}; {now}:"
                " a reload replaced that version"
            )
        cause = f"revert of #{change_id}"
        common: dict[str, Any] = {"editor": editor, "cause": cause, "reverts": change_id, "stamp": stamp}
        if change.kind == "delete":
            request = EditRequest(
                "add",
                change.feature_id,
                properties=change.before or {},
                geometry=change.geometry_before,
                **common,
            )
            return self.edit(record, request)
        revision = self._as_change_left_it(record, change)
        expect = (record.version, revision)
        if change.kind == "add":
            request = EditRequest("delete", change.feature_id, expect=expect, **common)
        else:
            before = change.before or {}
            kept = {stamp[0]} if stamp else set()
            request = EditRequest(
                "modify",
                change.feature_id,
                properties={k: before.get(k) for k in change.changed_fields() if k not in kept},
                geometry=change.geometry_before,
                expect=expect,
                **common,
            )
        return self.edit(record, request)

    def _as_change_left_it(self, record: LayerRecord, change: Change) -> int:
        """The feature's revision, if no later change of it is still in effect (a later change
        and its own revert cancel out); EditConflict naming them otherwise."""
        later = self.changes(
            change.layer_id,
            after=change.id,
            version=change.version,
            feature_id=change.feature_id,
            limit=100_000,
        )
        undone = {c.reverts for c in later if c.reverts is not None}
        standing = [
            c.id for c in later if c.id not in undone and (c.reverts is None or c.reverts <= change.id)
        ]
        if standing:
            ids = ", ".join(f"#{i}" for i in reversed(standing))
            raise EditConflict(
                f"the feature changed again after change #{change.id}: revert {ids} first"
                " (see `tsukuba-gis etl history`)"
            )
        revision = self.revision(record, change.feature_id)
        if revision is None:
            raise EditConflict(f"the feature of change #{change.id} no longer exists; nothing to revert")
        return revision

    # -- rasters (issue 12): a registry of COG files under a raster directory --------------

    @abstractmethod
    def rasters(self) -> list[RasterRecord]:
        """The current version of every loaded raster layer, by id."""

    @abstractmethod
    def raster_history(self, layer_id: str) -> list[RasterRecord]:
        """Every kept version of a raster layer, newest first."""

    @abstractmethod
    def activate_raster(self, layer_id: str, version: int) -> RasterRecord:
        """Make a kept raster version current (rollback); moves the generation."""

    @abstractmethod
    def raster_writer(self, layer_id: str, raster_dir: Path, version: int | None = None) -> RasterWriter:
        """Start writing a new raster version whose COG goes under ``raster_dir``
        (``version``: an explicit number, higher than any kept, for ``store copy``)."""

    def current_raster(self, layer_id: str) -> RasterRecord | None:
        """The current version of a raster layer, if loaded."""
        return next((r for r in self.rasters() if r.layer_id == layer_id), None)

    def raster_version(self, layer_id: str, version: int) -> RasterRecord | None:
        """One kept version of a raster layer, current or not."""
        return next((r for r in self.raster_history(layer_id) if r.version == version), None)

    def current(self, layer_id: str) -> LayerRecord | None:
        """The current version of a layer, if loaded."""
        return next((r for r in self.layers() if r.layer_id == layer_id), None)

    def version(self, layer_id: str, version: int) -> LayerRecord | None:
        """One kept version of a layer, current or not."""
        return next((r for r in self.history(layer_id) if r.version == version), None)

    def close(self) -> None:  # noqa: B027 (optional hook: most backends have nothing to release)
        """Release connections."""
