"""Tests for etl.datum: Tokyo Datum via GSI TKY2JGD, JGD2000/JGD2011 and others via PROJ."""

import time
import warnings

import geopandas
import numpy as np
import pyproj
import pytest
import shapely
import tky2jgd as tky2jgd_pkg
from pyproj.transformer import TransformerGroup
from shapely.geometry import LineString, Point, Polygon

from etl import datum

GEOD = pyproj.Geod(ellps="GRS80")


def dms(d: float, m: float, s: float) -> float:
    return d + m / 60 + s / 3600


def dist_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    n = np.broadcast(lon1, lat1, lon2, lat2).shape
    args = [np.broadcast_to(np.asarray(a, dtype=float), n) for a in (lon1, lat1, lon2, lat2)]
    return np.asarray(GEOD.inv(*args)[2])


# Tokyo Datum coordinates of the "original first-class triangulation point at GSI Tsukuba",
# as given in the tky2jgd package README (Tokyo lat 36.100578889, lon 140.091149167).
TSUKUBA_TOKYO = (140.091149167, 36.100578889)


def tsukuba_plane_ix() -> tuple[float, float]:
    """The Tsukuba point in Tokyo / Japan Plane Rectangular CS IX (x = easting)."""
    to_plane = pyproj.Transformer.from_crs("EPSG:4301", "EPSG:30169", always_xy=True)
    return to_plane.transform(*TSUKUBA_TOKYO)


# --- Tokyo -> JGD2000 against published and reference values --------------------------


def test_matches_tky2jgd_package_scalar_oracle():
    """ORACLE, not a published value: the tky2jgd package's own scalar bilinear() on the same
    TKY2JGD.par. Our vectorised version must agree to float precision and in coverage."""
    tky2jgd_pkg.load_parameter(tky2jgd_pkg.tky2jgd._bundled_parameter_path())
    rng = np.random.default_rng(42)
    lat = np.concatenate([rng.uniform(24, 45.5, 3000), rng.uniform(35.9, 36.3, 500)])
    lon = np.concatenate([rng.uniform(123, 146, 3000), rng.uniform(139.9, 140.3, 500)])
    # Exact mesh-cell boundaries (TKY2JGD's 1e-11 fudge + carry cases).
    lat = np.concatenate([lat, [36.0833333333333, 36.1, 36.0, 35.0]])
    lon = np.concatenate([lon, [140.0, 138.45, 140.0, 139.0]])
    dlat, dlon, ok = datum._mesh_shift(datum._tky2jgd_grid(), lon, lat)
    compared = 0
    for i in range(lat.size):
        b, lo = tky2jgd_pkg.bilinear(float(lat[i]), float(lon[i]))
        assert ok[i] == (b is not None), (lat[i], lon[i])
        if b is not None:
            compared += 1
            assert dlat[i] == pytest.approx(b, abs=1e-9)
            assert dlon[i] == pytest.approx(lo, abs=1e-9)
    assert compared > 600  # the rest are at sea or abroad, where both refuse


def test_tky2jgd_readme_point_within_0_1_m():
    """ORACLE, not a published value: the tky2jgd README states its result for the GSI Tsukuba
    triangulation point, 36.10377077065109 N 140.08787082896106 E (JGD2000)."""
    lon, lat = datum.tky2jgd(np.array([TSUKUBA_TOKYO[0]]), np.array([TSUKUBA_TOKYO[1]]))
    err = dist_m(lon, lat, 140.08787082896106, 36.10377077065109)[0]
    print(f"tky2jgd README point: {err * 1000:.3f} mm")
    assert err < 0.1


def test_japan_datum_origin_published_by_gsi():
    """Published pair, 日本経緯度原点 (Japanese datum origin, Azabu, Tokyo).

    Source: GSI, 測量法施行令の一部を改正する政令新旧対照条文, http://www.gsi.go.jp/LAW/gnewold.html
    The table gives the origin's longitude/latitude before the 2002 revision (Tokyo Datum):
    東経139度44分40秒5020, 北緯35度39分17秒5148, and after it (JGD2000):
    東経139度44分28秒8759, 北緯35度39分29秒1572.

    TKY2JGD (v2.1.1 parameters) lands 0.59 m from the published JGD2000 value (0.019" in
    latitude). TKY2JGD is a grid fitted to the national triangulation network, not to the
    origin's defined values, so the 0.1 m goal is NOT met at this point; we pin the measured
    figure so a regression shows up.
    """
    lon, lat = datum.tky2jgd(np.array([dms(139, 44, 40.5020)]), np.array([dms(35, 39, 17.5148)]))
    err = dist_m(lon, lat, dms(139, 44, 28.8759), dms(35, 39, 29.1572))[0]
    print(f"datum origin: {err:.3f} m from GSI's published JGD2000 value")
    assert 0.5 < err < 0.7


def test_tky2jgd_documentation_example():
    """Worked example of GSI's TKY2JGD help text: Tokyo 35°43'18.0000"N 138°44'36.1809"E ->
    JGD2000 35°43'29.55634"N 138°44'24.90110"E, with its note that results vary by ~0.005"
    between TKY2JGD.par versions. Found quoted in the readme of BLconverter
    (http://www.hi-ho.ne.jp/sato-akira/blconverter/), not on a GSI page; with v2.1.1
    parameters we are 0.18 m away (0.007" in longitude), inside that stated variation.
    """
    lon, lat = datum.tky2jgd(np.array([dms(138, 44, 36.1809)]), np.array([dms(35, 43, 18.0)]))
    err = dist_m(lon, lat, dms(138, 44, 24.90110), dms(35, 43, 29.55634))[0]
    print(f"TKY2JGD help example: {err:.3f} m")
    assert err < 0.25


# --- full chain near Tsukuba ----------------------------------------------------------


def test_tsukuba_zone_ix_vs_proj_helmert():
    x, y = tsukuba_plane_ix()
    func, info = datum.transform_for("EPSG:30169")
    lon, lat = func(np.array([x]), np.array([y]))

    # PROJ's offline chain: inverse zone IX + EPSG:15483 Helmert "Tokyo to JGD2000 (1)", 9 m.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "best transformation not available"
        helmert = TransformerGroup("EPSG:30169", "EPSG:4612", always_xy=True).transformers[0]
    assert "Tokyo to JGD2000 (1)" in helmert.description and helmert.accuracy == 9.0
    h_lon, h_lat = helmert.transform(x, y)
    vs_helmert = dist_m(lon, lat, h_lon, h_lat)[0]

    # Unshifted: the same plane numbers read as if they were JGD2011 zone IX.
    u_lon, u_lat = pyproj.Transformer.from_crs(6677, 4326, always_xy=True).transform(x, y)
    shift = dist_m(lon, lat, u_lon, u_lat)[0]
    print(f"Tsukuba: {vs_helmert:.3f} m from PROJ Helmert, total shift {shift:.1f} m")
    assert 0.3 < vs_helmert < 3.0
    assert 440 < shift < 480

    assert info.method == "tky2jgd"
    assert info.source_crs == "EPSG:30169"
    assert "Japan Plane Rectangular CS zone IX" in info.steps[0]
    assert "TKY2JGD" in info.steps[1] and "Ver.2.1.1" in info.steps[1]
    assert "PatchJGD" in info.steps[2] and "NOT applied" in info.steps[2]
    assert "JGD2011 to WGS 84" in info.steps[3]
    # TKY2JGD 0.2 + omitted PatchJGD worst case 6 + JGD2011->WGS 84 null shift 1.
    assert info.accuracy_m == pytest.approx(7.2)


def test_esri_prj_without_epsg_is_detected_as_tokyo():
    esri = (
        'PROJCS["Tokyo_Japan_Zone_9",GEOGCS["GCS_Tokyo",DATUM["D_Tokyo",'
        'SPHEROID["Bessel_1841",6377397.155,299.1528128]],PRIMEM["Greenwich",0.0],'
        'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
        'PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],'
        'PARAMETER["Central_Meridian",139.8333333333333],PARAMETER["Scale_Factor",0.9999],'
        'PARAMETER["Latitude_Of_Origin",36.0],UNIT["Meter",1.0]]'
    )
    proj4 = (
        "+proj=tmerc +lat_0=36 +lon_0=139.8333333333333 +k=0.9999 +x_0=0 +y_0=0 "
        "+ellps=bessel +towgs84=-146.414,507.337,680.507,0,0,0,0 +units=m +no_defs"
    )
    x, y = tsukuba_plane_ix()
    ref_lon, ref_lat = datum.transform_for("EPSG:30169")[0](np.array([x]), np.array([y]))
    for crs in (esri, proj4):
        func, info = datum.transform_for(crs)
        assert info.method == "tky2jgd"
        lon, lat = func(np.array([x]), np.array([y]))
        assert dist_m(lon, lat, ref_lon, ref_lat)[0] < 1e-3


def test_tokyo_geographic_4301_uses_lon_lat_order():
    func, info = datum.transform_for("EPSG:4301")
    lon, lat = func(np.array([TSUKUBA_TOKYO[0]]), np.array([TSUKUBA_TOKYO[1]]))
    assert lon[0] == pytest.approx(140.08787082896106, abs=1e-9)
    assert lat[0] == pytest.approx(36.10377077065109, abs=1e-9)
    assert info.method == "tky2jgd" and len(info.steps) == 3  # no projection step


# --- JGD2011 / JGD2000 / others through PROJ ------------------------------------------


def test_jgd2011_zone_ix_matches_pyproj():
    rng = np.random.default_rng(7)
    x = rng.uniform(15000, 30000, 1000)
    y = rng.uniform(5000, 20000, 1000)
    func, info = datum.transform_for("EPSG:6677")
    lon, lat = func(x, y)
    ref = pyproj.Transformer.from_crs("EPSG:6677", "EPSG:4326", always_xy=True)
    r_lon, r_lat = ref.transform(x, y)
    np.testing.assert_allclose(lon, r_lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(lat, r_lat, rtol=0, atol=1e-9)
    assert info.method == "proj" and info.source_crs == "EPSG:6677"
    assert info.accuracy_m == 1.0
    assert ref.description in info.steps[0]
    assert info.to_dict() == {
        "source_crs": "EPSG:6677",
        "steps": list(info.steps),
        "accuracy_m": 1.0,
        "method": "proj",
    }


def test_jgd2000_zone_ix_says_patchjgd_missing():
    func, info = datum.transform_for("EPSG:2451")
    assert info.method == "proj"
    assert "JGD2000 to WGS 84" in info.steps[0]
    assert "NOT applied" in info.steps[1]
    assert info.accuracy_m == pytest.approx(7.0)


def test_pure_conversion_is_exact():
    _, info = datum.transform_for("EPSG:3857")
    assert info.accuracy_m == 0.0 and info.method == "proj"


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, "", "EPSG:999999", "not a crs at all"])
def test_missing_or_unknown_crs_raises(bad):
    with pytest.raises(ValueError, match=r"crs:"):
        datum.transform_for(bad)


def test_unknown_datum_is_not_guessed():
    # Bessel ellipsoid but no datum: PROJ could only do a "ballpark" shift.
    with pytest.raises(ValueError, match="ballpark"):
        datum.transform_for("+proj=tmerc +lat_0=36 +lon_0=139.83333 +k=0.9999 +ellps=bessel")


def test_gdf_without_crs_raises():
    gdf = geopandas.GeoDataFrame(geometry=[Point(0, 0)])
    with pytest.raises(ValueError, match="no CRS given"):
        datum.to_lonlat(gdf)


def test_point_outside_japan_raises():
    func, _ = datum.transform_for("EPSG:4301")
    lon = np.array([140.09, 126.98, 2.35])  # Tsukuba, Seoul (not in TKY2JGD), Paris
    lat = np.array([36.10, 37.57, 48.86])
    with pytest.raises(ValueError, match=r"2 of 3 points lie outside") as exc:
        func(lon, lat)
    assert "126.98" in str(exc.value)


# --- GeoDataFrames and speed ----------------------------------------------------------


def test_to_lonlat_2d_and_3d():
    x, y = tsukuba_plane_ix()
    gdf = geopandas.GeoDataFrame(
        {"name": ["pt", "line3d", "poly", "none"]},
        geometry=[
            Point(x, y),
            LineString([(x, y, 25.0), (x + 100, y + 50, 26.5)]),
            Polygon([(x, y), (x + 10, y), (x + 10, y + 10)]),
            None,
        ],
        crs="EPSG:30169",
    )
    out, info = datum.to_lonlat(gdf)
    assert out.crs.to_epsg() == 4326 and info.method == "tky2jgd"
    assert gdf.crs.to_epsg() == 30169  # input untouched
    assert list(out["name"]) == list(gdf["name"])
    pt, line, poly, none = out.geometry
    assert pt.x == pytest.approx(140.08787082896106, abs=1e-9)
    assert pt.y == pytest.approx(36.10377077065109, abs=1e-9)
    assert not pt.has_z and not poly.has_z and none is None
    assert line.has_z
    np.testing.assert_array_equal(shapely.get_coordinates(line, include_z=True)[:, 2], [25, 26.5])
    assert poly.exterior.coords[0] == pytest.approx(pt.coords[0], abs=1e-12)


def test_speed_500k_points_around_tsukuba():
    x0, y0 = tsukuba_plane_ix()
    rng = np.random.default_rng(3)
    x = x0 + rng.uniform(-8000, 8000, 500_000)
    y = y0 + rng.uniform(-8000, 8000, 500_000)
    func, _ = datum.transform_for("EPSG:30169")
    datum._tky2jgd_grid()  # parameter file load is a one-off, timed separately by caching
    t0 = time.perf_counter()
    lon, lat = func(x, y)
    elapsed = time.perf_counter() - t0
    print(f"500,000 points EPSG:30169 -> EPSG:4326 in {elapsed:.2f} s")
    assert np.isfinite(lon).all() and np.isfinite(lat).all()
    assert elapsed < 15
