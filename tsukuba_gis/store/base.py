"""The store interface every backend implements (GeoPackage embedded, PostGIS scale-out)."""

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import geopandas as gpd

FieldType = Literal["string", "integer", "number", "boolean", "date"]


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

    @property
    def etag(self) -> str:
        """A validator for HTTP caching that changes whenever the served data does."""
        return f'"{self.layer_id}-{self.version}-{self.source_checksum[:12]}"'


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
    """Writes one new version of a layer; nothing is visible until ``commit``."""

    @abstractmethod
    def append(self, frame: gpd.GeoDataFrame) -> None:
        """Add loaded features (published columns, EPSG:4326 geometry)."""

    @abstractmethod
    def reject(self, rejects: Sequence[Reject]) -> None:
        """Add features to the quarantine of this version."""

    @abstractmethod
    def commit(self, meta: dict[str, Any], make_current: bool = True) -> LayerRecord:
        """Keep the new version and, unless ``make_current`` is False (a staged version, e.g.
        ``etl --dry-run``), make it current, atomically; return its record."""


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


class Store(ABC):
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
    def activate(self, layer_id: str, version: int) -> LayerRecord:
        """Make a kept version current again (rollback)."""

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
    def iter_frames(self, record: LayerRecord, chunk_size: int = 50_000) -> Iterator[gpd.GeoDataFrame]:
        """Every feature of a version, in chunks (for exports, diffs and store copies)."""

    @abstractmethod
    def tile(self, record: LayerRecord, spec: TileSpec, z: int, x: int, y: int) -> bytes:
        """The gzip-compressed MVT of one tile of a tile set (b"" when it holds no feature).

        Raises ``TilesNotReady`` when the tile set cannot answer yet (being built).
        """

    @abstractmethod
    def publish_tiles(self, record: LayerRecord, specs: Sequence[TileSpec]) -> list[str]:
        """Pre-build every tile of these tile sets (idempotent); the variants it built."""

    def rebuild_tiles(
        self, record: LayerRecord, spec: TileSpec, tiles: Iterable[tuple[int, int, int]]
    ) -> int:
        """Re-encode these (z, x, y) tiles of a pre-built tile set from the features now stored
        (what an edit touched), by the same rules; how many tiles were written."""
        raise NotImplementedError(f"{type(self).__name__} cannot rebuild single tiles")

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
