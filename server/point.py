"""「この地点の情報」: what applies at a point, from every layer an audience may see.

``GET /point?lat=36.08&lon=140.11&radius=100`` answers, for every public layer (not only the
ones a viewer shows): the areas containing the point (zoning with BCR/FAR, area classification,
height and special-use districts, hazard areas), what lies within ``radius`` metres with its
distance (a single point can mislead), and the nearest shelters and emergency sites. Distances
are straight lines (直線距離): there is no road network; walking times are estimates at 80 m/min,
the Japanese real-estate convention. ``f=csv`` and ``f=html`` give the same answer as a download
and as a printable sheet (``server/report/``). The resident's reading of it (the place name,
plain-language sections, hazards first) is added by ``server/report/build.py``; the route is
``server/report/routes.py``.

Answers come from bbox queries on the store and vectorised shapely on a local metric plane
(equirectangular around the point: under 0.1 % error within 10 km), in a few milliseconds.
"""

import csv
import io
import math
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely

from server.rasters.point import csv_rows, raster_entries
from server.snapshot import PublishedLayer, Snapshot
from tsukuba_gis.csvsafe import safe_row
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.layerdef import Access, LayerDef
from tsukuba_gis.store import LayerRecord, Query, Store

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_RADIUS_M, MAX_RADIUS_M = 100, 500
DEFAULT_NEAREST, MAX_NEAREST = 3, 10
WALK_M_PER_MIN = 80
# Point layers whose nearest features are listed with distances (by keyword of the definition).
NEAREST_KEYWORDS = frozenset({"避難所", "緊急避難場所"})
# At most this many features of one layer are read around the point, and listed as nearby.
MAX_FEATURES, MAX_NEARBY = 500, 10
FORMATS = ("json", "csv", "html")


def _number(params: Any, name: str, default: float | None = None) -> float:
    raw = params.get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise BadRequest(f"{name} is required (decimal degrees)", code="MissingParameterValue")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name} must be a finite number")
    return value


# -- geometry on a local metric plane -------------------------------------------------------------


class LocalPlane:
    """Metres east/north of a point (equirectangular), for distances within a few km.

    Attributes:
        lat, lon: the origin.
        kx, ky: metres per degree of longitude and latitude there.
    """

    def __init__(self, lat: float, lon: float):
        self.lat, self.lon = lat, lon
        self.ky = math.radians(EARTH_RADIUS_M)
        self.kx = self.ky * math.cos(math.radians(lat))

    def box(self, radius_m: float) -> tuple[float, float, float, float]:
        """The lon/lat box of ``radius_m`` around the origin."""
        dx, dy = radius_m / self.kx, radius_m / self.ky
        return (self.lon - dx, self.lat - dy, self.lon + dx, self.lat + dy)

    def distances(self, wkb: list[bytes | None]) -> np.ndarray:
        """Metres from the origin to each geometry (0 when it contains or touches the origin)."""
        geoms = shapely.from_wkb(wkb)
        origin, scale = np.array([self.lon, self.lat]), np.array([self.kx, self.ky])
        local = shapely.transform(geoms, lambda coords: (coords - origin) * scale)
        return shapely.distance(local, shapely.Point(0, 0))


# -- the report -----------------------------------------------------------------------------------


def _fields(layer: LayerDef, record: LayerRecord, audience: Access) -> list[tuple[str, dict, str]]:
    types = {c.name: c.type for c in record.columns}
    return [
        (f.name, f.label.model_dump(), types[f.name]) for f in layer.fields_for(audience) if f.name in types
    ]


def _value(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == "boolean":
        return bool(value)
    return value


def _feature(
    layer: LayerDef, fields: list, fid: Any, props: dict, wkb: bytes | None, distance: float
) -> dict[str, Any]:
    values = [
        {"name": name, "label": label, "value": _value(props.get(name), kind)} for name, label, kind in fields
    ]
    feature = {
        "id": fid,
        "name": props.get(layer.title_field) if layer.title_field else None,
        "distance_m": round(float(distance)),
        "properties": [v for v in values if v["value"] is not None],
    }
    if layer.geometry == "point" and wkb is not None:
        x, y = shapely.get_coordinates(shapely.from_wkb(wkb))[0]
        feature.update(lat=round(float(y), 7), lon=round(float(x), 7))
    return feature


def _around(
    store: Store,
    record: LayerRecord,
    plane: LocalPlane,
    select: tuple[str, ...],
    radius_m: float,
    equals: tuple[tuple[str, Any], ...] = (),
) -> tuple[list[tuple[float, Any, dict, bytes | None]], bool]:
    """(distance, id, properties, wkb) of the features within ``radius_m``, nearest first."""
    query = Query(bbox=plane.box(radius_m), equals=equals, select=select, limit=MAX_FEATURES, with_count=True)
    page = store.query(record, query)
    if not page.ids:
        return [], False
    dist = plane.distances(page.wkb)
    rows = [
        (float(d), fid, props, w)
        for d, fid, props, w in zip(dist, page.ids, page.properties, page.wkb, strict=True)
        if d <= radius_m
    ]
    rows.sort(key=lambda row: row[0])
    return rows, (page.number_matched or 0) > len(page.ids)


def _contains(box: tuple | None, lat: float, lon: float) -> bool:
    return box is not None and box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def _covers(box: tuple[float, float, float, float], bbox: tuple | None) -> bool:
    return bbox is None or (
        box[0] <= bbox[0] and box[1] <= bbox[1] and box[2] >= bbox[2] and box[3] >= bbox[3]
    )


def _nearest(
    store: Store,
    record: LayerRecord,
    plane: LocalPlane,
    select: tuple[str, ...],
    count: int,
    equals: tuple[tuple[str, Any], ...] = (),
) -> list[tuple[float, Any, dict, bytes | None]]:
    """The ``count`` nearest features: bbox queries growing from 1 km until they are certain."""
    radius = 1000.0
    while True:
        rows, truncated = _around(store, record, plane, select, radius, equals)
        if (
            len(rows) >= count
            or (_covers(plane.box(radius), record.bbox) and not truncated)
            or radius > 200_000
        ):
            return rows[:count]
        radius *= 3


def _layer_report(
    published: PublishedLayer, snapshot: Snapshot, plane: LocalPlane, radius: float
) -> dict[str, Any]:
    layer, record, store = published.definition, published.record, snapshot.store
    fields = _fields(layer, record, snapshot.audience)
    select = tuple(name for name, _, _ in fields)
    rows, truncated = _around(store, record, plane, select, radius)
    here = [r for r in rows if r[0] == 0 and layer.geometry != "point"]
    nearby = [r for r in rows if not (r[0] == 0 and layer.geometry != "point")]
    bbox = record.bbox
    inside = _contains(bbox, plane.lat, plane.lon)
    return {
        "id": layer.id,
        "title": layer.title.model_dump(),
        "department": layer.department,
        "department_name": snapshot.department_name(layer.department).model_dump(),
        "geometry": layer.geometry,
        "synthetic": layer.synthetic,
        # "outside": the point is beyond the area this layer's data covers (no answer, not "none").
        "coverage": "inside" if inside else "outside",
        "here": [_feature(layer, fields, fid, p, w, d) for d, fid, p, w in here],
        "nearby": [_feature(layer, fields, fid, p, w, d) for d, fid, p, w in nearby[:MAX_NEARBY]],
        "nearby_count": len(nearby),
        "truncated": truncated,
    }


def _nearest_group(published: PublishedLayer, snapshot: Snapshot, plane: LocalPlane, count: int) -> dict:
    """The nearest features of one layer; in 災害時モード only the open ones (with their status).

    Residents need the open shelters; staff see all of them (with their status) so they can open the next.
    """
    layer, record = published.definition, published.record
    fields = _fields(layer, record, snapshot.audience)
    select = tuple(n for n, _, _ in fields)
    state = snapshot.disaster.get(layer.id)
    open_only = state is not None and bool(state.open_count) and snapshot.audience == "public"
    if open_only:
        rows = sorted(
            (
                row
                for value in state.open_values
                for row in _nearest(snapshot.store, record, plane, select, count, ((state.field, value),))
            ),
            key=lambda row: row[0],
        )[:count]
    else:
        rows = _nearest(snapshot.store, record, plane, select, count)
    found = [_feature(layer, fields, fid, p, w, d) for d, fid, p, w in rows]
    for feature in found:
        feature["walk_min"] = math.ceil(feature["distance_m"] / WALK_M_PER_MIN)
        if state is not None:
            feature["status"] = next(
                (p["value"] for p in feature["properties"] if p["name"] == state.field), None
            )
    group = {"layer": layer.id, "title": layer.title.model_dump(), "features": found}
    if state is not None:
        group["open_only"] = open_only
    return group


def point_report(
    snapshot: Snapshot,
    lat: float,
    lon: float,
    radius: float = DEFAULT_RADIUS_M,
    nearest: int = DEFAULT_NEAREST,
) -> dict[str, Any]:
    """What applies at (lat, lon) in every layer of the audience's snapshot."""
    started = time.perf_counter()
    if not snapshot.inside(lat, lon):
        raise BadRequest(f"lat={lat}, lon={lon} is outside the area this map covers (Tsukuba)")
    plane = LocalPlane(lat, lon)
    layers, closest = [], []
    for published in snapshot.layers:
        layers.append(_layer_report(published, snapshot, plane, radius))
        layer = published.definition
        if layer.geometry == "point" and NEAREST_KEYWORDS & set(layer.keywords) and nearest:
            closest.append(_nearest_group(published, snapshot, plane, nearest))
    return {
        "point": {"lat": lat, "lon": lon},
        # 災害時モード: a shelter is open; the nearest lists of such layers show open ones only.
        "disaster_mode": snapshot.disaster_active,
        "radius_m": radius,
        "distance": "straight-line",
        "walk_m_per_min": WALK_M_PER_MIN,
        "layers": layers,
        # Raster layers (想定浸水深, 標高 ...): values at the point, hazards first.
        "rasters": raster_entries(snapshot, lat, lon, radius),
        "nearest": closest,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "took_ms": round((time.perf_counter() - started) * 1000, 2),
    }


# -- downloads ------------------------------------------------------------------------------------

TEXT = {
    "ja": {
        "title": "この地点の情報",
        "place": "地名",
        "point": "地点（緯度, 経度）",
        "section": "区分",
        "layer": "レイヤ",
        "name": "名称",
        "field": "項目",
        "value": "値",
        "distance": "直線距離（m）",
        "walk": "徒歩（分・推定）",
        "here": "この地点",
        "nearby": "半径{r}m以内",
        "nearest": "最寄り",
        "none": "該当なし",
        "outside": "データの範囲外",
        "synthetic": "サンプル（架空）",
        "generated": "作成日時",
        "yes": "はい",
        "no": "いいえ",
        "notes": [
            "距離は直線距離です（道路に沿った距離ではありません）。徒歩時間は80m/分で換算した目安です。",
            "「サンプル（架空）」のデータは実在しません。実際の判断には使わないでください。",
            "一地点だけでは誤解を招くことがあるため、周辺の情報も確認してください。",
            "正式な内容は市の窓口で確認してください。",
        ],
    },
    "en": {
        "title": "What applies here",
        "place": "Place",
        "point": "Point (lat, lon)",
        "section": "Section",
        "layer": "Layer",
        "name": "Name",
        "field": "Field",
        "value": "Value",
        "distance": "Straight-line distance (m)",
        "walk": "Walk (min, estimate)",
        "here": "At this point",
        "nearby": "Within {r} m",
        "nearest": "Nearest",
        "none": "None",
        "outside": "Outside this data's coverage",
        "synthetic": "Synthetic sample",
        "generated": "Generated",
        "yes": "Yes",
        "no": "No",
        "notes": [
            "Distances are straight lines, not along roads. Walking times are estimates at 80 m/min.",
            "Data marked 'synthetic sample' is invented: do not use it for real decisions.",
            "A single point can mislead: check the surroundings too.",
            "Confirm official details with the responsible city office.",
        ],
    },
}


def _text(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return TEXT[lang]["yes" if value else "no"]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _rows(report: dict[str, Any], lang: str) -> list[list[str]]:
    """Flat rows: section, layer, name, field, value, distance, walk."""
    words = TEXT[lang]
    rows = csv_rows(report, lang)  # the raster layers' values first: hazards lead

    def add(section: str, title: dict, feature: dict, walk: str = "") -> None:
        name = _text(feature["name"], lang)
        for prop in feature["properties"] or [{"label": {}, "value": None}]:
            rows.append(
                [
                    section,
                    title.get(lang) or title["ja"],
                    name,
                    prop["label"].get(lang, ""),
                    _text(prop["value"], lang),
                    str(feature["distance_m"]),
                    walk,
                ]
            )

    for layer in report["layers"]:
        for feature in layer["here"]:
            add(words["here"], layer["title"], feature)
        for feature in layer["nearby"]:
            add(words["nearby"].format(r=int(report["radius_m"])), layer["title"], feature)
    for group in report["nearest"]:
        for feature in group["features"]:
            add(words["nearest"], group["title"], feature, str(feature["walk_min"]))
    return rows


def report_csv(report: dict[str, Any], lang: str) -> str:
    """The report as CSV (UTF-8 with BOM, so spreadsheet software reads Japanese right)."""
    words = TEXT[lang]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    point = report["point"]
    if report.get("place"):
        place = report["place"]
        writer.writerow(
            safe_row([words["place"], place["town"] if lang == "ja" else place["romaji"] or place["town"]])
        )
    writer.writerow([words["point"], f"{point['lat']:.6f}, {point['lon']:.6f}"])
    writer.writerow([words[k] for k in ("section", "layer", "name", "field", "value", "distance", "walk")])
    writer.writerows(safe_row(row) for row in _rows(report, lang))
    for note in words["notes"]:
        writer.writerow([note])
    return "\ufeff" + out.getvalue()
