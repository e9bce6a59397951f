"""デジタル庁 自治体標準オープンデータセット: a layer offered column for column as a standard CSV.

Source of the columns: ../shared/reference/JAPAN.md section 2, which was compiled from
repositories that extracted workbook A (第3.09版, 20260801 table_a.xlsx); the workbook itself
was NOT read. What is UNVERIFIED is marked below. There is no 指定避難所一覧 sheet, so the
shelters layer has no standard CSV (the open-data page says so).

File name: ``{全国地方公共団体コード}_{english name}.csv`` (observed convention, e.g.
``062014_evacuation_space.csv``; the rule text was not read).
Encoding: the standard's rule was NOT FOUND (published files vary, 市川市 uses cp932 + CRLF).
We write UTF-8 with BOM under the convention name (UTF-8 is lossless; the BOM makes Excel read
it) and the same rows in cp932 as ``…_sjis.csv`` for older Excel; both with CRLF.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from etl.publish.csvfile import CsvFile
from etl.publish.formats import FormatWriter, Target, python_values

# Common leading block (sheets 01–03, 05, 07–14), per tsunagu-bosai/open-infra-japan and
# geolonia/datamodels. 名称_英字 (not 名称_英語) for sheet 03 is UNVERIFIED.
COMMON = [
    "全国地方公共団体コード",
    "ID",
    "地方公共団体名",
    "名称",
    "名称_カナ",
    "名称_英字",
    "所在地_全国地方公共団体コード",
    "町字ID",
    "所在地_連結表記",
    "所在地_都道府県",
    "所在地_市区町村",
    "所在地_町字",
    "所在地_番地以下",
    "建物名等(方書)",
    "緯度",
    "経度",
]

# 03 指定緊急避難場所一覧, after the common block (geolonia jichitai-opendata-site.yaml and
# municipal files). The ORDER of these columns is UNVERIFIED.
HAZARDS = {
    "洪水": "flood",
    "崖崩れ、土石流及び地滑り": "landslide",
    "高潮": "storm_surge",
    "地震": "earthquake",
    "津波": "tsunami",
    "大規模な火事": "large_fire",
    "内水氾濫": "inland_flood",
    "火山現象": "volcano",
}
EVACUATION_SPACE = [
    *COMMON,
    "標高",
    "電話番号",
    *(f"災害種別_{h}" for h in HAZARDS),
    "指定避難所との重複",
    "想定収容人数",
    "対象となる町会・自治会",
    "URL",
    "備考",
]

# JIS X 0401 prefecture codes (the first two digits of a 全国地方公共団体コード).
PREFECTURES = dict(
    enumerate(
        (
            "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県"
            " 東京都 神奈川県 新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県"
            " 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県"
            " 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県"
            " 鹿児島県 沖縄県"
        ).split(),
        start=1,
    )
)
ADDRESS = re.compile(r"^(?P<pref>.{2,3}?[都道府県])(?P<city>.+?[市区町村])")


@dataclass(frozen=True)
class Standard:
    """One standard dataset: its file name part, title, columns and how to fill them."""

    name: str
    title_ja: str
    title_en: str
    sheet_url: str
    columns: list[str]
    fill: Callable[[pd.DataFrame, gpd.GeoDataFrame], None]


def _flag(series: pd.Series) -> list[str]:
    """The standard's yes/blank: ``1`` for true, empty otherwise."""
    return ["1" if v is True else "" for v in python_values(series)]


def _fill_evacuation_space(table: pd.DataFrame, frame: gpd.GeoDataFrame) -> None:
    """Fill sheet 03's columns from the emergency_sites fields (missing ones stay blank)."""

    def text(name: str) -> list[Any]:
        return python_values(frame[name]) if name in frame else [None] * len(frame)

    table["ID"] = text("common_id")
    table["名称"] = text("name")
    table["所在地_連結表記"] = text("address")
    for hazard, field in HAZARDS.items():
        table[f"災害種別_{hazard}"] = _flag(frame[field]) if field in frame else ""
    if "same_as_shelter" in frame:
        table["指定避難所との重複"] = _flag(frame["same_as_shelter"])
    table["備考"] = text("note")


STANDARDS: dict[str, Standard] = {
    "evacuation_space": Standard(
        "evacuation_space",
        "03 指定緊急避難場所一覧",
        "03 Designated emergency evacuation sites",
        "https://www.digital.go.jp/resources/open_data/municipal-standard-data-set-test",
        EVACUATION_SPACE,
        _fill_evacuation_space,
    ),
}


def _split_address(addresses: list[Any]) -> tuple[list[str], list[str]]:
    """都道府県 and 市区町村 from the start of each address; blank when it does not start so."""
    prefs, cities = [], []
    for address in addresses:
        match = ADDRESS.match(address or "")
        prefs.append(match["pref"] if match else "")
        cities.append(match["city"] if match else "")
    return prefs, cities


class StandardCsvWriter(FormatWriter):
    """``{city code}_{standard}.csv`` (UTF-8 with BOM) with the standard's columns, in its order."""

    label, media_type = "自治体標準CSV (UTF-8)", "text/csv; charset=utf-8; header=present"
    encoding, tail = "utf-8-sig", ""

    def __init__(self, directory: Path, target: Target, standard: Standard, city_code: str, city_name: str):
        self.standard, self.city_code, self.city_name = standard, city_code, city_name
        self.suffix = f"_{standard.name}{self.tail}.csv"
        super().__init__(directory, target)
        self.name = f"{city_code}{self.suffix}"
        self.path = directory / self.name
        self._file = CsvFile(self.path, self.encoding)
        # 地方公共団体名 as 都道府県 + 市区町村 (e.g. 茨城県つくば市) is UNVERIFIED.
        self._municipality = PREFECTURES.get(int(city_code[:2]), "") + city_name

    def _write(self, frame: gpd.GeoDataFrame) -> None:
        table = pd.DataFrame({c: [""] * len(frame) for c in self.standard.columns})
        table["全国地方公共団体コード"] = self.city_code
        table["地方公共団体名"] = self._municipality
        self.standard.fill(table, frame)
        prefs, cities = _split_address(list(table["所在地_連結表記"]))
        table["所在地_都道府県"], table["所在地_市区町村"] = prefs, cities
        inside = [p + c == self._municipality for p, c in zip(prefs, cities, strict=True)]
        table["所在地_全国地方公共団体コード"] = [self.city_code if i else "" for i in inside]
        table["緯度"] = _degrees(shapely.get_y(frame.geometry.values))
        table["経度"] = _degrees(shapely.get_x(frame.geometry.values))
        self._file.write(table[self.standard.columns])

    def _close(self) -> dict[str, Any]:
        info = self._file.close()
        info.update(
            {
                "standard": self.standard.name,
                "standard_title": self.standard.title_ja,
                "conforms_to": self.standard.sheet_url,
            }
        )
        return info


class StandardCsvCp932Writer(StandardCsvWriter):
    """The same standard CSV in cp932 (``…_sjis.csv``)."""

    label, media_type = "自治体標準CSV (Shift_JIS)", "text/csv; charset=Shift_JIS; header=present"
    encoding, tail = "cp932", "_sjis"


def _degrees(values: np.ndarray) -> list[str]:
    """Decimal degrees as text with 6 decimals (about 10 cm), as GSI's site list gives them."""
    return ["" if np.isnan(v) else f"{v:.6f}" for v in values]
