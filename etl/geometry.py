"""Repair/validate step: every loaded geometry is valid, 2D, of the layer's type and in Japan.

Rules, in order: no geometry -> reject; Z dropped; outside Japan -> reject (with the hint
that swapped axes are the usual cause); a geometry of another dimension -> reject (a
collection whose parts all fit is flattened); invalid -> ``make_valid`` keeping only parts
of the layer's dimension, else reject; then promote to multi (lines, polygons) and orient
polygons as RFC 7946 says (exterior counter-clockwise, holes clockwise).
"""

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from etl.source import ROW
from tsukuba_gis.store import Reject

# Japan with its remote islands (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
JAPAN = (122.0, 20.0, 154.0, 46.0)
_DIMENSION = {"point": 0, "line": 1, "polygon": 2}
_MULTI = {"line": shapely.multilinestrings, "polygon": shapely.multipolygons}
_SINGLE_TYPE = {"line": 1, "polygon": 3}  # shapely type ids of LineString, Polygon
_MULTIPOINT, _COLLECTION = 4, 7
MAX_REPAIRED_EXAMPLES = 500


@dataclass
class GeometryResult:
    """Features that passed, the rejects, and what was repaired (row, why, repaired WKT)."""

    frame: gpd.GeoDataFrame
    rejects: list[Reject] = field(default_factory=list)
    repaired: list[dict] = field(default_factory=list)
    repaired_count: int = 0


def reject_rows(frame: gpd.GeoDataFrame, mask: np.ndarray, label: str, reason) -> list[Reject]:
    """Rejects for the masked rows; ``reason`` is a text, a list of texts (one per masked row)
    or a function of the row's geometry."""
    if not mask.any():
        return []
    picked = frame[mask]
    geoms = picked.geometry.to_numpy()
    attributes = picked.drop(columns=[ROW, picked.geometry.name]).to_dict("records")
    reasons = reason if isinstance(reason, list) else [reason] * len(picked)
    out = []
    for geom, row, attrs, why in zip(geoms, picked[ROW], attributes, reasons, strict=True):
        text = why(geom) if callable(why) else why
        wkt = None if geom is None or geom.is_empty else shapely.to_wkt(geom, rounding_precision=7)
        out.append(Reject(source=label, row=int(row), reason=text, attributes=attrs, geometry_wkt=wkt))
    return out


def drop_missing(frame: gpd.GeoDataFrame, label: str) -> tuple[gpd.GeoDataFrame, list[Reject]]:
    """Reject rows without a geometry and drop Z, before any reprojection."""
    geoms = frame.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    rejects = reject_rows(
        frame,
        missing,
        label,
        "no geometry (missing or empty); add the geometry in the source or remove the row",
    )
    kept = frame[~missing].copy()
    if shapely.has_z(kept.geometry.to_numpy()).any():
        kept.geometry = shapely.force_2d(kept.geometry.to_numpy())
    return kept, rejects


def _outside_reason(where: str):
    def reason(geom: shapely.Geometry) -> str:
        x0, y0, x1, y1 = geom.bounds
        text = f"outside Japan (bounds {x0:.5f},{y0:.5f},{x1:.5f},{y1:.5f} in {where})"
        swapped = JAPAN[0] <= y0 and y1 <= JAPAN[2] and JAPAN[1] <= x0 and x1 <= JAPAN[3]
        if swapped:
            return text + (
                "; latitude and longitude look swapped: check the axis order or the lat/lon columns"
            )
        return text + "; check the coordinates and the declared CRS"

    return reason


def _outside_japan(geoms: np.ndarray) -> np.ndarray:
    b = shapely.bounds(geoms)
    with np.errstate(invalid="ignore"):  # NaN bounds (non-finite coordinates) count as outside
        inside = (b[:, 0] >= JAPAN[0]) & (b[:, 2] <= JAPAN[2]) & (b[:, 1] >= JAPAN[1]) & (b[:, 3] <= JAPAN[3])
    return ~inside


def check_source_extent(frame: gpd.GeoDataFrame, label: str) -> tuple[gpd.GeoDataFrame, list[Reject]]:
    """Before reprojection: in a geographic source CRS, reject what is not in Japan.

    Only here can a swapped lat/lon be recognised: after reprojection it would be infinite.
    """
    crs = pyproj.CRS.from_user_input(frame.crs) if frame.crs is not None else None
    if crs is None or not crs.is_geographic:
        return frame, []
    outside = _outside_japan(frame.geometry.to_numpy())
    rejects = reject_rows(frame, outside, label, _outside_reason(f"lon/lat of {crs.name}"))
    return (frame[~outside] if outside.any() else frame), rejects


def _flatten_collections(geoms: np.ndarray, kind: str) -> np.ndarray:
    """GeometryCollections whose parts all have the layer's dimension, as plain geometries."""
    out = geoms.copy()
    for i in np.flatnonzero(shapely.get_type_id(geoms) == _COLLECTION):
        parts = shapely.get_parts(shapely.get_parts(geoms[i]))  # members of multi members too
        if len(parts) and (shapely.get_dimensions(parts) == _DIMENSION[kind]).all():
            out[i] = (shapely.multipoints if kind == "point" else _MULTI[kind])(parts)
    return out


def _wrong_type(geoms: np.ndarray, kind: str) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    wrong = (shapely.get_dimensions(geoms) != _DIMENSION[kind]) | (types == _COLLECTION)
    if kind == "point":  # a multipoint of one point is a point; of several it is not
        wrong |= (types == _MULTIPOINT) & (shapely.get_num_geometries(geoms) > 1)
    return wrong


def _wrong_type_reason(kind: str):
    return lambda geom: (
        f"a {geom.geom_type} cannot go into a {kind} layer; fix the geometry"
        " or load it into a layer of that type"
    )


def _repair(geoms: np.ndarray, kind: str) -> np.ndarray:
    """Valid geometries that keep only parts of the layer's dimension (None if nothing is left)."""
    fixed = shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    parts, index = shapely.get_parts(fixed, return_index=True)
    # keep_collapsed=False leaves e.g. POLYGON EMPTY for a collapsed polygon: not a repair.
    keep = (shapely.get_dimensions(parts) == _DIMENSION[kind]) & ~shapely.is_empty(parts)
    out = np.full(len(geoms), None, dtype=object)
    for i in np.unique(index[keep]):
        mine = parts[keep & (index == i)]
        out[i] = shapely.union_all(mine) if len(mine) > 1 else mine[0]
    return out


def _normalise(geoms: np.ndarray, kind: str) -> np.ndarray:
    """Promote to multi (lines, polygons) or unwrap one-point multipoints; RFC 7946 winding."""
    out = geoms.copy()
    if kind == "point":
        single = shapely.get_type_id(out) == _MULTIPOINT
        out[single] = shapely.get_geometry(out[single], 0)
        return out
    single = np.flatnonzero(shapely.get_type_id(out) == _SINGLE_TYPE[kind])
    if single.size:
        out[single] = _MULTI[kind](out[single], indices=np.arange(single.size))
    if kind == "polygon":
        out = shapely.orient_polygons(out, exterior_cw=False)
    return out


def _kept(frame: gpd.GeoDataFrame, dropped: np.ndarray) -> gpd.GeoDataFrame:
    """The rows not dropped, as a new frame (no copy when none is: the common case)."""
    return frame[~dropped].copy() if dropped.any() else frame.copy(deep=False)


def clean(frame: gpd.GeoDataFrame, kind: str, label: str) -> GeometryResult:
    """Check lon/lat geometries: in Japan, of the layer's type, valid (repaired when possible)."""
    result = GeometryResult(frame)
    outside = _outside_japan(frame.geometry.to_numpy())
    result.rejects += reject_rows(frame, outside, label, _outside_reason("lon/lat"))
    frame = _kept(frame, outside)
    geoms = _flatten_collections(frame.geometry.to_numpy(), kind)
    wrong = _wrong_type(geoms, kind)
    result.rejects += reject_rows(frame.set_geometry(geoms), wrong, label, _wrong_type_reason(kind))
    frame, geoms = _kept(frame, wrong), geoms[~wrong]
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        frame, geoms = _repair_invalid(frame, geoms, invalid, kind, label, result)
    frame.geometry = _normalise(geoms, kind)
    result.frame = frame
    return result


def _repair_invalid(frame, geoms, invalid, kind, label, result: GeometryResult):
    """Repair the invalid rows in place; reject those that cannot keep the layer's type."""
    why = shapely.is_valid_reason(geoms[invalid])
    repaired = _repair(geoms[invalid], kind)
    failed = np.zeros(len(geoms), dtype=bool)
    failed[np.flatnonzero(invalid)[repaired == None]] = True  # noqa: E711 (object array)
    result.rejects += reject_rows(
        frame,
        failed,
        label,
        lambda g: (
            f"invalid geometry ({shapely.is_valid_reason(g)}) that cannot be repaired into a valid"
            f" {kind}; fix it in the source"
        ),
    )
    geoms = geoms.copy()
    geoms[invalid] = repaired
    ok = repaired != None  # noqa: E711 (object array)
    rows = frame[ROW].to_numpy()[invalid][ok]
    result.repaired_count += int(ok.sum())
    room = max(MAX_REPAIRED_EXAMPLES - len(result.repaired), 0)
    result.repaired += [
        {"file": label, "row": int(r), "reason": w, "geometry_wkt": shapely.to_wkt(g, rounding_precision=7)}
        for r, w, g in list(zip(rows, why[ok], repaired[ok], strict=True))[:room]
    ]
    return frame[~failed].copy(), geoms[~failed]
