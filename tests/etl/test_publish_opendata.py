"""The open-data publisher: what it writes for the sample layers, and how it behaves over time."""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from etl.publish import opendata
from etl.publish.csvfile import to_cp932
from etl.publish.formats import GeoParquetWriter, dbf_names
from etl.publish.manifest import layer_dir, read_manifest
from etl.publish.standard_csv import EVACUATION_SPACE
from tsukuba_gis.catalog import load_catalog
from tsukuba_gis.settings import PROJECT_ROOT, Settings
from tsukuba_gis.store import open_store

CATALOG = load_catalog(PROJECT_ROOT / "layers")
PUBLIC = sorted(layer.id for layer in CATALOG.public_layers())
INTERNAL = sorted(set(CATALOG.layers) - set(PUBLIC))


@pytest.fixture(scope="module")
def store(sample_settings):
    return open_store(sample_settings.store_url)


def _file(settings: Settings, layer_id: str, name: str) -> Path:
    manifest = read_manifest(settings.data_dir, layer_id)
    return layer_dir(settings.data_dir, layer_id) / manifest["directory"] / name


def test_every_public_layer_and_nothing_internal_is_published(sample_settings, store):
    assert INTERNAL, "the samples must keep an internal layer for this test to mean anything"
    for layer_id in PUBLIC:
        manifest = read_manifest(sample_settings.data_dir, layer_id)
        record = store.current(layer_id)
        assert manifest["version"] == record.version
        assert manifest["feature_count"] == record.feature_count
        assert len(manifest["files"]) >= 6
    for layer_id in INTERNAL:
        assert not layer_dir(sample_settings.data_dir, layer_id).exists()


@pytest.mark.parametrize("layer_id", PUBLIC)
def test_manifest_size_and_sha256_match_the_files(sample_settings, layer_id):
    for entry in read_manifest(sample_settings.data_dir, layer_id)["files"]:
        data = _file(sample_settings, layer_id, entry["name"]).read_bytes()
        assert len(data) == entry["size"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_geojson_is_rfc7946(sample_settings):
    path = _file(sample_settings, "flood_sample", "flood_sample.geojson")
    document = json.loads(path.read_text())
    assert document["type"] == "FeatureCollection" and "crs" not in document
    frame = gpd.GeoDataFrame.from_features(document["features"])
    exteriors = [p.exterior for g in frame.geometry for p in g.geoms]
    assert exteriors and all(ring.is_ccw for ring in exteriors)  # right-hand rule, 3.1.6
    shelter = json.loads(_file(sample_settings, "shelters", "shelters.geojson").read_text())
    first = next(f for f in shelter["features"] if f["id"] == "E0822000021111")
    assert first["properties"]["name"] == "桜中学校"


def test_csv_files_open_in_excel_and_keep_japanese(sample_settings):
    utf8 = _file(sample_settings, "shelters", "shelters.csv").read_bytes()
    sjis = _file(sample_settings, "shelters", "shelters_sjis.csv").read_bytes()
    assert utf8.startswith(b"\xef\xbb\xbf") and b"\r\n" in utf8
    assert not sjis.startswith(b"\xef\xbb\xbf")
    a = pd.read_csv(io.BytesIO(utf8), encoding="utf-8-sig", dtype=str)
    b = pd.read_csv(io.BytesIO(sjis), encoding="cp932", dtype=str)
    assert list(a.columns)[-2:] == ["longitude", "latitude"]
    assert a.equals(b)  # nothing in the samples needs a replacement
    assert "桜中学校" in set(a["name"])
    path = _file(sample_settings, "road_areas", "road_areas.csv")
    roads = pd.read_csv(path, encoding="utf-8-sig")
    assert roads["WKT"].str.startswith("MULTIPOLYGON").all()


def test_shapefile_zip_has_cpg_short_names_and_japanese(sample_settings):
    path = _file(sample_settings, "shelters", "shelters_shp.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {f"shelters.{ext}" for ext in ("shp", "shx", "dbf", "prj", "cpg")} <= names
        assert archive.read("shelters.cpg").decode().strip() == "UTF-8"
    frame = pyogrio.read_dataframe(f"/vsizip/{path}/shelters.shp")
    assert "桜中学校" in set(frame["name"])
    assert all(len(c) <= 10 for c in frame.columns if c != "geometry")
    manifest = read_manifest(sample_settings.data_dir, "shelters")
    entry = next(f for f in manifest["files"] if f["name"] == "shelters_shp.zip")
    assert entry["field_names"]["same_as_emergency_site"] in frame.columns


def test_geoparquet_and_geopackage_read_back_typed(sample_settings):
    parquet = gpd.read_parquet(_file(sample_settings, "emergency_sites", "emergency_sites.parquet"))
    assert parquet.crs.equals("OGC:CRS84") and len(parquet) == 11
    assert parquet["flood"].dtype == bool
    gpkg = _file(sample_settings, "zoning", "zoning.gpkg")
    info = pyogrio.read_info(gpkg, layer="zoning")
    assert info["features"] == 1 and info["geometry_type"] == "MultiPolygon"
    assert dict(zip(info["fields"], info["dtypes"], strict=True))["YoutoCode"] == "int64"


def test_standard_csv_is_column_for_column(sample_settings):
    path = _file(sample_settings, "emergency_sites", "082201_evacuation_space.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    table = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(table.columns) == EVACUATION_SPACE
    assert len(table) == 11 and set(table["全国地方公共団体コード"]) == {"082201"}
    assert set(table["地方公共団体名"]) == {"茨城県つくば市"}
    assert set(table["災害種別_洪水"]) <= {"1", ""} and "1" in set(table["災害種別_地震"])
    assert table["緯度"].astype(float).between(35.9, 36.3).all()
    sjis = _file(sample_settings, "emergency_sites", "082201_evacuation_space_sjis.csv")
    assert pd.read_csv(sjis, encoding="cp932", dtype=str, keep_default_na=False).equals(table)
    shelters = read_manifest(sample_settings.data_dir, "shelters")["files"]
    assert not any(f["name"].startswith("082201_") for f in shelters)  # no 指定避難所 sheet


def test_cp932_replaces_what_it_cannot_hold_and_reports_it():
    data, counts = to_cp932("𠮷野家 Café — ¥100 〜 髙橋 ①\r\n")
    text = data.decode("cp932")
    assert text == "〓野家 Caf〓 ― ￥100 ～ 髙橋 ①\r\n"
    assert counts == {"𠮷": 1, "é": 1}


def test_dbf_names_are_short_unique_and_stable():
    names = dbf_names(["same_as_emergency_site", "same_as_emergency_note", "name", "NAME"])
    assert names == {
        "same_as_emergency_site": "same_as_em",
        "same_as_emergency_note": "same_as__1",
        "name": "name",
        "NAME": "NAME_1",
    }


def _read(path: Path) -> pd.DataFrame:
    """Any download as a table, read the way a user's tool would."""
    if path.suffix == ".parquet":
        return gpd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, encoding="cp932" if path.stem.endswith("_sjis") else "utf-8-sig")
    if path.suffix == ".zip":
        return pyogrio.read_dataframe(f"/vsizip/{path}/{path.stem.removesuffix('_shp')}.shp")
    return pyogrio.read_dataframe(path)


@pytest.fixture
def scratch(sample_settings, tmp_path) -> Settings:
    """An empty data directory publishing from the shared sample store."""
    return Settings(data_dir=tmp_path, store=sample_settings.store_url)


def test_publish_is_idempotent_and_replaces_atomically(scratch, store, monkeypatch):
    layer, record = CATALOG.layers["towns"], store.current("towns")
    assert opendata.publish(scratch, store, layer, record)["status"] == "published"
    first = read_manifest(scratch.data_dir, "towns")
    assert opendata.publish(scratch, store, layer, record)["status"] == "unchanged"
    # A writer failing half-way (disk full, a bug) must leave the served set as it was.
    monkeypatch.setattr(opendata, "REVISION", opendata.REVISION + 1)
    monkeypatch.setattr(GeoParquetWriter, "_write", lambda self, frame: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        opendata.publish(scratch, store, layer, record)
    assert read_manifest(scratch.data_dir, "towns") == first
    root = layer_dir(scratch.data_dir, "towns")
    assert sorted(p.name for p in root.iterdir()) == sorted([first["directory"], "manifest.json"])
    monkeypatch.undo()
    _file(scratch, "towns", "towns.csv").unlink()  # a lost file is written again
    assert opendata.publish(scratch, store, layer, record)["status"] == "published"


def test_internal_fields_and_layers_never_reach_the_files(scratch, store):
    shelters = CATALOG.layers["shelters"]
    hidden = shelters.model_copy(
        update={
            "fields": [
                f.model_copy(update={"access": "internal"}) if f.name == "accepted" else f
                for f in shelters.fields
            ]
        }
    )
    opendata.publish(scratch, store, hidden, store.current("shelters"))
    manifest = read_manifest(scratch.data_dir, "shelters")
    assert "accepted" not in [f["name"] for f in manifest["fields"]]
    for entry in manifest["files"]:
        frame = _read(_file(scratch, "shelters", entry["name"]))
        assert "accepted" not in frame.columns and len(frame) == 114, entry["name"]
    # The layer turns internal: its files go, and so does its catalog record.
    made_internal = shelters.model_copy(update={"access": "internal"})
    result = opendata.publish(scratch, store, made_internal, store.current("shelters"))
    assert result["status"] == "removed"
    assert not layer_dir(scratch.data_dir, "shelters").exists()
    records = json.loads((scratch.data_dir / "opendata" / "records.json").read_text())
    assert records == {"_default": {}}
