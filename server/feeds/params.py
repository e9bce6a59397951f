"""The parameters of a change feed: which layers, which area, which page, which language.

Every mistake is a 400 with the OGC JSON error naming the parameter, never echoing a layer id
(an internal id asked on the public side must read the same as one that does not exist).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from server.placenames import fold
from server.point import _number
from server.snapshot import Snapshot
from tsukuba_gis.errors import BadRequest

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
DEFAULT_RADIUS_M, MAX_RADIUS_M = 500.0, 2000.0
# A 丁目 is named by its representative point: its feed covers this far around it.
TOWN_RADIUS_M = 700.0
LANGS = ("ja", "en")
M_PER_DEG = 111_194.9  # metres per degree of latitude (mean Earth radius)


@dataclass(frozen=True)
class Area:
    """A circle (centre lon/lat, metres) or a box; ``box`` is what the store filters by."""

    box: tuple[float, float, float, float]
    center: tuple[float, float] | None = None
    radius_m: float | None = None

    def meets(self, bounds: tuple[float, float, float, float] | None) -> bool:
        """Whether a record's box reaches the area (for a circle: within the radius)."""
        if bounds is None:
            return False
        if self.center is None or self.radius_m is None:
            return True  # the store filtered by the box already
        lon, lat = self.center
        kx = M_PER_DEG * math.cos(math.radians(lat))
        dx = max(bounds[0] - lon, 0.0, lon - bounds[2]) * kx
        dy = max(bounds[1] - lat, 0.0, lat - bounds[3]) * M_PER_DEG
        return math.hypot(dx, dy) <= self.radius_m


@dataclass(frozen=True)
class FeedQuery:
    """A validated feed request."""

    layers: tuple[str, ...]
    area: Area | None
    limit: int
    before: int | None
    lang: str

    def query_string(self, params: Mapping[str, str], before: int | None) -> str:
        """The request's own parameters with another ``before`` (for rel=next)."""
        kept = [(k, v) for k, v in params.items() if k != "before"]
        if before is not None:
            kept.append(("before", str(before)))
        return urlencode(kept)


def _circle(lat: float, lon: float, radius: float) -> Area:
    dlat = radius / M_PER_DEG
    dlon = radius / (M_PER_DEG * max(math.cos(math.radians(lat)), 1e-6))
    return Area((lon - dlon, lat - dlat, lon + dlon, lat + dlat), (lon, lat), radius)


def _point_area(params: Mapping[str, str], snapshot: Snapshot) -> Area:
    lat, lon = _number(params, "lat"), _number(params, "lon")
    radius = _number(params, "radius", DEFAULT_RADIUS_M)
    if not 0 < radius <= MAX_RADIUS_M:
        raise BadRequest(f"radius: more than 0 and at most {MAX_RADIUS_M:.0f} metres")
    if not snapshot.inside(lat, lon):
        raise BadRequest("lat/lon: the point is outside Tsukuba City")
    return _circle(lat, lon, radius)


def _town_area(name: str, snapshot: Snapshot) -> Area:
    key = fold(name)
    town = next((t for t in snapshot.search.towns if t.key == key), None) if key else None
    if town is None:
        raise BadRequest("town: no 町丁目 of Tsukuba City has that name (see /search?q=)")
    return _circle(town.lat, town.lon, TOWN_RADIUS_M)


def _bbox_area(raw: str, snapshot: Snapshot) -> Area:
    try:
        west, south, east, north = (float(v) for v in raw.split(","))
    except ValueError:
        raise BadRequest("bbox: four numbers west,south,east,north (lon/lat)") from None
    if not all(map(math.isfinite, (west, south, east, north))) or west > east or south > north:
        raise BadRequest("bbox: west,south,east,north with west <= east and south <= north")
    area = snapshot.area
    if area is None or east < area[0] or west > area[2] or north < area[1] or south > area[3]:
        raise BadRequest("bbox: the box is outside Tsukuba City")
    return Area((west, south, east, north))


def _area(params: Mapping[str, str], snapshot: Snapshot) -> Area | None:
    given = [k for k in ("lat", "town", "bbox") if params.get(k)]
    if params.get("lon") and "lat" not in given:
        given.append("lat")
    if len(given) > 1:
        raise BadRequest("give one area: lat/lon (with radius), town or bbox")
    if not given:
        if params.get("radius"):
            raise BadRequest("radius needs lat and lon")
        return None
    if given[0] == "lat":
        return _point_area(params, snapshot)
    if given[0] == "town":
        return _town_area(params["town"], snapshot)
    return _bbox_area(params["bbox"], snapshot)


def _layers(raw: str | None, snapshot: Snapshot) -> tuple[str, ...]:
    visible = [p.id for p in snapshot.layers]
    if not raw:
        return tuple(visible)
    chosen = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not chosen or any(layer not in visible for layer in chosen):
        raise BadRequest("layer: no such layer (the ids are those of /api/collections)")
    return chosen


def _integer(params: Mapping[str, str], name: str, low: int, high: int, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18 and low <= int(raw) <= high):
        raise BadRequest(f"{name}: an integer from {low} to {high}")
    return int(raw)


def feed_query(params: Mapping[str, str], snapshot: Snapshot) -> FeedQuery:
    """The validated parameters of a feed request, or BadRequest naming the first bad one."""
    lang = params.get("lang") or "ja"
    if lang not in LANGS:
        raise BadRequest(f"lang: one of {', '.join(LANGS)}")
    return FeedQuery(
        layers=_layers(params.get("layer"), snapshot),
        area=_area(params, snapshot),
        limit=_integer(params, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT) or DEFAULT_LIMIT,
        before=_integer(params, "before", 1, 10**18, None),
        lang=lang,
    )
