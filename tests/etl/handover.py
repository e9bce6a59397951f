"""Build department hand-overs in a temporary project (layers/, sources/, data/) and run the ETL.

Every file the ETL tests read is made here, in code: shapefiles (plain, zipped, cp932),
GeoJSON, GeoPackage, KML, GML and CSV, so each test states exactly what it hands over.
"""

import json
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
import yaml

from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store

# 桜中学校 (GSI 共通ID E0822000021111): JGD2011 lon/lat published by GSI.
SAKURA = (140.129771, 36.098502)
# Two more points in Tsukuba, for small layers.
POINTS = [SAKURA, (140.1123, 36.0835), (140.0904, 36.1035)]
NAMES = ["桜中学校", "竹園公民館", "吾妻小学校"]


def sites_frame(crs: str = "EPSG:6668", n: int = 3) -> gpd.GeoDataFrame:
    """Three named points (番号, 名称, 区分) in Tsukuba, in ``crs``."""
    frame = gpd.GeoDataFrame(
        {"番号": [str(i + 1) for i in range(n)], "名称": NAMES[:n], "区分": ["学校", "公民館", "学校"][:n]},
        geometry=[shapely.Point(*p) for p in POINTS[:n]],
        crs="EPSG:6668",
    )
    return frame.to_crs(crs)


def field(name: str, source: str | None = None, **extra: Any) -> dict[str, Any]:
    """A field definition with a placeholder bilingual label."""
    spec = {"name": name, "label": {"ja": name, "en": name}, **extra}
    if source is not None:
        spec["source"] = source
    return spec


SITE_FIELDS = [
    field("site_id", "番号", required=True),
    field("name", "名称", required=True),
    field("kind", "区分"),
]


@dataclass
class Project:
    """A throwaway installation: definitions, department files and a store."""

    root: Path

    def __post_init__(self) -> None:
        for sub in ("layers/test", "sources", "data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "layers/test/_department.yaml").write_text(
            "name: {ja: テスト, en: Test}\n", encoding="utf-8"
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.root / "data",
            layers_dir=self.root / "layers",
            sources_dir=self.root / "sources",
            store=None,
        )

    @property
    def sources(self) -> Path:
        return self.root / "sources"

    def define(
        self,
        layer_id: str,
        source: dict | list,
        fields: list[dict] | None = None,
        geometry: str = "point",
        **extra: Any,
    ) -> Path:
        """Write ``layers/test/<layer_id>.yaml``."""
        definition = {
            "title": {"ja": layer_id, "en": layer_id},
            "description": {"ja": "説明", "en": "Text"},
            "license": {"attribution": {"ja": "出典", "en": "Source"}},
            ("sources" if isinstance(source, list) else "source"): source,
            "geometry": geometry,
            "fields": fields if fields is not None else SITE_FIELDS,
            **extra,
        }
        path = self.root / "layers/test" / f"{layer_id}.yaml"
        path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
        return path

    def run(self, *layer_ids: str, **options: Any):
        from etl.runner import run_etl

        return run_etl(self.settings, layer_ids, quiet=True, **options)

    def store(self):
        return open_store(self.settings.store_url)

    def snapshot(self, layer_id: str) -> tuple:
        """The layer's registry rows, table rows and rejects: 'untouched' means all equal."""
        path = Path(self.settings.store_url)
        if not path.exists():
            return ((), (), ())
        con = sqlite3.connect(path)
        try:
            registry = con.execute(
                "SELECT * FROM tg_layer_versions WHERE layer_id = ? ORDER BY version", (layer_id,)
            ).fetchall()
            tables = tuple(
                tuple(con.execute(f'SELECT * FROM "{row[2]}" ORDER BY fid').fetchall()) for row in registry
            )
            rejects = con.execute(
                "SELECT * FROM tg_rejects WHERE layer_id = ? ORDER BY rowid", (layer_id,)
            ).fetchall()
        finally:
            con.close()
        return tuple(registry), tables, tuple(rejects)


def entry(report, layer_id: str):
    """The LayerReport of one layer in a RunReport."""
    found = [r for r in report.layers if r.layer_id == layer_id]
    assert found, f"{layer_id} did not run: {report.problems}"
    return found[0]


def write_shapefile(
    frame: gpd.GeoDataFrame, path: Path, encoding: str = "cp932", cpg: bool = False, prj: bool = True
) -> Path:
    """A shapefile as departments hand them over: cp932, no .cpg by default."""
    pyogrio.write_dataframe(frame, path, driver="ESRI Shapefile", encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not prj:
        path.with_suffix(".prj").unlink(missing_ok=True)
    return path


def zip_files(path: Path, members: dict[str, bytes]) -> Path:
    """A zip with the given member names and contents."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def shapefile_bytes(path: Path) -> dict[str, bytes]:
    """The parts of a shapefile on disk, by file name."""
    return {p.name: p.read_bytes() for p in sorted(path.parent.glob(path.stem + ".*"))}


def write_geojson(path: Path, features: list[dict], crs: str | None = None) -> Path:
    """A FeatureCollection; ``crs`` adds the pre-RFC 7946 ``crs`` member."""
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def point_feature(lon: float, lat: float, **properties: Any) -> dict:
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


def site_features(n: int = 3) -> list[dict]:
    return [point_feature(*POINTS[i], 番号=str(i + 1), 名称=NAMES[i], 区分="学校") for i in range(n)]


def write_csv(
    path: Path, rows: list[list[Any]], encoding: str = "cp932", newline: str = "\r\n", bom: bool = False
) -> Path:
    """A CSV as Excel writes it: cp932 and CRLF by default."""
    text = newline.join(",".join(str(v) for v in row) for row in rows) + newline
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    from pyproj import Geod

    return Geod(ellps="GRS80").inv(lon1, lat1, lon2, lat2)[2]


def loaded_points(project: Project, layer_id: str) -> dict[str, tuple[float, float]]:
    """site_id -> (lon, lat) of a loaded point layer's current version."""
    store = project.store()
    frames = list(store.iter_frames(store.current(layer_id)))
    frame = gpd.pd.concat(frames)
    return {sid: (g.x, g.y) for sid, g in zip(frame["site_id"], frame.geometry, strict=True)}
