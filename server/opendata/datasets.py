"""The published datasets as the page and the DCAT catalog show them: definition + manifest.

Descriptive metadata (titles, licence, department) comes from today's definitions, like the
OGC API; data facts (version, date, counts, files) from the manifest the ETL wrote.
"""

from dataclasses import dataclass
from typing import Any

from server.snapshot import Snapshot
from tsukuba_gis.layerdef import I18n, LayerDef
from tsukuba_gis.opendata import read_manifest
from tsukuba_gis.rasterdef import RasterLayerDef
from tsukuba_gis.settings import Settings

CITY_URL = "https://www.city.tsukuba.lg.jp/"
LICENSE_NAMES = {
    "CC-BY-4.0": I18n(
        ja="クリエイティブ・コモンズ 表示 4.0 国際（CC BY 4.0）",
        en="Creative Commons Attribution 4.0 International (CC BY 4.0)",
    ),
    "PDL-1.0": I18n(ja="公共データ利用規約（第1.0版）（PDL1.0）", en="Public Data License 1.0 (PDL1.0)"),
}


@dataclass(frozen=True)
class Dataset:
    """One public layer with its published files.

    Attributes:
        layer: the definition (public).
        manifest: what the ETL published (``etl.publish.manifest``).
        department: the department's name.
        page_url: the dataset's anchor on /opendata (also its DCAT identifier).
    """

    layer: LayerDef | RasterLayerDef
    manifest: dict[str, Any]
    department: I18n
    page_url: str
    files_url: str

    @property
    def files(self) -> list[dict[str, Any]]:
        """The manifest's download entries, each with its absolute URL."""
        return [{**f, "url": f"{self.files_url}/{f['name']}"} for f in self.manifest["files"]]

    @property
    def raster(self) -> bool:
        """A raster layer (COG and legend) rather than features."""
        return self.manifest.get("kind") == "raster"

    @property
    def legend_file(self) -> dict[str, Any] | None:
        """The legend PNG entry of a raster, if it has one."""
        return next((f for f in self.files if f["media_type"] == "image/png"), None)

    @property
    def shapefile_renames(self) -> dict[str, str]:
        """Field names the Shapefile had to shorten (DBF allows 10 characters)."""
        files = self.manifest["files"]
        names = next((f["field_names"] for f in files if "field_names" in f), {})
        return {long: short for long, short in names.items() if long != short}

    @property
    def license_name(self) -> I18n:
        """A readable licence name (the id when it is not a well-known one)."""
        known = LICENSE_NAMES.get(self.layer.license.id)
        return known or I18n(ja=self.layer.license.id, en=self.layer.license.id)

    def credit(self, lang: str, edited: bool = False) -> str:
        """The attribution a reuser writes (出典 / 加工して作成, 政府標準利用規約 conventions)."""
        if lang == "en":
            what = f'Tsukuba City, "{self.layer.title.en}" ({self.page_url})'
            return f"Created by processing {what}" if edited else f"Source: {what}"
        what = f"つくば市「{self.layer.title.ja}」（{self.page_url}）"
        return f"{what}を加工して作成" if edited else f"出典：{what}"


def _in_order(snapshot: Snapshot):
    """The one order over vector and raster layers together (department order, department, id)."""
    order = {d.id: i for i, d in enumerate(snapshot.departments)}
    return lambda p: (order.get(p.definition.department, len(order)), p.definition.department, p.id)


def datasets(settings: Settings, snapshot: Snapshot) -> list[Dataset]:
    """Every layer of the public snapshot that has published files, in the snapshot's order.

    The snapshot is the gate, not the files: a layer made internal or deleted disappears from
    every open-data listing with the next snapshot, even before the ETL removes its old files.
    """
    base = settings.public_url or ""
    found = []
    for layer in sorted([*snapshot.layers, *snapshot.rasters], key=_in_order(snapshot)):
        manifest = read_manifest(settings.data_dir, layer.id)
        if manifest is None or manifest.get("layer") != layer.id or layer.definition.access != "public":
            continue
        found.append(
            Dataset(
                layer.definition,
                manifest,
                snapshot.department_name(layer.definition.department),
                f"{base}/opendata#{layer.id}",
                f"{base}/opendata/files/{layer.id}",
            )
        )
    return found
