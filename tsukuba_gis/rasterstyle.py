"""How a raster layer looks and reads: colours, class labels, hillshade and the legend.

One place for what a definition's ``classes``, ``breaks`` or ``ramp`` mean, shared by the map
tiles and the point report (``server/rasters``) and the open-data legend (``etl.publish``):

- ``classes``: each integer value in its colour (rio-tiler's discrete colour map);
- ``breaks``: ``min <= value < max`` in the class colour (rio-tiler's interval colour map), e.g.
  the 想定浸水深 classes of MLIT's 水害ハザードマップ作成の手引き;
- ``ramp``: colours interpolated between the stops (a 256-entry table, rio-tiler's LUT), with
  a hillshade when the definition asks for one (elevation);
- none of them and three or more bands: the first three bands as red, green, blue (photos);
  one band without a style: grey from the band's minimum to its maximum.

No-data cells are transparent everywhere.
"""

import hashlib
import io
import logging
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from rio_tiler.colormap import apply_cmap

from tsukuba_gis.layerdef import I18n
from tsukuba_gis.rasterdef import RasterLayerDef

LOG = logging.getLogger(__name__)
StyleKind = Literal["classes", "breaks", "ramp", "rgb", "grey"]
# Bump when the rendering changes for the same definition (tiles and legends are re-made).
REVISION = 1
HAZARD_KEYWORDS = frozenset({"ハザード", "hazard"})
# Japanese-capable fonts tried for the legend, in order (Debian: fonts-ipafont-gothic).
LEGEND_FONTS = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
SUN_AZIMUTH_DEG, SUN_ALTITUDE_DEG = 315.0, 45.0


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class LegendEntry:
    """One row of a legend: a colour and what it means (``value``: a ramp stop's value)."""

    color: str
    label: I18n
    value: float | None = None


@dataclass(frozen=True)
class RasterStyle:
    """The look of one raster layer, from its definition.

    Attributes:
        layer: the raster definition.
        kind: classes, breaks, ramp, rgb (three bands or more) or grey.
        band_range: (min, max) of the first band's values (stretch of a grey raster).
    """

    layer: RasterLayerDef
    band_count: int = 1
    band_range: tuple[float, float] | None = None

    @property
    def kind(self) -> StyleKind:
        """Which rendering the definition asks for."""
        if self.layer.classes:
            return "classes"
        if self.layer.breaks:
            return "breaks"
        if self.layer.ramp:
            return "ramp"
        return "rgb" if self.band_count >= 3 else "grey"

    @cached_property
    def key(self) -> str:
        """Changes with anything the rendered pixels depend on (for cache keys and ETags)."""
        parts = [
            str(REVISION),
            self.kind,
            self.layer.model_dump_json(include={"classes", "breaks", "ramp", "hillshade"}),
            repr(self.band_range),
        ]
        return hashlib.blake2b("\n".join(parts).encode(), digest_size=6).hexdigest()

    @property
    def hazard(self) -> bool:
        """A hazard layer (想定浸水深 ...): the point report lists it first."""
        return bool(HAZARD_KEYWORDS & set(self.layer.keywords))

    # -- values in words ------------------------------------------------------------------

    def class_of(self, value: float) -> I18n | None:
        """The class label of a value (None without classes/breaks, or outside every class)."""
        if self.layer.classes:
            found = next((c for c in self.layer.classes if c.value == round(value)), None)
            return found.label if found else None
        for item in self.layer.breaks:
            if value >= item.min and (item.max is None or value < item.max):
                return item.label
        return None

    def legend(self) -> list[LegendEntry]:
        """The legend rows: each class, or each ramp stop with its value and unit."""
        if self.layer.classes:
            return [LegendEntry(c.color, c.label) for c in self.layer.classes]
        if self.layer.breaks:
            return [LegendEntry(b.color, b.label) for b in self.layer.breaks]
        unit = self.layer.bands[0].unit
        suffix = (lambda lang: f" {getattr(unit, lang)}") if unit else (lambda lang: "")
        return [
            LegendEntry(
                s.color,
                I18n(ja=f"{_number(s.value)}{suffix('ja')}", en=f"{_number(s.value)}{suffix('en')}"),
                s.value,
            )
            for s in self.layer.ramp
        ]

    # -- pixels -----------------------------------------------------------------------------

    @cached_property
    def _ramp_lut(self) -> np.ndarray:
        """256 RGB colours from the first to the last ramp stop."""
        stops = self.layer.ramp
        at = np.linspace(stops[0].value, stops[-1].value, 256)
        values = [s.value for s in stops]
        return np.stack(
            [np.interp(at, values, [_rgb(s.color)[i] for s in stops]) for i in range(3)], axis=1
        ).astype(np.uint8)

    def colorize(self, data: np.ma.MaskedArray, resolution_m: float | None = None) -> np.ndarray:
        """RGBA (rows, cols, 4) uint8 of masked band data (bands, rows, cols).

        ``data`` may carry a one-cell border all round (``resolution_m`` given, for the
        hillshade of a ramp); the result is without it.
        """
        shade = None
        if self.kind == "ramp" and self.layer.hillshade and resolution_m:
            shade = hillshade(np.ma.filled(data[0].astype("float32"), np.nan), resolution_m)
        if resolution_m:
            data = data[:, 1:-1, 1:-1]
        valid = ~np.ma.getmaskarray(data).any(axis=0)
        values = np.ma.filled(data, 0)
        kind = self.kind
        if kind == "rgb":
            rgb = np.moveaxis(values[:3], 0, -1).astype(np.uint8)
        elif kind == "ramp":
            rgb = self._ramp(values[0])
        elif kind == "grey":
            low, high = self.band_range or (float(values[0].min()), float(values[0].max()))
            scaled = np.clip((values[0] - low) / ((high - low) or 1) * 255, 0, 255).astype(np.uint8)
            rgb = np.repeat(scaled[..., None], 3, axis=2)
        else:
            colored, alpha = apply_cmap(values[:1], self._colormap)
            rgb = np.moveaxis(colored[:3], 0, -1)
            valid &= alpha > 0
        if shade is not None:
            rgb = (rgb * shade[..., None]).astype(np.uint8)
        return np.dstack([rgb, np.where(valid, 255, 0).astype(np.uint8)])

    def _ramp(self, values: np.ndarray) -> np.ndarray:
        first, last = self.layer.ramp[0].value, self.layer.ramp[-1].value
        index = np.clip((values - first) / (last - first) * 255, 0, 255).astype(np.uint8)
        return self._ramp_lut[index]

    @cached_property
    def _colormap(self):
        """rio-tiler's colour map: discrete for classes, intervals for breaks."""
        if self.layer.classes:
            return {c.value: (*_rgb(c.color), 255) for c in self.layer.classes}
        top = np.finfo("float64").max
        return [
            ((b.min, b.max if b.max is not None else top), (*_rgb(b.color), 255)) for b in self.layer.breaks
        ]


def hillshade(elevation: np.ndarray, resolution_m: float) -> np.ndarray:
    """Brightness 0.35..1 of each inner cell of a grid with a one-cell border (Horn's gradient).

    NaN cells (no data) shade as flat ground.
    """
    z = np.nan_to_num(elevation, nan=float(np.nanmean(elevation)) if np.isfinite(elevation).any() else 0.0)
    dzdx = ((z[:-2, 2:] + 2 * z[1:-1, 2:] + z[2:, 2:]) - (z[:-2, :-2] + 2 * z[1:-1, :-2] + z[2:, :-2])) / (
        8 * resolution_m
    )
    dzdy = ((z[2:, :-2] + 2 * z[2:, 1:-1] + z[2:, 2:]) - (z[:-2, :-2] + 2 * z[:-2, 1:-1] + z[:-2, 2:])) / (
        8 * resolution_m
    )
    slope = np.arctan(np.hypot(dzdx, dzdy))
    aspect = np.arctan2(dzdy, -dzdx)
    zenith = math.radians(90 - SUN_ALTITUDE_DEG)
    azimuth = math.radians((360 - SUN_AZIMUTH_DEG + 90) % 360)
    light = np.cos(zenith) * np.cos(slope) + np.sin(zenith) * np.sin(slope) * np.cos(azimuth - aspect)
    # Flat ground at 45° sun gives ~0.71; scale so it stays near 1 and slopes darken.
    return np.clip(0.35 + 0.65 * light / math.cos(zenith), 0.35, 1.0).astype("float32")


def style_of(layer: RasterLayerDef, band_count: int, band_range: tuple[float, float] | None) -> RasterStyle:
    """The style of a layer version (band count and range from its registry record)."""
    return RasterStyle(layer, band_count, band_range)


# -- the legend image ----------------------------------------------------------------------------


def _font(size: int):
    from PIL import ImageFont

    for path in LEGEND_FONTS:
        if Path(path).is_file():
            return ImageFont.truetype(path, size), True
    LOG.warning("no Japanese font found (%s): the legend is drawn in English", ", ".join(LEGEND_FONTS))
    return ImageFont.load_default(size), False


def _label_text(label: I18n, japanese: bool) -> str:
    if not japanese:
        return label.en
    return label.ja if label.ja == label.en else f"{label.ja}  {label.en}"


def legend_png(style: RasterStyle) -> bytes:
    """The legend as a PNG: the title, then a swatch and the Japanese and English label per row."""
    from PIL import Image, ImageDraw

    font, japanese = _font(14)
    small, _ = _font(12)
    layer = style.layer
    band = layer.bands[0]
    # The layer's title (a sample says サンプル（架空） in it), then what the colours measure.
    titles = [layer.title.ja, layer.title.en] if japanese else [layer.title.en]
    what = f"{band.label.ja} / {band.label.en}" if japanese else band.label.en
    if band.unit and style.kind == "ramp":
        what += f" ({band.unit.ja})"
    rows = [(e.color, _label_text(e.label, japanese)) for e in style.legend()]
    row_h, pad, swatch, line_h = 22, 10, 28, 20
    head = line_h * (len(titles) + 1) + 4
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    texts = [(t, font) for t in titles] + [(what, small)] + [(t, small) for _, t in rows]
    width = max(measure.textlength(t, font=f) for t, f in texts) + pad
    image = Image.new("RGB", (int(width) + 2 * pad + swatch, 2 * pad + head + row_h * len(rows)), "white")
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(titles):
        draw.text((pad, pad + i * line_h), text, fill="#24292f", font=font)
    draw.text((pad, pad + len(titles) * line_h), what, fill="#57606a", font=small)
    for i, (color, text) in enumerate(rows):
        top = pad + head + i * row_h
        draw.rectangle([pad, top, pad + swatch, top + row_h - 6], fill=color, outline="#57606a")
        draw.text((2 * pad + swatch, top), text, fill="#24292f", font=small)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
