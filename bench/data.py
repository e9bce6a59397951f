"""The serving bench's data set: 200,000 buildings and 20,000 facility points around Tsukuba.

Seeded, so every run (and every machine) gets the same features. Written as department files
(a GeoPackage in EPSG:6677, plane-rectangular zone IX, as city surveys are), described by two
layer definitions, loaded through the real ETL into a GeoPackage store, then copied to PostGIS
with ``tsukuba-gis store copy``: the same rows in both stores, tables the peers read too.

Density follows the city: most buildings sit in a few urban clusters (TX つくば station,
研究学園, みどりの, 万博記念公園, 筑波大学, 並木, 北部), the rest are spread over the city.
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SEED = 20261126
BUILDINGS, POINTS = 200_000, 20_000
ROOT = Path(__file__).resolve().parent.parent

# (easting, northing) in EPSG:6677 metres, spread sigma in metres, share of the clustered part.
CLUSTERS = [
    ((25_050, 9_150), 1_100, 0.25),  # つくば駅 / 吾妻 (the dense centre the bench queries)
    ((22_530, 9_120), 1_000, 0.18),  # 研究学園
    ((18_690, 2_590), 900, 0.12),  # みどりの
    ((24_180, 6_820), 900, 0.12),  # 万博記念公園
    ((24_010, 12_200), 1_000, 0.14),  # 筑波大学 / 天久保
    ((27_170, 5_550), 900, 0.12),  # 並木
    ((24_010, 15_530), 1_300, 0.07),  # 北部
]
CLUSTERED = 0.55  # the rest is spread over the whole city (farms, villages)
RECT = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
ELL = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.1], [0, 0.1], [0, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
CITY = (16_800, -4_400, 30_300, 25_500)  # the city's extent in EPSG:6677 (x0, y0, x1, y1)
# Ibaraki prefecture in EPSG:6677 (zone IX covers it): the growth bench's larger data sets put
# every building past the city's 200,000 in other towns' clusters and villages of the prefecture.
IBARAKI = (-10_000, -40_000, 80_000, 120_000)
IBARAKI_TOWNS = 60
USES = ["住宅", "共同住宅", "店舗", "事務所", "工場", "倉庫", "学校", "病院", "官公庁施設", "付属屋"]
USE_P = [0.52, 0.12, 0.07, 0.06, 0.03, 0.05, 0.02, 0.01, 0.02, 0.10]
STRUCTURES = ["木造", "鉄骨造", "鉄筋コンクリート造", "鉄骨鉄筋コンクリート造"]
TOWNS = [
    "吾妻一丁目",
    "吾妻二丁目",
    "吾妻三丁目",
    "竹園一丁目",
    "竹園二丁目",
    "竹園三丁目",
    "天久保一丁目",
    "天久保二丁目",
    "春日一丁目",
    "春日二丁目",
    "研究学園一丁目",
    "研究学園五丁目",
    "学園の森二丁目",
    "みどりの一丁目",
    "みどりの東",
    "万博公園西",
    "香取台",
    "並木三丁目",
    "並木四丁目",
    "二の宮一丁目",
    "梅園二丁目",
    "松代四丁目",
    "東新井",
    "花畑三丁目",
    "北条",
    "筑波",
    "小田",
    "上郷",
    "谷田部",
    "島名",
    "高見原二丁目",
    "桜二丁目",
    "妻木",
    "大角豆",
]
CATEGORIES = [
    "公民館",
    "集会所",
    "公園",
    "学校",
    "保育所",
    "郵便局",
    "診療所",
    "薬局",
    "コンビニエンスストア",
    "バス停",
    "消火栓",
    "防災倉庫",
    "ごみ集積所",
    "駐輪場",
    "案内板",
]

BUILDINGS_YAML = """\
title: {ja: 建物（ベンチマーク用・架空）, en: "Buildings (benchmark, synthetic)"}
description: {ja: ベンチマーク用に生成したサンプル（架空）データ, en: Generated for the serving bench}
keywords: [建物, building]
license: {attribution: {ja: 架空データ, en: Synthetic data}}
source: {path: bench.gpkg, layer: buildings}
geometry: polygon
id_field: building_id
title_field: name
tiles: {minzoom: 10}   # overview tiles city-wide: thinned and merged within the budget
fields:
  - {name: building_id, required: true, label: {ja: 建物ID, en: Building ID}}
  - {name: usage, label: {ja: 用途, en: Use}}
  - {name: structure, label: {ja: 構造, en: Structure}}
  - {name: floors, type: integer, label: {ja: 階数, en: Floors}}
  - {name: height, type: number, label: {ja: 高さ, en: Height (m)}}
  - {name: year_built, type: integer, label: {ja: 建築年, en: Year built}}
  - {name: name, label: {ja: 名称, en: Name}}
  - {name: town, label: {ja: 町丁目, en: Town}}
"""

POINTS_YAML = """\
title: {ja: 施設（ベンチマーク用・架空）, en: "Facilities (benchmark, synthetic)"}
description: {ja: ベンチマーク用に生成したサンプル（架空）データ, en: Generated for the serving bench}
keywords: [避難所, 施設, facility]   # 避難所: /point lists the nearest ones, as for shelters
license: {attribution: {ja: 架空データ, en: Synthetic data}}
source: {path: bench.gpkg, layer: facilities}
geometry: point
id_field: facility_id
title_field: name
fields:
  - {name: facility_id, required: true, label: {ja: 施設ID, en: Facility ID}}
  - {name: name, label: {ja: 名称, en: Name}}
  - {name: category, label: {ja: 種別, en: Category}}
  - {name: address, label: {ja: 所在地, en: Address}}
  - {name: capacity, type: integer, label: {ja: 収容人数, en: Capacity}}
  - {name: updated, type: date, label: {ja: 更新日, en: Updated}}
"""


def _centres(rng: np.random.Generator, n: int) -> np.ndarray:
    """Feature centres: 55 % in the urban clusters, the rest anywhere in the city."""
    clustered = int(n * CLUSTERED)
    shares = np.array([c[2] for c in CLUSTERS])
    which = rng.choice(len(CLUSTERS), clustered, p=shares / shares.sum())
    mean = np.array([c[0] for c in CLUSTERS], dtype=float)[which]
    sigma = np.array([c[1] for c in CLUSTERS], dtype=float)[which, None]
    near = mean + rng.normal(0, 1, (clustered, 2)) * sigma
    x0, y0, x1, y1 = CITY
    spread = np.column_stack([rng.uniform(x0, x1, n - clustered), rng.uniform(y0, y1, n - clustered)])
    xy = np.concatenate([near, spread])
    return xy[rng.permutation(n)]


def _footprints(rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    """Rotated rectangles (houses 7-14 m, 6 % larger blocks up to 60 m); 15 % L-shaped."""
    import shapely

    n = len(centres)
    big = rng.random(n) < 0.06
    size = np.stack(
        [
            np.where(big, rng.uniform(20, 60, n), rng.uniform(7, 14, n)),
            np.where(big, rng.uniform(12, 35, n), rng.uniform(6, 11, n)),
        ],
        axis=1,
    )
    angle = rng.uniform(0, np.pi, n)
    ell = rng.random(n) < 0.15
    geoms = np.empty(n, dtype=object)
    # Unit outlines (closed rings): a rectangle, and an L (the box with one corner cut out).
    for mask, unit in ((~ell, RECT), (ell, ELL)):
        xy = unit[None, :, :] * size[mask][:, None, :]
        cos, sin = np.cos(angle[mask])[:, None], np.sin(angle[mask])[:, None]
        ring = np.stack([xy[..., 0] * cos - xy[..., 1] * sin, xy[..., 0] * sin + xy[..., 1] * cos], axis=2)
        geoms[mask] = shapely.polygons(np.round(ring + centres[mask][:, None, :], 3))
    return geoms


def _prefecture_centres(rng: np.random.Generator, n: int) -> np.ndarray:
    """Centres of buildings elsewhere in Ibaraki (outside the city): towns and spread."""
    x0, y0, x1, y1 = IBARAKI
    towns = np.column_stack([rng.uniform(x0, x1, IBARAKI_TOWNS), rng.uniform(y0, y1, IBARAKI_TOWNS)])
    towns = towns[(towns[:, 0] < CITY[0] - 3_000) | (towns[:, 0] > CITY[2] + 3_000)]
    clustered = int(n * 0.6)
    near = towns[rng.integers(0, len(towns), clustered)] + rng.normal(0, 1_200, (clustered, 2))
    spread = np.column_stack([rng.uniform(x0, x1, n - clustered), rng.uniform(y0, y1, n - clustered)])
    xy = np.concatenate([near, spread])
    inside = (xy[:, 0] > CITY[0]) & (xy[:, 0] < CITY[2]) & (xy[:, 1] > CITY[1]) & (xy[:, 1] < CITY[3])
    xy[inside, 0] += CITY[2] - CITY[0]  # the city keeps its own density: moved east of it
    return xy


def _buildings(rng: np.random.Generator, n: int):
    import geopandas as gpd

    city = min(n, BUILDINGS)
    centres = _centres(rng, city)
    if n > city:  # an Ibaraki-wide deployment: the same city, and the rest of the prefecture
        centres = np.concatenate([centres, _prefecture_centres(np.random.default_rng(SEED + 1), n - city)])
    geoms = _footprints(rng, centres)
    usage = rng.choice(USES, n, p=USE_P)
    floors = np.clip(rng.geometric(0.45, n), 1, 15)
    names = np.where(
        rng.random(n) < 0.1,
        [f"つくば{t[:2]}第{i % 9 + 1}ビル" for i, t in enumerate(rng.choice(TOWNS, n))],
        None,
    )
    return gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:07d}" for i in range(1, n + 1)],
            "usage": usage,
            "structure": rng.choice(STRUCTURES, n, p=[0.55, 0.25, 0.15, 0.05]),
            "floors": floors.astype("int64"),
            "height": np.round(floors * 3.1 + rng.uniform(0.3, 2.5, n), 1),
            "year_built": rng.integers(1965, 2025, n),
            "name": names,
            "town": rng.choice(TOWNS, n),
        },
        geometry=geoms,
        crs="EPSG:6677",
    )


def _points(rng: np.random.Generator, n: int):
    import geopandas as gpd
    import shapely

    xy = np.round(_centres(rng, n), 2)
    category = rng.choice(CATEGORIES, n)
    town = rng.choice(TOWNS, n)
    days = rng.integers(0, 2000, n)
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:06d}" for i in range(1, n + 1)],
            "name": [f"{t}{c}{i % 7 + 1}" for i, (t, c) in enumerate(zip(town, category, strict=True))],
            "category": category,
            "address": [f"茨城県つくば市{t}{i % 40 + 1}-{i % 17 + 1}" for i, t in enumerate(town)],
            "capacity": rng.integers(0, 800, n),
            "updated": (np.datetime64("2020-04-01") + days).astype(str),
        },
        geometry=shapely.points(xy),
        crs="EPSG:6677",
    )


def write_sources(path: Path, buildings: int = BUILDINGS) -> Path:
    """The department file: both layers in one GeoPackage (EPSG:6677)."""
    import pyogrio

    rng = np.random.default_rng(SEED)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.gpkg")
    tmp.unlink(missing_ok=True)
    pyogrio.write_dataframe(_buildings(rng, buildings), tmp, layer="buildings", driver="GPKG")
    pyogrio.write_dataframe(_points(rng, POINTS), tmp, layer="facilities", driver="GPKG", append=True)
    tmp.replace(path)
    return path


def prepare_project(workdir: Path, buildings: int = BUILDINGS) -> Path:
    """A project folder (layers/, sources/, data/) with the generated file; cached by seed and size."""
    project = workdir / (f"project-{SEED}" if buildings == BUILDINGS else f"project-{SEED}-{buildings}")
    gpkg = project / "sources" / "bench.gpkg"
    if not gpkg.exists():
        write_sources(gpkg, buildings)
    dept = project / "layers" / "bench"
    dept.mkdir(parents=True, exist_ok=True)
    (dept / "_department.yaml").write_text("name: {ja: ベンチマーク, en: Benchmark}\n", encoding="utf-8")
    (dept / "buildings.yaml").write_text(BUILDINGS_YAML, encoding="utf-8")
    (dept / "facilities.yaml").write_text(POINTS_YAML, encoding="utf-8")
    return project


def load_gpkg(project: Path) -> Path:
    """The GeoPackage store, loaded through the real ETL (skipped when already loaded)."""
    store = project / "data" / "store.gpkg"
    if not store.exists():
        _cli(project, "etl")
    return store


def copy_to_postgis(project: Path, dsn: str, tiles: bool = True) -> float:
    """The PostGIS store: ``tsukuba-gis store copy`` of the GeoPackage store, with its tile sets
    unless ``tiles`` is False (``--no-tiles``); the seconds it took (printed)."""
    started = time.perf_counter()
    flags = () if tiles else ("--no-tiles",)
    _cli(project, "store", "copy", "--from", str(project / "data" / "store.gpkg"), "--to", dsn, *flags)
    took = time.perf_counter() - started
    what = "with its tile sets" if tiles else "without tiles"
    print(f"store copy of the bench data into PostGIS, {what}: {took:.1f} s", flush=True)
    return took


def _cli(project: Path, *args: str) -> None:
    env_args = [
        f"TSUKUBA_GIS_DATA_DIR={project / 'data'}",
        f"TSUKUBA_GIS_LAYERS_DIR={project / 'layers'}",
        f"TSUKUBA_GIS_SOURCES_DIR={project / 'sources'}",
    ]
    cli = str(ROOT / ".venv" / "bin" / "tsukuba-gis")
    subprocess.run(["env", *env_args, cli, "-q", *args], check=True, cwd=project)


if __name__ == "__main__":  # python bench/data.py WORKDIR: generate and load the GeoPackage
    load_gpkg(prepare_project(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tsukuba-gis-bench")))
