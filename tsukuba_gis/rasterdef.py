"""Raster layer definitions (``kind: raster`` in ``layers/<department>/<id>.yaml``).

A raster layer is one grid (a flood-depth grid, a DEM, an aerial photograph) loaded from one
file or a mosaic of files into a Cloud Optimized GeoTIFF per version. Vector definitions stay in
``layerdef.py``; the two share the texts, licence and access rules.
"""

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from tsukuba_gis.layerdef import (
    Access,
    I18n,
    LicenseDef,
    Strict,
    _inside_sources,
    _source_as_sources,
    _valid_layer_id,
)

RasterFormat = Literal["geotiff", "aaigrid", "gsi_png", "gsi_txt", "fgd_dem"]
Resampling = Literal["nearest", "bilinear", "cubic", "average", "mode"]

RASTER_EXTENSIONS: dict[str, RasterFormat] = {
    ".tif": "geotiff",
    ".tiff": "geotiff",
    ".asc": "aaigrid",
    ".png": "gsi_png",
    ".txt": "gsi_txt",
    ".xml": "fgd_dem",
}
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
GLOB_CHARS = set("*?[")


def _color(value: str) -> str:
    if not COLOR.match(value):
        raise ValueError(f"colour {value!r} must be #rrggbb")
    return value.lower()


Color = Annotated[str, AfterValidator(_color)]


class RasterSourceDef(Strict):
    """One raster file, or a glob of files mosaicked into the layer.

    Attributes:
        path: relative to the sources directory; may be a glob (``dem/14/*/*.png``).
        format: inferred from the extension when omitted.
        crs: the CRS when the file has none (never guessed; GSI tiles and FGD DEM carry theirs).
        nodata: the no-data value when the file does not declare one.
    """

    path: str
    format: RasterFormat | None = None
    crs: str | None = None
    nodata: float | None = None

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        return _inside_sources(value)

    @property
    def is_glob(self) -> bool:
        """True when ``path`` names several files."""
        return bool(GLOB_CHARS & set(self.path))

    @property
    def resolved_format(self) -> RasterFormat:
        """The declared format, or the one the extension implies."""
        if self.format:
            return self.format
        suffix = PurePosixPath(self.path).suffix.lower()
        if suffix not in RASTER_EXTENSIONS:
            raise ValueError(f"cannot tell the raster format of {self.path!r}; set format")
        return RASTER_EXTENSIONS[suffix]

    @model_validator(mode="after")
    def _known_format(self) -> "RasterSourceDef":
        self.resolved_format  # noqa: B018 (raises the clear message at validation time)
        return self


class BandDef(Strict):
    """What one band means: its label and unit (e.g. 想定浸水深, m)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    label: I18n
    unit: I18n | None = None

    @field_validator("unit", mode="before")
    @classmethod
    def _unit_text(cls, value: Any) -> Any:
        # `unit: m` is the common case: the same symbol in both languages.
        return {"ja": value, "en": value} if isinstance(value, str) else value


class ValueClass(Strict):
    """One value of a class raster (land use code, hazard class), with its label and colour."""

    value: int
    label: I18n
    color: Color


class ValueBreak(Strict):
    """One class of a continuous raster: ``min <= value < max`` (no ``max``: and above)."""

    min: float
    max: float | None = None
    label: I18n
    color: Color


class RampStop(Strict):
    """One stop of a colour ramp for continuous values (elevation)."""

    value: float
    color: Color


class ValueRange(Strict):
    """The values a band may hold; a cell outside fails the load (a unit or scale error)."""

    min: float
    max: float

    @model_validator(mode="after")
    def _ordered(self) -> "ValueRange":
        if self.min >= self.max:
            raise ValueError(f"value_range min {self.min} must be below max {self.max}")
        return self


class RasterLayerDef(Strict):
    """One published raster layer, as described in ``layers/<department>/<id>.yaml``."""

    kind: Literal["raster"]
    id: str
    title: I18n
    description: I18n
    department: str
    access: Access = "public"
    keywords: list[str] = []
    license: LicenseDef
    sources: list[RasterSourceDef] = Field(min_length=1)
    bands: list[BandDef] = Field(min_length=1)
    nodata: float | None = None
    value_range: ValueRange | None = None
    classes: list[ValueClass] = []
    breaks: list[ValueBreak] = []
    ramp: list[RampStop] = []
    # Shade the ramp's colours by the terrain (elevation models): map tiles only.
    hillshade: bool = False
    resampling: Resampling | None = None
    target_crs: str | None = None
    synthetic: bool = False

    @model_validator(mode="before")
    @classmethod
    def _single_source(cls, data: Any) -> Any:
        return _source_as_sources(data)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _valid_layer_id(value)

    @model_validator(mode="after")
    def _consistent(self) -> "RasterLayerDef":
        styles = [name for name in ("classes", "breaks", "ramp") if getattr(self, name)]
        if len(styles) > 1:
            raise ValueError(f"give one of classes, breaks or ramp, not {' and '.join(styles)}")
        if self.classes:
            values = [c.value for c in self.classes]
            if len(set(values)) != len(values):
                raise ValueError("classes: each value may appear once")
            if self.resampling not in (None, "nearest", "mode"):
                raise ValueError(
                    f"resampling {self.resampling!r} would invent class values; use nearest or mode"
                )
        self._check_breaks()
        if self.ramp and any(a.value >= b.value for a, b in zip(self.ramp, self.ramp[1:], strict=False)):
            raise ValueError("ramp: stop values must increase")
        if self.ramp and len(self.ramp) < 2:
            raise ValueError("ramp: give at least two stops")
        if self.hillshade and not self.ramp:
            raise ValueError("hillshade shades a colour ramp: give ramp too")
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError("bands: duplicate band names")
        if self.synthetic and "サンプル" not in self.title.ja:
            raise ValueError("a synthetic layer must say サンプル（架空） in its Japanese title")
        return self

    def _check_breaks(self) -> None:
        for i, item in enumerate(self.breaks):
            last = i == len(self.breaks) - 1
            if item.max is None and not last:
                raise ValueError(f"breaks[{i}]: only the last class may be open (no max)")
            if item.max is not None and item.max <= item.min:
                raise ValueError(f"breaks[{i}]: max {item.max} must be above min {item.min}")
            if i and self.breaks[i - 1].max != item.min:
                raise ValueError(
                    f"breaks[{i}]: min {item.min} must equal the max"
                    f" {self.breaks[i - 1].max} of the class before"
                )

    @property
    def resolved_resampling(self) -> Resampling:
        """The declared resampling; nearest for class rasters, bilinear for continuous values."""
        if self.resampling:
            return self.resampling
        return "nearest" if self.classes else "bilinear"

    def histogram_edges(self) -> list[float] | None:
        """Bin edges the statistics count cells in, when the definition implies them.

        Class rasters count each class value; class breaks count each class (the area per
        想定浸水深 class); a declared value range gets 50 equal bins. None: derive from the data.
        """
        if self.classes:
            values = sorted(c.value for c in self.classes)
            return [v - 0.5 for v in values] + [values[-1] + 0.5]
        if self.breaks:
            top = self.breaks[-1].max
            if top is None:
                top = self.value_range.max if self.value_range else float("inf")
            return [b.min for b in self.breaks] + [top]
        if self.value_range:
            step = (self.value_range.max - self.value_range.min) / 50
            return [round(self.value_range.min + i * step, 9) for i in range(51)]
        return None


def raster_kind(data: Any) -> bool:
    """True when parsed YAML declares ``kind: raster``."""
    return isinstance(data, dict) and data.get("kind") == "raster"
