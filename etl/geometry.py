"""Repair/validate step: every loaded geometry is valid, 2D, of the layer's type and in Japan."""

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from etl.source import ROW
from tsukuba_gis.store import Reject

# Japan with its remote islands (Okinotorishima to Etorofu, Yonaguni to Minamitorishima).
JAPAN = (122.0, 20.0, 154.0, 46.0)
_DIMENSION = {"point": 0, "line": 1, "polygon": 2}
_MULTI = {"line": shapely.MultiLineString, "polygon": shapely.MultiPolygon}


@dataclass
class GeometryResult:
    """Features that passed, the rejects, and the source rows whose geometry was repaired."""

    frame: gpd.GeoDataFrame
    rejects: list[Reject] = field(default_factory=list)
    repaired_rows: list[int] = field(default_factory=list)


def _reject(frame: gpd.GeoDataFrame, mask: np.ndarray, label: str, reason) -> list[Reject]:
    """Rejects for the masked rows; ``reason`` is a text or a function of the row's geometry."""
    out = []
    for _, row in frame[mask].iterrows():
        geom = row[frame.geometry.name]
        attributes = {k: v for k, v in row.items() if k not in (ROW, frame.geometry.name)}
        text = reason(geom) if callable(reason) else reason
        wkt = None if geom is None or geom.is_empty else shapely.to_wkt(geom, rounding_precision=7)
        out.append(Reject(source=label, row=int(row[ROW]), reason=text, attributes=attributes,
                          geometry_wkt=wkt))
    return out


def drop_missing(frame: gpd.GeoDataFrame, label: str) -> tuple[gpd.GeoDataFrame, list[Reject]]:
    """Reject rows without a geometry and drop Z, before any reprojection."""
    geoms = frame.geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    rejects = _reject(frame, missing, label, "no geometry (missing, empty or unreadable)")
    kept = frame[~missing].copy()
    kept.geometry = shapely.force_2d(kept.geometry.to_numpy())
    return kept, rejects


def _outside_reason(geom: shapely.Geometry) -> str:
    x0, y0, x1, y1 = geom.bounds
    text = f"outside Japan (bounds {x0:.5f},{y0:.5f},{x1:.5f},{y1:.5f} in lon/lat)"
    swapped = JAPAN[0] <= y0 and y1 <= JAPAN[2] and JAPAN[1] <= x0 and x1 <= JAPAN[3]
    if swapped:
        text += "; latitude and longitude look swapped: check the axis order or the lat/lon columns"
    else:
        text += "; check the declared CRS"
    return text


def _outside_japan(geoms: np.ndarray) -> np.ndarray:
    b = shapely.bounds(geoms)
    return ~((b[:, 0] >= JAPAN[0]) & (b[:, 2] <= JAPAN[2]) & (b[:, 1] >= JAPAN[1]) & (b[:, 3] <= JAPAN[3]))


def _wrong_type_reason(kind: str):
    return lambda geom: f"a {geom.geom_type} cannot go into a {kind} layer"


def _repair(geoms: np.ndarray, kind: str) -> np.ndarray:
    """Valid geometries that keep only parts of the layer's dimension (None if nothing is left)."""
    fixed = shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    parts, index = shapely.get_parts(fixed, return_index=True)
    keep = shapely.get_dimensions(parts) == _DIMENSION[kind]
    out = np.full(len(geoms), None, dtype=object)
    for i in np.unique(index[keep]):
        mine = parts[keep & (index == i)]
        out[i] = shapely.union_all(mine) if len(mine) > 1 else mine[0]
    return out


def _normalise(geoms: np.ndarray, kind: str) -> np.ndarray:
    """Promote to multi (lines, polygons) or unwrap single-point multipoints; winding per RFC 7946."""
    out = geoms.copy()
    if kind == "point":
        single = shapely.get_type_id(out) == 4
        out[single] = shapely.get_geometry(out[single], 0)
        return out
    multi = _MULTI[kind]
    for i, geom in enumerate(out):
        if not isinstance(geom, multi):
            out[i] = multi(list(shapely.get_parts(geom)))
    if kind == "polygon":
        out = shapely.orient_polygons(out, exterior_cw=False)
    return out


def clean(frame: gpd.GeoDataFrame, kind: str, label: str) -> GeometryResult:
    """Check lon/lat geometries: in Japan, of the layer's type, valid (repaired when possible)."""
    result = GeometryResult(frame)
    outside = _outside_japan(frame.geometry.to_numpy())
    result.rejects += _reject(frame, outside, label, _outside_reason)
    frame = frame[~outside]
    dims = shapely.get_dimensions(frame.geometry.to_numpy())
    types = shapely.get_type_id(frame.geometry.to_numpy())
    wrong = (dims != _DIMENSION[kind]) | (types == 7) | ((kind == "point") & (types == 4)
                                                         & (shapely.get_num_geometries(frame.geometry.to_numpy()) > 1))
    result.rejects += _reject(frame, wrong, label, _wrong_type_reason(kind))
    frame = frame[~wrong].copy()
    geoms = frame.geometry.to_numpy()
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        repaired = _repair(geoms[invalid], kind)
        failed = np.zeros(len(geoms), dtype=bool)
        failed[np.flatnonzero(invalid)[repaired == None]] = True  # noqa: E711 (object array)
        geoms[invalid] = repaired
        result.rejects += _reject(frame, failed, label, "invalid geometry that could not be repaired"
                                  " into a valid one of the layer's type")
        result.repaired_rows = frame[ROW][invalid & ~failed].tolist()
        frame = frame[~failed].copy()
        geoms = geoms[~failed]
    frame.geometry = _normalise(geoms, kind)
    result.frame = frame
    return result
