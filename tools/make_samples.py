"""Generate the synthetic sample sources (seeded, reproducible) that no public copy exists for.

    python tools/make_samples.py [vector|raster]   (default: both)

Writes, next to the real department files in ``sources/``:
- ``disaster/flood_sample_6677.gpkg``: a plausible but INVENTED flood inundation layer along the
  Sakura and Kokai rivers (サンプル（架空）), so the hazard path works end to end until the city
  loads its own 洪水浸水想定区域; its 庁内確認 column is a staff-only review note.
- ``disaster/shelters_staff_6677_cp932.csv``: the 114 real shelters with invented staff-only
  columns (担当課, 内線), as a department would keep them: cp932, CRLF, survey X/Y in zone IX.
- the sample rasters (想定浸水深 grid, a DEM in four tiles, a tiny staff-only photograph):
  see ``tools/raster_samples.py``.
"""

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from raster_samples import write_all as write_rasters

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sources"
SEED = 20261126
ZONE_IX = "EPSG:6677"

# River courses through Tsukuba, lon/lat, traced coarsely from GSI maps (approximate on purpose).
RIVERS = {
    "桜川": [
        (140.072, 36.228),
        (140.088, 36.200),
        (140.104, 36.176),
        (140.121, 36.152),
        (140.139, 36.128),
        (140.156, 36.108),
        (140.172, 36.093),
    ],
    "小貝川": [
        (140.027, 36.236),
        (140.016, 36.200),
        (140.008, 36.160),
        (140.004, 36.115),
        (140.006, 36.070),
        (140.014, 36.020),
        (140.028, 35.975),
        (140.045, 35.950),
    ],
}
# Depth ranks of the MLIT hazard map guide, widest (shallowest) band first: rank, label, metres.
RANKS = [(1, "0.5m未満", 900.0), (2, "0.5m以上3.0m未満", 550.0), (3, "3.0m以上5.0m未満", 220.0)]
NOTE = "サンプル（架空）データ。実際の洪水浸水想定区域ではありません。"
# A staff-only working column (the layer publishes it as an internal field).
REVIEW = ["河川課 確認済（サンプル）", "河川課 要再確認（サンプル）", "危機管理課 照会中（サンプル）"]


def _wobbly_buffer(line: shapely.LineString, width: float, rng: np.random.Generator) -> shapely.Polygon:
    """A buffer whose edge wanders like a real inundation outline (seeded noise on the vertices)."""
    base = line.buffer(width, quad_segs=8)
    coords = np.asarray(base.exterior.coords)
    centre = np.asarray(base.centroid.coords[0])
    noise = rng.normal(0, width * 0.12, size=len(coords))
    noise = np.convolve(noise, np.ones(9) / 9, mode="same")  # smooth, so no spikes
    direction = coords - centre
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    moved = coords + direction * noise[:, None]
    moved[-1] = moved[0]
    return shapely.make_valid(shapely.Polygon(moved))


def flood_sample(city: shapely.Geometry) -> gpd.GeoDataFrame:
    """Nested depth bands per river, as disjoint rings clipped to the city."""
    rng = np.random.default_rng(SEED)
    rows = []
    for river, lonlat in RIVERS.items():
        line = gpd.GeoSeries([shapely.LineString(lonlat)], crs="EPSG:6668").to_crs(ZONE_IX).iloc[0]
        bands = [(rank, label, _wobbly_buffer(line, width, rng)) for rank, label, width in RANKS]
        for i, (rank, label, shape) in enumerate(bands):
            deeper = bands[i + 1][2] if i + 1 < len(bands) else None
            ring = shape.difference(deeper) if deeper is not None else shape
            ring = ring.intersection(city)
            if not ring.is_empty:
                rows.append(
                    {
                        "河川名": river,
                        "浸水深ランク": rank,
                        "浸水深": label,
                        "想定": "想定最大規模（サンプル）",
                        "備考": NOTE,
                        "庁内確認": REVIEW[(rank + len(river)) % len(REVIEW)],
                        "geometry": ring,
                    }
                )
    return gpd.GeoDataFrame(rows, crs=ZONE_IX)


def shelters_staff() -> pd.DataFrame:
    """The real shelters with invented staff-only columns."""
    rng = np.random.default_rng(SEED + 1)
    shelters = pyogrio.read_dataframe(SOURCES / "disaster/tsukuba_hinanjo_6677_cp932.shp", encoding="cp932")
    sections = ["教育局 学務課", "市民部 市民活動課", "保健福祉部 社会福祉課", "都市計画部 公園・施設課"]
    out = pd.DataFrame(
        {
            "共通ID": shelters["共通ID"],
            "施設名": shelters["施設名"],
            "住所": shelters["住所"],
            # Survey convention: X is the northing, Y the easting.
            "X座標": shelters.geometry.y.round(3),
            "Y座標": shelters.geometry.x.round(3),
            "担当課": rng.choice(sections, size=len(shelters)),
            "内線": [f"内線 {n}" for n in rng.integers(4000, 4999, size=len(shelters))],
            "鍵保管": rng.choice(["施設管理者", "地区防災担当", "市職員（参集者）"], size=len(shelters)),
            "備考": "サンプル（架空）の連絡先",
        }
    )
    return out


def rivers_6677() -> list[shapely.LineString]:
    """The river courses in EPSG:6677."""
    lines = [shapely.LineString(lonlat) for lonlat in RIVERS.values()]
    return list(gpd.GeoSeries(lines, crs="EPSG:6668").to_crs(ZONE_IX))


def main(what: str = "all") -> None:
    """Write the sample files (``vector``, ``raster`` or ``all``)."""
    urf = SOURCES / "planning/plateau/udx/urf/544010_urf_6697_05_op.gml"
    city = pyogrio.read_dataframe(urf, WRITE_GFS="NO").to_crs(ZONE_IX).geometry.union_all()
    if what in ("raster", "all"):
        write_rasters(SOURCES, shapely.force_2d(city), rivers_6677(), SEED)
    if what == "raster":
        return
    flood = flood_sample(shapely.force_2d(city))
    target = SOURCES / "disaster/flood_sample_6677.gpkg"
    target.unlink(missing_ok=True)
    flood.to_file(target, layer="shinsui_sample", driver="GPKG")
    staff = shelters_staff()
    staff.to_csv(
        SOURCES / "disaster/shelters_staff_6677_cp932.csv",
        index=False,
        encoding="cp932",
        lineterminator="\r\n",
    )
    print(f"flood bands: {len(flood)}; staff shelters: {len(staff)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all")
