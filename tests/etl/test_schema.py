"""Schema mapping: types (failures reported), code lists, required fields, drop vs unmapped."""

import json
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from handover import entry, field, write_csv

from etl.schema import Warnings, map_fields
from etl.source import ROW
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.settings import PROJECT_ROOT

CODELISTS = PROJECT_ROOT / "sources" / "planning" / "plateau" / "codelists"
IUR = CODELISTS / "Common_districtsAndZonesType.xml"


def _layer(fields, **extra) -> LayerDef:
    return LayerDef.model_validate(
        {
            "id": "t",
            "title": {"ja": "t", "en": "t"},
            "description": {"ja": "t", "en": "t"},
            "department": "test",
            "license": {"attribution": {"ja": "t", "en": "t"}},
            "source": {"path": "t.geojson"},
            "geometry": "point",
            "fields": fields,
            **extra,
        }
    )


def _frame(**columns) -> gpd.GeoDataFrame:
    n = len(next(iter(columns.values())))
    return gpd.GeoDataFrame(
        {**columns, ROW: np.arange(1, n + 1)}, geometry=[shapely.Point(140.1, 36.1)] * n, crs="EPSG:4326"
    )


def _plain(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series]


def _map(frame, fields, codes=None, **extra):
    warnings = Warnings()
    out, rejects = map_fields(frame, _layer(fields, **extra), "t.csv", warnings, codes)
    return out, rejects, {w["message"]: w for w in warnings.as_list()}


def test_types_and_coercion_failures_with_examples():
    frame = _frame(
        a=["1", "2.0", "abc", "", "1.5"],
        b=["1,234", "３．５", "x", None, "7"],
        c=["2023-06-01", "2023/6/1", "令和5年6月1日", "R5.6.1", "someday"],
        d=["1", "○", "", "いいえ", "maybe"],
    )
    out, _, warnings = _map(
        frame,
        [
            field("a", type="integer"),
            field("b", type="number"),
            field("c", type="date"),
            field("d", type="boolean"),
        ],
    )
    assert _plain(out["a"]) == [1, 2, None, None, None]
    assert _plain(out["b"]) == [1234.0, 3.5, None, None, 7.0]
    assert _plain(out["c"]) == ["2023-06-01", "2023-06-01", "2023-06-01", "2023-06-01", None]
    assert _plain(out["d"]) == [True, True, False, False, None]
    a = warnings["t.csv: a (a): not a valid integer (left empty)"]
    assert a["count"] == 2 and a["examples"] == ["row 3: 'abc'", "row 5: '1.5'"]
    assert warnings["t.csv: b (b): not a valid number (left empty)"]["examples"] == ["row 3: 'x'"]
    for name, kind, bad in (("c", "date", "someday"), ("d", "boolean", "maybe")):
        examples = warnings[f"t.csv: {name} ({name}): not a valid {kind} (left empty)"]["examples"]
        assert examples == [f"row 5: '{bad}'"]


def test_numeric_source_columns_are_taken_as_they_are():
    frame = _frame(a=pd.Series([1.0, 2.5, np.nan]), b=pd.Series([3, 4, 5]))
    out, _, warnings = _map(frame, [field("a", type="number"), field("b", type="integer"), field("s", "b")])
    assert _plain(out["a"]) == [1.0, 2.5, None]
    assert out["b"].tolist() == [3, 4, 5] and out["s"].tolist() == ["3", "4", "5"]
    assert warnings == {}


def test_codes_to_labels_with_unknown_codes_warned():
    frame = _frame(code=["1", "13", "99", None])
    fields = [field("YoutoName", "code", codes={1: "第1種低層住居専用地域", 13: "工業専用地域"})]
    layer = _layer(fields)
    out, _, warnings = _map(frame, fields, codes={"YoutoName": layer.fields[0].codes})
    assert _plain(out["YoutoName"]) == ["第1種低層住居専用地域", "工業専用地域", None, None]
    unknown = warnings["t.csv: YoutoName: code not in the code list (left empty)"]
    assert unknown["count"] == 1 and unknown["examples"] == ["row 3: '99'"]


def test_shared_codelist_file_in_a_layer(project):
    # A zoning shapefile-style CSV whose 用途地域コード is decoded with the i-UR code list file
    # PLATEAU ships (Common_districtsAndZonesType.xml), with one local override.
    shutil.copy(IUR, project.sources / "Common_districtsAndZonesType.xml")
    write_csv(
        project.sources / "youto.csv",
        [["コード", "緯度", "経度"], ["11", 36.1, 140.1], ["13", 36.11, 140.11], ["0", 36.12, 140.12]],
    )
    project.define(
        "youto",
        {"path": "youto.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度"},
        fields=[
            field("YoutoCode", "コード", type="integer"),
            field(
                "YoutoName", "コード", codelist="Common_districtsAndZonesType.xml", codes={"0": "指定なし"}
            ),
        ],
    )
    result = entry(project.run("youto"), "youto")
    assert result.status == "loaded", result.error
    frame = next(project.store().iter_frames(project.store().current("youto")))
    assert frame["YoutoName"].tolist() == ["準工業地域", "工業専用地域", "指定なし"]
    assert frame["YoutoCode"].tolist() == [11, 13, 0]
    # A changed code list is a changed layer: it reloads.
    again = project.run("youto")
    assert entry(again, "youto").status == "skipped"
    (project.sources / "Common_districtsAndZonesType.xml").write_text(
        IUR.read_text(encoding="utf-8").replace("準工業地域", "準工業"), encoding="utf-8"
    )
    assert entry(project.run("youto"), "youto").status == "loaded"


def test_required_field_empty_is_quarantined_with_its_geometry():
    frame = _frame(name=["あ", "", None], kind=["x", "y", "z"])
    out, rejects, _ = _map(frame, [field("name", required=True), field("kind")])
    assert out["name"].tolist() == ["あ"]
    assert [r.row for r in rejects] == [2, 3]
    assert rejects[0].reason.startswith("required field(s) empty: name")
    assert rejects[0].attributes == {"name": "", "kind": "y"}
    assert rejects[0].geometry_wkt == "POINT (140.1 36.1)"


def test_dropped_on_purpose_vs_unmapped_by_accident(project):
    write_csv(
        project.sources / "t.csv",
        [["名称", "内線", "メモ1", "メモ2", "緯度", "経度"], ["あ", "123", "m", "n", 36.1, 140.1]],
    )
    project.define(
        "t",
        {"path": "t.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度"},
        fields=[field("name", "名称")],
        drop=["メモ*"],
    )
    result = entry(project.run("t"), "t")
    messages = [w["message"] for w in result.warnings]
    assert messages == ["t.csv: columns neither mapped nor listed under drop (dropped by accident?): 内線"]
    saved = json.loads((project.settings.data_dir / "report.json").read_text(encoding="utf-8"))
    assert saved["layers"][0]["warnings"][0]["message"] == messages[0]
    assert "dropped by accident?" in (project.settings.data_dir / "report.html").read_text(encoding="utf-8")


def test_constant_fields():
    out, _, _ = _map(_frame(a=["x", "y"]), [field("a"), field("Pref", value="茨城県")])
    assert out["Pref"].tolist() == ["茨城県", "茨城県"]
