"""Settings read from the environment (prefix ``TSUKUBA_GIS_``) or a ``.env`` file."""

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

GSI_STD = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_PALE = "https://cyberjapandata.gsi.go.jp/xyz/pale/{z}/{x}/{y}.png"
GSI_PHOTO = "https://cyberjapandata.gsi.go.jp/xyz/seamlessphoto/{z}/{x}/{y}.jpg"
OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


class Settings(BaseSettings):
    """Everything the ETL and the server need to know about this installation.

    Attributes:
        data_dir: the store and every generated file (pygeoapi configs, reports, downloads).
        store: ``None`` for the embedded GeoPackage in ``data_dir``, a ``.gpkg`` path,
            or a ``postgresql://`` DSN.
        layers_dir: the declarative layer definitions.
        sources_dir: the department files the definitions point at.
        public_url: the URL users reach the server at (links in API documents use it);
            ``serve`` derives it from ``--host``/``--port`` when unset.
        raster_dir: where the COG of each raster layer version lives (default
            ``<data_dir>/rasters``); with PostGIS, a directory every host mounts.
        raster_max_bytes: the largest uncompressed raster (width x height x bands x cell
            size) a load accepts; a header claiming more is refused before anything is read.
        raster_cache_mb: GDAL's block cache during raster loads (keeps memory flat).
        raster_compression: the COGs' lossless compression (DEFLATE reads everywhere; ZSTD
            is faster but needs GDAL >= 2.3 on the reader's side).
        city_boundary_layer: the layer whose areas live edits must stay inside (with
            ``edit_area_margin_m``); the loaded layers' extent when it is not loaded.
        opendata_debounce_s: after a live edit, the open-data files of the layer are written
            again once no edit came for this long (and at the latest ``opendata_max_delay_s``
            after the first unpublished one), by ``tsukuba-gis serve``.
        log_format: ``text`` lines, or ``json`` (one object per line) for a log collector.
        changes_keep_days: change records (feeds, deliveries) older than this are deleted by
            the next ETL run that loads a layer, and by a rollback.
    """

    model_config = SettingsConfigDict(env_prefix="TSUKUBA_GIS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    store: str | None = None
    layers_dir: Path = PROJECT_ROOT / "layers"
    sources_dir: Path = PROJECT_ROOT / "sources"
    viewer_dir: Path = PROJECT_ROOT / "viewer"
    public_url: str | None = None
    city_code: str = "082201"
    city_name_ja: str = "つくば市"
    city_name_en: str = "Tsukuba City"
    basemap_std_url: str = GSI_STD
    basemap_pale_url: str = GSI_PALE
    basemap_photo_url: str = GSI_PHOTO
    basemap_osm_url: str = OSM
    items_max_limit: int = Field(default=10000, ge=1)
    items_default_limit: int = Field(default=100, ge=1)
    keep_versions: int = Field(default=5, ge=1)
    raster_dir: Path | None = None
    raster_max_bytes: int = Field(default=16 * 1024**3, ge=1)
    raster_cache_mb: int = Field(default=256, ge=16)
    raster_compression: Literal["DEFLATE", "ZSTD"] = "DEFLATE"
    city_boundary_layer: str = "city_boundary"
    edit_area_margin_m: float = Field(default=200, ge=0)
    opendata_debounce_s: float = Field(default=1.0, ge=0)
    opendata_max_delay_s: float = Field(default=3.0, ge=0)
    log_format: Literal["text", "json"] = "text"
    changes_keep_days: int = Field(default=365, ge=1)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def store_url(self) -> str:
        """The store location: a DSN or a GeoPackage path."""
        return self.store or str(self.data_dir / "store.gpkg")

    @property
    def rasters_path(self) -> Path:
        """The raster directory: ``raster_dir``, or ``rasters/`` in the data directory."""
        return self.raster_dir or self.data_dir / "rasters"

    def resolved_public_url(self, host: str = "127.0.0.1", port: int = 8000) -> str:
        """The public URL, or one made from the address the server listens on."""
        if self.public_url:
            return self.public_url
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{port}"
