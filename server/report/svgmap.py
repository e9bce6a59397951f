"""The map of the printed sheet: the features around a point, from the store, as SVG shapes.

Drawn at a fixed ratio (1:``SCALE``) on a local metric plane around the point (under 0.1 %
error at this size), in millimetres of paper, so the sheet's scale bar and ratio are true on
any printer. Nothing is fetched: no base map, only the audience's own layers. The template
(``templates/point_sheet.html``) writes the SVG; this module gives it shapes, a legend of what
is drawn and the credits of those layers.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from server.point import LocalPlane
from server.snapshot import PublishedLayer, Snapshot
from tsukuba_gis.i18n import text_in
from tsukuba_gis.presentdef import SECTIONS
from tsukuba_gis.store import Query

SCALE = 5000  # 1:5,000, a city planning map's scale: 1 mm of paper is 5 m
MAP_MM = (182.0, 92.0)  # width, height of the map on the A4 page
MAX_FEATURES = 3000
SIMPLIFY_M = 0.5
PX_MM = 0.25  # a style's line weight in screen pixels, as millimetres of paper


@dataclass
class Shape:
    """One drawn feature: an SVG path (areas, lines) or a circle (points), with its colours."""

    kind: str
    d: str = ""
    cx: float = 0.0
    cy: float = 0.0
    fill: str = "none"
    fill_opacity: float = 0.0
    stroke: str = "#333333"
    stroke_width: float = 0.3
    dash: str | None = None
    label: str | None = None


@dataclass
class MapFigure:
    """What the sheet draws: shapes in order, the legend, the credits, the scale."""

    width_mm: float
    height_mm: float
    scale: int
    shapes: list[Shape] = field(default_factory=list)
    legend: list[dict[str, Any]] = field(default_factory=list)
    credits: list[dict[str, str]] = field(default_factory=list)
    bar_m: int = 100

    @property
    def bar_mm(self) -> float:
        """The scale bar's length on paper."""
        return self.bar_m * 1000 / self.scale


def _mm(coords: np.ndarray, half: tuple[float, float]) -> np.ndarray:
    """Local metres (east, north) -> paper millimetres (right, down) from the map's corner."""
    factor = 1000 / SCALE
    return np.column_stack(((coords[:, 0] + half[0]) * factor, (half[1] - coords[:, 1]) * factor))


def _path(geom: Any, half: tuple[float, float]) -> str:
    """The SVG path data of a (multi)polygon or (multi)line in local metres."""
    parts = []
    for part in shapely.get_parts(geom):
        rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
        for ring in rings:
            xy = _mm(shapely.get_coordinates(ring), half)
            if len(xy) < 2:
                continue
            points = " L".join(f"{x:.2f},{y:.2f}" for x, y in xy)
            parts.append(f"M{points}{'Z' if part.geom_type == 'Polygon' else ''}")
    return " ".join(parts)


def _colour(published: PublishedLayer, props: dict) -> tuple[str, Any]:
    """(fill colour, the category it comes from or None) of one feature."""
    style = published.definition.style
    if style.by:
        value = str(props.get(style.by))
        found = next((c for c in style.categories if str(c.value) == value), None)
        if found is not None:
            return found.color, found
    return style.fill_color or style.color, None


def _order(snapshot: Snapshot) -> list[PublishedLayer]:
    """Areas first (other, planning, then hazards on top of them), then lines, then points."""
    rank = {s: i for i, s in enumerate(reversed(SECTIONS))}
    geometry = {"polygon": 0, "line": 1, "point": 2}

    def key(p: PublishedLayer) -> tuple:
        section = p.definition.report.section if p.definition.report else "other"
        return geometry[p.definition.geometry], rank[section]

    return sorted(snapshot.layers, key=key)


def _layer_shapes(snapshot: Snapshot, published: PublishedLayer, plane: LocalPlane, half: tuple) -> tuple:
    layer, record = published.definition, published.record
    visible = {f.name for f in layer.fields_for(snapshot.audience)}
    select = tuple(n for n in dict.fromkeys([layer.style.by, layer.title_field]) if n and n in visible)
    page = snapshot.store.query(
        record, Query(bbox=plane.box(max(half) * 1.05), select=select, limit=MAX_FEATURES, with_count=False)
    )
    if not page.ids:
        return [], []
    geoms = shapely.transform(
        shapely.from_wkb(page.wkb), lambda c: (c - [plane.lon, plane.lat]) * [plane.kx, plane.ky]
    )
    # Cut well outside the frame (the SVG clips to it): no false boundary along the frame.
    w, h = half[0] * 1.2, half[1] * 1.2
    clipped = shapely.clip_by_rect(geoms, -w, -h, w, h)
    shapes, used = [], []
    style = layer.style
    for geom, props in zip(clipped, page.properties, strict=True):
        if geom is None or geom.is_empty:
            continue
        fill, category = _colour(published, props)
        used.append(category)
        if layer.geometry == "point":
            (x, y), *_ = _mm(shapely.get_coordinates(geom), half)
            if not (0 <= x <= MAP_MM[0] and 0 <= y <= MAP_MM[1]):
                continue
            name = props.get(layer.title_field) if layer.search and layer.search.kind != "town" else None
            shapes.append(Shape("point", cx=x, cy=y, fill=fill, stroke=style.color, label=name))
            continue
        area = layer.geometry == "polygon"
        shapes.append(
            Shape(
                "path",
                d=_path(shapely.simplify(geom, SIMPLIFY_M), half),
                fill=fill if area else "none",
                fill_opacity=style.fill_opacity if area else 0,
                stroke=style.color,
                stroke_width=max(style.weight * PX_MM, 0.15),
                dash=" ".join(str(float(v) * PX_MM) for v in style.dash.split()) if style.dash else None,
            )
        )
    return shapes, used


def _legend_entry(published: PublishedLayer, used: list, lang: str, synthetic_label: str) -> dict[str, Any]:
    """One layer of the legend: its title (the sample mark left to the report, which says it
    once) and its classes drawn, or its one symbol."""
    layer = published.definition
    style = layer.style
    title = text_in(layer.title, lang)
    title["text"] = title["text"].replace(synthetic_label, "").rstrip(" —-　")
    categories = [c for c in style.categories if any(u is c for u in used)]
    classes = [{"label": text_in(c.label, lang) if c.label else None, "fill": c.color} for c in categories]
    return {
        "geometry": layer.geometry,
        "stroke": style.color,
        "opacity": style.fill_opacity,
        "title": title,
        "classes": classes or [{"label": None, "fill": style.fill_color or style.color}],
    }


def point_map(snapshot: Snapshot, lat: float, lon: float, lang: str, synthetic_label: str = "") -> MapFigure:
    """The map around (lat, lon) at 1:SCALE: shapes, legend and credits of what is drawn."""
    figure = MapFigure(MAP_MM[0], MAP_MM[1], SCALE)
    plane = LocalPlane(lat, lon)
    half = (MAP_MM[0] / 2 * SCALE / 1000, MAP_MM[1] / 2 * SCALE / 1000)  # metres
    for published in _order(snapshot):
        shapes, used = _layer_shapes(snapshot, published, plane, half)
        if not shapes:
            continue
        figure.shapes += shapes
        figure.legend.append(_legend_entry(published, used, lang, synthetic_label or "\0"))
        credit = text_in(published.definition.license.attribution, lang)
        if credit not in figure.credits:
            figure.credits.append(credit)
    return figure
