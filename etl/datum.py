"""Reproject layer coordinates to lon/lat (EPSG:4326 axis order; JGD2011 is treated as WGS 84).

Tokyo Datum sources do not go through PROJ's datum shift: offline PROJ only has the
EPSG:15483 Helmert shift (stated 9 m, about 1 m off GSI's official result at Tsukuba)
because the TKY2JGD grid ships with neither the pyproj wheel nor Debian's proj-data.
We apply GSI's own TKY2JGD parameters instead, taken from the BSD-3 PyPI package
``tky2jgd`` (a port of GSI's TKY2JGD by mugwort_rc / TAKAHASHI Shuuji, which bundles
``TKY2JGD.par``); the mesh lookup and bilinear interpolation follow its ``bilinear()``
(GSI's algorithm, M. Tobita), vectorised over numpy arrays.

JGD2000 -> JGD2011 is a null shift here: GSI's PatchJGD file for the 2011 Tohoku
earthquake (``touhokutaiheiyouoki2011.par``), which covers Tsukuba, is not distributed
through any registry this project installs from (see ``etl/grids/PROVENANCE.md``),
so the step text and ``accuracy_m`` say so. Everything else goes through pyproj.
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Callable
from dataclasses import asdict, dataclass

import geopandas
import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

Coords = tuple[np.ndarray, np.ndarray]
TransformFunc = Callable[[np.ndarray, np.ndarray], Coords]

# EPSG:15484 "Tokyo to JGD2000 (2)" is GSI's TKY2JGD grid as NTv2; its stated accuracy.
TKY2JGD_ACCURACY_M = 0.2
# Inside the PatchJGD area the null shift is off by the PatchJGD correction we skip. GSI
# measured up to ~5.4 m of co-seismic motion (station M-Oshika, Miyagi), so 6 m is the
# worst case we state; around Tsukuba it is well under that (GSI: the Tsukuba VLBI station
# moved ~0.63 m east in the earthquake).
PATCHJGD_OMITTED_MAX_M = 6.0
# EPSG:6713 "JGD2000 to JGD2011 (1)" (touhokutaiheiyouoki2011.gsb) area of use, from proj.db.
PATCHJGD_AREA = (135.42, 34.84, 142.14, 41.58)  # west, south, east, north
# PROJ.4 strings often spell Tokyo Datum as Bessel + EPSG:15483's translation.
TOKYO_TOWGS84 = "towgs84=-146.414,507.337,680.507"


@dataclass(frozen=True)
class Transform:
    """What was done to get a layer's coordinates to lon/lat, for the registry and ETL report."""

    source_crs: str
    steps: tuple[str, ...]
    accuracy_m: float | None
    method: str

    def to_dict(self) -> dict:
        """Return a JSON-able dict (steps as a list)."""
        d = asdict(self)
        d["steps"] = list(self.steps)
        return d


# --- CRS handling -----------------------------------------------------------------------


def _parse_crs(crs) -> pyproj.CRS:
    """Parse any pyproj-acceptable input; refuse to guess when there is none."""
    hint = "declare `crs:` in the layer definition (e.g. crs: EPSG:30169)"
    if crs is None or (isinstance(crs, str) and not crs.strip()):
        raise ValueError(f"no CRS given (got {crs!r}); {hint}")
    try:
        return pyproj.CRS.from_user_input(crs)
    except CRSError as exc:
        raise ValueError(f"unrecognised CRS {str(crs)[:200]!r} ({exc}); {hint}") from exc


def _horizontal(crs: pyproj.CRS) -> pyproj.CRS:
    """Strip a vertical part (compound) or a towgs84 wrapper (bound): we shift lon/lat only."""
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    if crs.is_bound:
        crs = crs.source_crs
    return crs


def _crs_label(crs: pyproj.CRS) -> str:
    """Short name for the registry: EPSG code if PROJ can identify it, else the CRS name."""
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.name


def is_tokyo_datum(crs: pyproj.CRS) -> bool:
    """True if the horizontal datum is Tokyo (EPSG:6301), however the CRS was written."""
    geodetic = _horizontal(crs).geodetic_crs
    if geodetic is None:
        return False
    name = geodetic.datum.name
    # ESRI "D_Tokyo" is normalised to "Tokyo" by PROJ; "Tokyo 1892" is a different datum.
    return (
        name == "Tokyo"
        or geodetic.to_epsg() == 4301
        or (TOKYO_TOWGS84 in name and geodetic.ellipsoid.name == "Bessel 1841")
    )


def _in_patchjgd_area(crs: pyproj.CRS) -> bool:
    """Whether the CRS's area of use touches the Tohoku-earthquake PatchJGD area."""
    area = crs.area_of_use
    if area is None:  # unknown extent (e.g. an ESRI .prj): assume the worst
        return True
    w, s, e, n = PATCHJGD_AREA
    return area.west < e and area.east > w and area.south < n and area.north > s


def _proj_accuracy(transformer: pyproj.Transformer) -> float | None:
    """PROJ's stated accuracy; pure conversions (projections) are exact, -1 means unknown."""
    ops = transformer.operations
    if ops and all(op.type_name == "Conversion" for op in ops):
        return 0.0
    return transformer.accuracy if transformer.accuracy >= 0 else None


# --- TKY2JGD mesh grid ------------------------------------------------------------------

# Mesh key = row * stride + col, where row counts 30" latitude cells from 0°N and col
# counts 45" longitude cells from 100°E (JIS X 0410 3rd-order mesh).
_KEY_STRIDE = 100_000


@dataclass(frozen=True)
class _MeshGrid:
    """A GSI .par parameter file on the 3rd-order mesh: shifts in arc-seconds per node."""

    keys: np.ndarray  # sorted int64 mesh keys
    dlat: np.ndarray  # dB, arc-seconds
    dlon: np.ndarray  # dL, arc-seconds
    version: str  # the file's first header line


def _load_par(path, header_lines: int) -> _MeshGrid:
    """Read a GSI .par file (mesh code, dB, dL per line) into sorted arrays."""
    with open(path, encoding="ascii") as f:
        header = [f.readline() for _ in range(header_lines)]
        table = np.array(f.read().split(), dtype=np.float64).reshape(-1, 3)
    code = table[:, 0].astype(np.int64)  # 8-digit mesh code: lat1 lon1 lat2 lon2 lat3 lon3
    row = (code // 1_000_000) * 80 + (code // 1000 % 10) * 10 + (code // 10 % 10)
    col = (code // 10_000 % 100) * 80 + (code // 100 % 10) * 10 + (code % 10)
    keys = row * _KEY_STRIDE + col
    order = np.argsort(keys)
    return _MeshGrid(keys[order], table[order, 1], table[order, 2], header[0].strip())


@functools.cache
def _tky2jgd_grid() -> _MeshGrid:
    """TKY2JGD.par as bundled by the `tky2jgd` package (loaded once, ~0.5 s)."""
    path = importlib.resources.files("tky2jgd") / "data" / "TKY2JGD.par"
    return _load_par(path, header_lines=2)


def _node_values(grid: _MeshGrid, row: np.ndarray, col: np.ndarray) -> tuple:
    """Look up (dB, dL, found) at mesh nodes; vectorised binary search over the sorted keys."""
    keys = row * _KEY_STRIDE + col
    idx = np.minimum(np.searchsorted(grid.keys, keys), grid.keys.size - 1)
    found = grid.keys[idx] == keys
    return grid.dlat[idx], grid.dlon[idx], found


def _mesh_shift(grid: _MeshGrid, lon: np.ndarray, lat: np.ndarray) -> tuple:
    """Bilinear dB, dL (arc-seconds) at each point, as GSI's TKY2JGD does, plus an 'ok' mask.

    A point is ok only if all four surrounding nodes have parameters (as in TKY2JGD).
    """
    # TKY2JGD rejects anything outside this box before looking at the mesh.
    ok = np.isfinite(lon) & np.isfinite(lat) & (lat >= 20) & (lat <= 46)
    ok &= (lon >= 120) & (lon <= 154)
    y = np.where(ok, lat, 36.0) * 120.0
    x = (np.where(ok, lon, 140.0) - 100.0) * 80.0
    # TKY2JGD adds 1e-11 before truncating so that e.g. lon 138.45 lands in the eastern cell.
    row = np.floor(y + 1e-11).astype(np.int64)
    col = np.floor(x + 1e-11).astype(np.int64)
    fy, fx = y - row, x - col
    b00, l00, f00 = _node_values(grid, row, col)
    b10, l10, f10 = _node_values(grid, row, col + 1)  # east
    b01, l01, f01 = _node_values(grid, row + 1, col)  # north
    b11, l11, f11 = _node_values(grid, row + 1, col + 1)  # north-east
    ok &= f00 & f10 & f01 & f11
    dlat = b00 + (b10 - b00) * fx + (b01 - b00) * fy + (b11 - b10 - b01 + b00) * fx * fy
    dlon = l00 + (l10 - l00) * fx + (l01 - l00) * fy + (l11 - l10 - l01 + l00) * fx * fy
    return dlat, dlon, ok


def tky2jgd(lon: np.ndarray, lat: np.ndarray) -> Coords:
    """Tokyo Datum lon/lat -> JGD2000 lon/lat (degrees) with GSI's TKY2JGD grid.

    Raises ValueError if any point lies outside the mesh (outside Japan or offshore).
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    dlat, dlon, ok = _mesh_shift(_tky2jgd_grid(), lon, lat)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        i = bad[0]
        raise ValueError(
            f"{bad.size} of {ok.size} points lie outside the GSI TKY2JGD mesh (no Tokyo Datum "
            f"parameters there), e.g. Tokyo lon/lat ({lon.flat[i]:.6f}, {lat.flat[i]:.6f}); "
            "TKY2JGD covers Japanese land only - check the declared crs and the coordinates"
        )
    return lon + dlon / 3600.0, lat + dlat / 3600.0


OUTSIDE_MESH_REASON = (
    "Tokyo Datum coordinates outside GSI's TKY2JGD parameter mesh (at sea or outside Japan),"
    " so they cannot be converted to JGD; check the coordinates and the declared CRS"
)


def outside_mesh(gdf: geopandas.GeoDataFrame) -> np.ndarray:
    """Rows that TKY2JGD cannot convert: a Tokyo Datum geometry with a vertex off the mesh.

    All False for any other datum. The pipeline quarantines these rows before ``to_lonlat``,
    which would otherwise refuse the whole chunk.
    """
    bad = np.zeros(len(gdf), dtype=bool)
    src = _parse_crs(gdf.crs)
    if not is_tokyo_datum(src) or not len(gdf):
        return bad
    base = _horizontal(src)
    to_geog = pyproj.Transformer.from_crs(base, base.geodetic_crs, always_xy=True)
    coords, index = shapely.get_coordinates(np.asarray(gdf.geometry.values), return_index=True)
    lon, lat = to_geog.transform(coords[:, 0], coords[:, 1])
    _, _, ok = _mesh_shift(_tky2jgd_grid(), np.asarray(lon), np.asarray(lat))
    bad[index[~ok]] = True
    return bad


# --- transform chains -------------------------------------------------------------------


def _tokyo_chain(src: pyproj.CRS) -> tuple[TransformFunc, Transform]:
    """Tokyo plane/geographic -> Tokyo lon/lat -> TKY2JGD -> JGD2000=JGD2011 -> EPSG:4326."""
    base = _horizontal(src)
    # Unit names vary ("degree", ESRI "Degree"); the conversion factor does not.
    if not np.isclose(base.geodetic_crs.axis_info[0].unit_conversion_factor, np.pi / 180):
        raise ValueError(f"Tokyo Datum CRS {base.name!r} is not in degrees; cannot apply TKY2JGD")
    # Pure inverse projection onto the source's own Tokyo geographic CRS: no datum change.
    to_geog = pyproj.Transformer.from_crs(base, base.geodetic_crs, always_xy=True)
    to_wgs = pyproj.Transformer.from_crs("EPSG:6668", "EPSG:4326", always_xy=True)

    def func(x: np.ndarray, y: np.ndarray) -> Coords:
        lon, lat = to_geog.transform(x, y)
        lon, lat = tky2jgd(lon, lat)
        # JGD2000 -> JGD2011: null shift (PatchJGD parameters unavailable, see module doc).
        return to_wgs.transform(lon, lat)

    grid = _tky2jgd_grid()
    steps = [f"PROJ: {to_geog.description}"] if base.is_projected else []
    steps.append(
        f"Tokyo -> JGD2000: GSI TKY2JGD grid ({grid.version}, bundled by PyPI tky2jgd), "
        f"bilinear on the 3rd-order mesh; stated accuracy {TKY2JGD_ACCURACY_M} m (EPSG:15484)"
    )
    patch_m = PATCHJGD_OMITTED_MAX_M if _in_patchjgd_area(base) else 0.0
    steps.append(_null_patchjgd_step(patch_m))
    steps.append(f"JGD2011 -> WGS 84: PROJ: {to_wgs.description} (stated {to_wgs.accuracy} m)")
    accuracy = TKY2JGD_ACCURACY_M + patch_m + to_wgs.accuracy
    return func, Transform(_crs_label(src), tuple(steps), round(accuracy, 3), "tky2jgd")


def _null_patchjgd_step(omitted_m: float) -> str:
    """Step text for the JGD2000 -> JGD2011 null shift, saying why PatchJGD is missing."""
    if not omitted_m:
        return "JGD2000 -> JGD2011: null shift (exact outside the 2011 Tohoku PatchJGD area)"
    return (
        "JGD2000 -> JGD2011: null shift; PatchJGD (GSI touhokutaiheiyouoki2011.par) NOT "
        "applied - the parameter file is not distributed via PyPI/npm/Debian and PROJ has "
        "no grid for it offline. The source area overlaps the 2011 Tohoku correction area "
        f"(EPSG:6713), so positions may be off by up to ~{omitted_m:g} m (Miyagi coast); "
        "about 1 m or less around Tsukuba"
    )


def _proj_chain(src: pyproj.CRS) -> tuple[TransformFunc, Transform]:
    """Any non-Tokyo CRS: pyproj straight to EPSG:4326, recording PROJ's own description."""
    t = pyproj.Transformer.from_crs(src, "EPSG:4326", always_xy=True)
    if "Ballpark" in t.description:
        raise ValueError(
            f"PROJ knows no datum transformation from {src.name!r} to WGS 84 and would only "
            "guess (ballpark); declare a CRS with a known datum in the layer's `crs:`"
        )
    steps = [f"PROJ: {t.description}"]
    accuracy = _proj_accuracy(t)
    if _horizontal(src).geodetic_crs.datum.name == "Japanese Geodetic Datum 2000":
        # PROJ's JGD2000 -> WGS 84 (EPSG:1826) excludes the Tohoku area, like our null shift.
        omitted = PATCHJGD_OMITTED_MAX_M if _in_patchjgd_area(_horizontal(src)) else 0.0
        steps.append(_null_patchjgd_step(omitted))
        accuracy = (accuracy or 0.0) + omitted
    return t.transform, Transform(_crs_label(src), tuple(steps), accuracy, "proj")


def transform_for(crs) -> tuple[TransformFunc, Transform]:
    """(x, y) arrays in `crs` (x = easting/longitude) -> (lon, lat) arrays in EPSG:4326/JGD2011.

    `crs` is anything pyproj accepts (EPSG string, WKT, ESRI .prj text, pyproj.CRS).
    Raises ValueError for a missing or unparseable CRS; never guesses one.
    """
    src = _parse_crs(crs)
    if _horizontal(src).geodetic_crs is None:
        raise ValueError(f"CRS {src.name!r} has no geodetic datum; declare `crs:` properly")
    if is_tokyo_datum(src):
        return _tokyo_chain(src)
    return _proj_chain(src)


def to_lonlat(gdf: geopandas.GeoDataFrame) -> tuple[geopandas.GeoDataFrame, Transform]:
    """Reproject the active geometry column of `gdf` to EPSG:4326 using `transform_for`.

    Vectorised over all coordinates at once; 2D and 3D geometries keep their dimension and
    Z values pass through unchanged (Japanese layer heights are orthometric, so a
    horizontal datum change does not alter them).
    """
    func, info = transform_for(gdf.crs)

    def xy_only(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        out[:, 0], out[:, 1] = func(coords[:, 0], coords[:, 1])
        return out

    # include_z=None: shapely passes (N, 2) for 2D and (N, 3) for 3D geometries.
    new = shapely.transform(np.asarray(gdf.geometry.values), xy_only, include_z=None)
    out = gdf.copy(deep=False)  # only the geometry column is new: the attributes are shared
    out[gdf.geometry.name] = geopandas.GeoSeries(new, index=gdf.index, crs="EPSG:4326")
    return out.set_crs("EPSG:4326", allow_override=True), info
