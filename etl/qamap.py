"""The QA map of a layer in the run report: loaded features, and highlighted what was repaired
or rejected.

Bounded for big layers: a uniform random sample of the loaded features (reservoir sampling
over the chunks, so memory stays flat), and every repaired/rejected feature up to a cap.
Offline-safe: folium's default CDN scripts and styles are switched off; the report inlines
the Leaflet copy in ``etl/static/leaflet`` (LGWAN has no internet). Base map tiles are
optional: when they cannot load, the features still show on a blank background.
"""

import importlib.resources
import json
import re
from collections.abc import Callable
from typing import Any

import folium
import numpy as np
import shapely

LOADED_CAP = 2000
MARKED_CAP = 500
_SIMPLIFY_DEG = 1e-5  # about 1 m: invisible at the zooms a QA map is read at
STYLES = {
    "loaded": {"color": "#1f6feb", "weight": 1, "fillOpacity": 0.2},
    "repaired": {"color": "#d97706", "weight": 3, "fillOpacity": 0.4},
    "rejected": {"color": "#d1242f", "weight": 3, "fillOpacity": 0.5, "dashArray": "4 3"},
}


class MapSample:
    """What one layer load contributes to its QA map, kept small whatever the layer's size."""

    def __init__(self, seed: int = 0, loaded_cap: int = LOADED_CAP, marked_cap: int = MARKED_CAP):
        self.rng = np.random.default_rng(seed)
        self.loaded_cap, self.marked_cap = loaded_cap, marked_cap
        self.keys = np.empty(0)
        self.geoms = np.empty(0, dtype=object)
        self.labels = np.empty(0, dtype=object)
        self.loaded_total = 0
        self.marked: dict[str, list[tuple[Any, str]]] = {"repaired": [], "rejected": []}

    def add_loaded(self, geoms: np.ndarray, labels: Callable[[np.ndarray], np.ndarray]) -> None:
        """Offer a chunk of loaded features; keep the ``loaded_cap`` with the smallest keys.

        ``labels(positions)`` makes the tooltips of the chosen rows only (a big chunk
        contributes a few dozen).
        """
        self.loaded_total += len(geoms)
        fresh = self.rng.random(len(geoms))
        if len(self.keys) >= self.loaded_cap:  # only keys below the current worst can enter
            candidates = np.flatnonzero(fresh < self.keys.max())
        else:
            candidates = np.arange(len(geoms))
        keys = np.concatenate([self.keys, fresh[candidates]])
        keep = np.argsort(keys)[: self.loaded_cap]
        self.keys = keys[keep]
        chosen_geoms = np.asarray(geoms, dtype=object)[candidates]
        chosen_labels = np.asarray(labels(candidates), dtype=object)
        self.geoms = np.concatenate([self.geoms, chosen_geoms])[keep]
        self.labels = np.concatenate([self.labels, chosen_labels])[keep]

    def add_marked(self, kind: str, wkt: str | None, label: str) -> None:
        """Keep a repaired or rejected feature (with a geometry) up to the cap."""
        if wkt is not None and len(self.marked[kind]) < self.marked_cap:
            self.marked[kind].append((wkt, label))

    def collections(self) -> dict[str, dict]:
        """GeoJSON FeatureCollections per kind: loaded, repaired, rejected."""
        out = {"loaded": _collection(self.geoms, self.labels)}
        for kind, items in self.marked.items():
            geoms = shapely.from_wkt([w for w, _ in items], on_invalid="ignore") if items else []
            out[kind] = _collection(geoms, [label for _, label in items])
        return out


def _collection(geoms, labels) -> dict:
    features = []
    for geom, label in zip(geoms, labels, strict=True):
        if geom is None or geom.is_empty or not np.isfinite(shapely.bounds(geom)).all():
            continue  # e.g. infinite coordinates of a reject: nothing to draw
        small = shapely.set_precision(shapely.simplify(geom, _SIMPLIFY_DEG), 1e-6, mode="pointwise")
        features.append(
            {
                "type": "Feature",
                "properties": {"label": str(label)},
                "geometry": json.loads(shapely.to_geojson(small)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _bounds(collections: dict[str, dict]) -> list[list[float]] | None:
    geoms = [
        shapely.from_geojson(json.dumps(f["geometry"])) for c in collections.values() for f in c["features"]
    ]
    if not geoms:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    return [[y0, x0], [y1, x1]]


def _add_layer(m: folium.Map, kind: str, collection: dict, title: str) -> None:
    style = STYLES[kind]
    folium.GeoJson(
        collection,
        name=title,
        style_function=lambda _feature, style=style: style,
        marker=folium.CircleMarker(
            radius=4 if kind == "loaded" else 6,
            fill=True,
            fill_opacity=0.8,
            **{k: v for k, v in style.items() if k in ("color", "weight")},
        ),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    ).add_to(m)


def render(sample: MapSample, tiles_url: str | None = None) -> str | None:
    """The map as an HTML fragment (a div and its script), or None when nothing can be drawn."""
    collections = sample.collections()
    bounds = _bounds(collections)
    if bounds is None:
        return None
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    m.default_js, m.default_css = [], []  # offline: Leaflet is inlined by the report
    if tiles_url:
        folium.TileLayer(
            tiles_url, attr="地理院タイル (GSI)", name="地理院タイル / GSI tiles", max_zoom=18
        ).add_to(m)
    titles = {
        "loaded": f"登録 / loaded ({len(collections['loaded']['features'])} of {sample.loaded_total})",
        "repaired": f"修復 / repaired ({len(collections['repaired']['features'])})",
        "rejected": f"除外 / rejected ({len(collections['rejected']['features'])})",
    }
    for kind in ("loaded", "repaired", "rejected"):
        if collections[kind]["features"]:
            _add_layer(m, kind, collections[kind], titles[kind])
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds(bounds)
    figure = m.get_root()
    figure.render()
    # Only the map's div and script: folium's page-level styles would restyle the report.
    return figure.html.render() + "\n<script>\n" + figure.script.render() + "\n</script>"


def leaflet_assets() -> tuple[str, str]:
    """The vendored Leaflet CSS and JS, to inline once in the report."""
    base = importlib.resources.files("etl") / "static" / "leaflet"
    css = (base / "leaflet.css").read_text(encoding="utf-8")
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)  # no request for a map file
    return css, js
