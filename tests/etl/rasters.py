"""Build raster hand-overs in a temporary project and run the ETL on them (either store).

GeoTIFFs, ESRI ASCII grids and FGD DEM XML are made here in code, so each test states exactly
what it hands over; the GSI tile is the real one in tests/fixtures/gsi.
"""

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import yaml
from handover import Project
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin

from tsukuba_gis.settings import Settings
from tsukuba_gis.store import open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GSI_PNG = FIXTURES / "gsi" / "gsi-dem-z8-x229-y94.png"
GSI_TXT = FIXTURES / "gsi" / "gsi-dem-z8-x229-y94.txt"
# Near Tsukuba station in EPSG:6677 (easting, northing), on a 10 m grid.
ORIGIN = (23000.0, 8000.0)


def write_tif(
    path: Path, data: np.ndarray, crs: str | None = "EPSG:6677", transform="10m", nodata=-9999.0, **kw
):
    """A GeoTIFF of ``data`` (2-D or bands x rows x cols), 10 m cells from ORIGIN by default
    (``transform=None``: no georeferencing at all)."""
    bands = data if data.ndim == 3 else data[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": bands.shape[2],
        "height": bands.shape[1],
        "count": bands.shape[0],
        "dtype": bands.dtype.name,
        "nodata": nodata,
        **kw,
    }
    if transform is not None:
        profile["transform"] = from_origin(*ORIGIN, 10, 10) if transform == "10m" else transform
    if crs:
        profile["crs"] = crs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # asked for by the caller
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(bands)
    return path


def ramp(rows: int = 40, cols: int = 30, dtype: str = "float32") -> np.ndarray:
    """Cell (r, c) holds r + c / 100: every value says where it is."""
    r, c = np.indices((rows, cols))
    return (r + c / 100).astype(dtype)


FGD_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<Dataset xsi:schemaLocation="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema FGD_GMLSchema.xsd"
 xmlns:gml="http://www.opengis.net/gml/3.2" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema"
 gml:id="Dataset1">
<gml:description>基盤地図情報メタデータ ID=fmdid:15-3101</gml:description>
<gml:name>基盤地図情報ダウンロードデータ（GML版）</gml:name>
<DEM gml:id="DEM001">
<fid>fgoid:10-00100-15-60101-{mesh}</fid>
<lfSpanFr gml:id="DEM001-1"><gml:timePosition>2016-10-01</gml:timePosition></lfSpanFr>
<devDate gml:id="DEM001-2"><gml:timePosition>2016-10-01</gml:timePosition></devDate>
<orgGILvl>0</orgGILvl>
<orgMDId>H23K0000</orgMDId>
<type>5mメッシュ（標高）</type>
<mesh>{mesh}</mesh>
<coverage gml:id="DEM001-3">
<gml:boundedBy>
<gml:Envelope srsName="{srs}">
<gml:lowerCorner>{lower}</gml:lowerCorner>
<gml:upperCorner>{upper}</gml:upperCorner>
</gml:Envelope>
</gml:boundedBy>
<gml:gridDomain>
<gml:Grid gml:id="DEM001-4" dimension="2">
<gml:limits>
<gml:GridEnvelope>
<gml:low>0 0</gml:low>
<gml:high>{high}</gml:high>
</gml:GridEnvelope>
</gml:limits>
<gml:axisLabels>x y</gml:axisLabels>
</gml:Grid>
</gml:gridDomain>
<gml:rangeSet>
<gml:DataBlock>
<gml:rangeParameters><gml:QuantityList uom="DEM構成点"/></gml:rangeParameters>
<gml:tupleList>
"""
FGD_TAIL = """</gml:tupleList>
</gml:DataBlock>
</gml:rangeSet>
<gml:coverageFunction>
<gml:GridFunction>
<gml:sequenceRule order="{order}">Linear</gml:sequenceRule>
<gml:startPoint>{start}</gml:startPoint>
</gml:GridFunction>
</gml:coverageFunction>
</coverage>
</DEM>
</Dataset>
"""
# DEM5A: 0.2" cells; a tiny "mesh" of 8 rows x 10 columns at the corner of 3rd mesh 54400000.
DEM5A_CELL = 0.2 / 3600


def fgd_dem_xml(
    path: Path,
    tuples: list[str],
    rows: int = 8,
    cols: int = 10,
    lower: tuple[float, float] = (36.1, 140.1),
    start: str = "0 0",
    srs: str = "fguuid:jgd2011.bl",
    order: str = "+x-y",
    mesh: str = "54401000",
    high: str | None = None,
) -> Path:
    """A FGD DEM file with the given tuple lines; corners written with 6 decimals, as GSI does."""
    upper = (lower[0] + rows * DEM5A_CELL, lower[1] + cols * DEM5A_CELL)
    head = FGD_HEAD.format(
        mesh=mesh,
        srs=srs,
        lower=f"{lower[0]:.6f} {lower[1]:.6f}",
        upper=f"{upper[0]:.6f} {upper[1]:.6f}",
        high=high or f"{cols - 1} {rows - 1}",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        head + "\n".join(tuples) + "\n" + FGD_TAIL.format(order=order, start=start), encoding="utf-8"
    )
    return path


def fgd_tuples(values: np.ndarray, kind: str = "地表面") -> list[str]:
    """Tuple lines for every cell of ``values`` (NaN: データなし,-9999.)."""
    return ["データなし,-9999." if np.isnan(v) else f"{kind},{v:.2f}" for v in values.ravel()]


@dataclass
class RasterProject(Project):
    """A throwaway installation for raster layers, on the GeoPackage or a PostGIS store."""

    store_url: str | None = None

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.root / "data",
            layers_dir=self.root / "layers",
            sources_dir=self.root / "sources",
            store=self.store_url,
            keep_versions=3,
        )

    def define_raster(self, layer_id: str, source: dict | list, bands: int = 1, **extra: Any) -> Path:
        """Write ``layers/test/<layer_id>.yaml`` for a raster layer."""
        definition = {
            "kind": "raster",
            "title": {"ja": layer_id, "en": layer_id},
            "description": {"ja": "説明", "en": "Text"},
            "license": {"attribution": {"ja": "出典", "en": "Source"}},
            ("sources" if isinstance(source, list) else "source"): source,
            "bands": [
                {"name": f"b{i + 1}", "label": {"ja": f"値{i + 1}", "en": f"value {i + 1}"}}
                for i in range(bands)
            ],
            **extra,
        }
        path = self.root / "layers/test" / f"{layer_id}.yaml"
        path.write_text(yaml.safe_dump(definition, allow_unicode=True), encoding="utf-8")
        return path

    def store(self):
        return open_store(self.settings.store_url)

    def raster_snapshot(self, layer_id: str) -> tuple:
        """Registry records, the generation and every file (with its hash) of the layer."""
        store = self.store()
        folder = self.settings.rasters_path / layer_id
        files = (
            tuple(
                sorted(
                    (p.name, hashlib.sha256(p.read_bytes()).hexdigest())
                    for p in folder.glob("*")
                    if p.is_file()
                )
            )
            if folder.is_dir()
            else ()
        )
        return tuple(store.raster_history(layer_id)), store.generation(), files

    def cog(self, layer_id: str, version: int | None = None) -> Path:
        store = self.store()
        record = (
            store.current_raster(layer_id) if version is None else store.raster_version(layer_id, version)
        )
        return record.path(self.settings.rasters_path)
