"""The corpus of broken hand-overs: each ends with a message naming the file, the row or field
where it applies, and what to do; a failed layer leaves the store exactly as it was.

Kinds: ``fail`` (the layer fails, its registry rows, tables and rejects are unchanged),
``problem`` (the definition is invalid: nothing runs for it), ``reject`` (the layer loads and
the bad features are quarantined with a reason: not a failure).
"""

import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyogrio
import pytest
from handover import (
    POINTS,
    Project,
    entry,
    field,
    point_feature,
    shapefile_bytes,
    site_features,
    sites_frame,
    write_csv,
    write_geojson,
    write_shapefile,
    zip_files,
)

ASK = "ask the department for the file again"
CSV_SOURCE = {"path": "sites.csv", "crs": "EPSG:6668", "lat": "緯度", "lon": "経度"}


@dataclass
class Case:
    """One broken input: how to make it, and what the message must contain."""

    id: str
    build: Callable[[Project, Path], None]
    expect: tuple[str, ...]
    kind: str = "fail"
    preload: bool = True


def _shp(project: Project, declared: str | None = "cp932", **options) -> Path:
    path = write_shapefile(sites_frame("EPSG:6677"), project.sources / "sites.shp", **options)
    project.define("sites", {"path": "sites.shp", **({"encoding": declared} if declared else {})})
    return path


def _patch(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    path.write_bytes(bytes(data))


def _csv(project: Project, rows: list[list], file_encoding: str = "cp932", **source) -> None:
    write_csv(
        project.sources / "sites.csv",
        [["番号", "名称", "区分", "緯度", "経度"], *rows],
        encoding=file_encoding,
    )
    project.define("sites", {**CSV_SOURCE, **source})


def _good_rows() -> list[list]:
    return [[str(i + 1), "地点", "学校", lat, lon] for i, (lon, lat) in enumerate(POINTS)]


def _geojson(project: Project, features: list[dict], **definition) -> None:
    write_geojson(project.sources / "sites.geojson", features)
    project.define("sites", {"path": "sites.geojson"}, **definition)


def _zip(project: Project, tmp: Path, names: dict[str, str], layer: str | None = None) -> None:
    members = {}
    for target, stem in names.items():
        parts = shapefile_bytes(write_shapefile(sites_frame("EPSG:6677"), tmp / f"{stem}.shp"))
        members.update({target + name[len(stem) :]: data for name, data in parts.items()})
    zip_files(project.sources / "sites.zip", members)
    project.define("sites", {"path": "sites.zip", "encoding": "cp932", **({"layer": layer} if layer else {})})


def _gpkg(project: Project, layer: str | None) -> None:
    path = project.sources / "sites.gpkg"
    for name in ("a", "b"):
        pyogrio.write_dataframe(sites_frame("EPSG:6677"), path, layer=name)
    project.define("sites", {"path": "sites.gpkg", **({"layer": layer} if layer else {})})


def _truncated(p, t):
    path = _shp(p)
    path.write_bytes(path.read_bytes()[:-30])


def _swapped(rows: list[list], which: list[int]) -> list[list]:
    for i in which:
        rows[i][3], rows[i][4] = rows[i][4], rows[i][3]
    return rows


CASES = [
    # --- shapefiles: parts and headers
    Case("truncated_shp", _truncated, ("sites.shp", "the .shp header says", "truncated", ASK)),
    Case(
        "missing_dbf",
        lambda p, t: _shp(p).with_suffix(".dbf").unlink(),
        ("sites.shp", "the .dbf part of the shapefile is missing", ASK),
    ),
    Case(
        "missing_shx",
        lambda p, t: _shp(p).with_suffix(".shx").unlink(),
        ("sites.shp", "the .shx part of the shapefile is missing", ASK),
        preload=False,
    ),
    Case(
        "dbf_header_lies",
        lambda p, t: _patch(_shp(p).with_suffix(".dbf"), 4, "<I", 1_000_000),
        ("sites.shp", "the .dbf header says 1000000 records but the part holds 3", ASK),
    ),
    Case(
        "shp_header_claims_more",
        lambda p, t: _patch(_shp(p), 24, ">i", 10_000_000),
        ("sites.shp", "the .shp header says 20000000 bytes", ASK),
    ),
    Case(
        "shx_and_dbf_disagree",
        lambda p, t: (
            _shp(p),
            write_shapefile(sites_frame().iloc[:2], t / "two.shp"),
            (p.sources / "sites.dbf").write_bytes((t / "two.dbf").read_bytes()),
        ),
        ("sites.shp", "the .shx indexes 3 shapes but the .dbf holds 2 records", ASK),
    ),
    # --- CRS
    Case(
        "missing_prj_no_crs",
        lambda p, t: _shp(p, prj=False),
        ("sites.shp", "declares no CRS", "add `crs: EPSG:xxxx`"),
    ),
    Case(
        "unreadable_prj",
        lambda p, t: _shp(p).with_suffix(".prj").write_text("not a CRS"),
        ("sites.shp", "the .prj part cannot be understood", "declare `crs:`"),
    ),
    Case(
        "unknown_crs_in_definition",
        lambda p, t: _csv(p, _good_rows(), crs="EPSG:99999"),
        ("sites.csv", "unknown coordinate system 'EPSG:99999'", "use an EPSG code"),
    ),
    # --- encodings
    Case(
        "declared_cp932_but_utf8",
        lambda p, t: _shp(p, "cp932", encoding="utf-8"),
        ("sites.shp", "record 2 does not decode as cp932", "look like utf-8", "fix the encoding"),
    ),
    # UTF-8 桜中学校 happens to decode as cp932 (into 譯應ｸｭ蟄ｦ譬｡): caught all the same.
    Case(
        "declared_cp932_but_utf8_that_decodes",
        lambda p, t: (
            write_csv(
                p.sources / "sites.csv",
                [["id", "name", "lat", "lon"], ["1", "桜中学校", 36.1, 140.1]],
                "utf-8",
            ),
            p.define(
                "sites",
                {**CSV_SOURCE, "lat": "lat", "lon": "lon", "encoding": "cp932"},
                fields=[field("site_id", "id"), field("name", "name")],
            ),
        ),
        ("sites.csv", "declares cp932, but the text is valid UTF-8", "declare utf-8 there"),
    ),
    Case(
        "declared_utf8_but_cp932",
        lambda p, t: _csv(p, _good_rows(), "cp932", encoding="utf-8"),
        ("sites.csv", "line 1 does not decode as utf-8", "look like cp932", "fix the encoding"),
    ),
    Case(
        "cpg_unknown_encoding",
        lambda p, t: _shp(p, cpg=True).with_suffix(".cpg").write_text("ANSI-JAPANESE-X"),
        ("sites.shp", "'ANSI-JAPANESE-X'", "unknown encoding", "use e.g. cp932"),
    ),
    Case(
        "undetectable_encoding",
        lambda p, t: (
            (p.sources / "sites.csv").write_bytes(
                "番号,名称,区分,緯度,経度\n1,".encode() + b"\x80\xfe\xff,x,36.1,140.1\n"
            ),
            p.define("sites", CSV_SOURCE),
        ),
        ("sites.csv", "cannot tell the text encoding", "declare `encoding:`"),
    ),
    # --- empty, missing, malformed files
    Case(
        "empty_file",
        lambda p, t: (
            (p.sources / "sites.geojson").write_bytes(b""),
            p.define("sites", {"path": "sites.geojson"}),
        ),
        ("sites.geojson", "is empty (0 bytes)", ASK),
    ),
    Case(
        "zero_features",
        lambda p, t: _geojson(p, []),
        ("sites.geojson", "no features at all", "check that this is the right file"),
    ),
    Case(
        "source_missing",
        lambda p, t: p.define("sites", {"path": "moved/sites.geojson"}),
        ("moved/sites.geojson", "file not found at", "fix `path:`"),
        preload=False,
    ),
    Case(
        "truncated_geojson",
        lambda p, t: (
            (p.sources / "sites.geojson").write_text('{"type": "FeatureCollection", "features": [{"ty'),
            p.define("sites", {"path": "sites.geojson"}),
        ),
        ("sites.geojson", "cannot be opened as geojson", "check that the file is complete"),
    ),
    Case(
        "html_saved_as_kml",
        lambda p, t: (
            (p.sources / "sites.kml").write_text("<html><body>404</body></html>"),
            p.define("sites", {"path": "sites.kml"}),
        ),
        ("sites.kml", "cannot be opened as kml", "check that the file is complete"),
    ),
    Case(
        "csv_ragged_row",
        lambda p, t: _csv(p, [*_good_rows(), ["9", "a,b", "x", "36.1", "140.1"]]),
        ("sites.csv", "Expected 5 fields in line 5, saw 6", "needs double quotes"),
    ),
    # --- zips
    Case(
        "zip_path_traversal",
        lambda p, t: _zip(p, t, {"../../etc/sites": "x"}),
        ("sites.zip", "'../../etc/sites.", "path traversal", "nothing was read"),
    ),
    Case(
        "zip_absolute_member",
        lambda p, t: _zip(p, t, {"/tmp/sites": "x"}),
        ("sites.zip", "'/tmp/sites.", "path traversal"),
    ),
    Case(
        "not_a_zip",
        lambda p, t: (
            (p.sources / "sites.zip").write_bytes(b"PK\x03\x04broken"),
            p.define("sites", {"path": "sites.zip"}),
        ),
        ("sites.zip", "not a readable zip archive", ASK),
    ),
    Case(
        "zip_with_two_shapefiles",
        lambda p, t: _zip(p, t, {"a": "a", "b": "b"}),
        ("sites.zip", "several shapefiles in the zip", "a.shp, b.shp", "set `layer:`"),
    ),
    Case(
        "zip_layer_not_there",
        lambda p, t: _zip(p, t, {"a": "a"}, layer="c"),
        ("sites.zip", "no shapefile named 'c'", "a.shp", "set `layer:`"),
    ),
    # --- layers and columns
    Case(
        "gpkg_wrong_layer",
        lambda p, t: _gpkg(p, "shelters"),
        ("sites.gpkg", "no layer 'shelters'", "its layers: a, b", "fix `layer:`"),
    ),
    Case(
        "gpkg_layer_not_named",
        lambda p, t: _gpkg(p, None),
        ("sites.gpkg", "holds several layers (a, b)", "set `layer:`"),
    ),
    Case(
        "csv_coordinate_column_missing",
        lambda p, t: _csv(p, _good_rows(), lat="緯度_世界"),
        ("sites.csv", "coordinate column(s) 緯度_世界 not in the header", "fix lat/lon"),
    ),
    Case(
        "mapped_column_missing",
        lambda p, t: _geojson(p, [point_feature(*POINTS[0], 番号="1", 施設名="x", 区分="y")]),
        ("sites.geojson", "column(s) 名称 named in the layer definition", "fix `source:`"),
    ),
    Case(
        "codelist_missing",
        lambda p, t: _geojson(
            p,
            site_features(),
            fields=[field("site_id", "番号"), field("name", "名称", codelist="codes/kinds.xml")],
        ),
        ("codes/kinds.xml", "code list of field name not found", "fix `codelist:`"),
    ),
    Case(
        "every_row_swapped",
        lambda p, t: _csv(p, _swapped(_good_rows(), [0, 1, 2])),
        ("sites.csv", "every one of the 3 features was rejected", "row 1", "look swapped", "check the CRS"),
    ),
    # --- definitions
    Case(
        "invalid_definition",
        lambda p, t: (p.root / "layers/test/sites.yaml").write_text(
            (p.root / "layers/test/sites.yaml")
            .read_text(encoding="utf-8")
            .replace("geometry: point", "geometry: pointy"),
            encoding="utf-8",
        ),
        ("sites.yaml:", "geometry: Input should be 'point', 'line' or 'polygon'"),
        kind="problem",
    ),
    # --- bad features among good ones: quarantined, the layer loads
    Case(
        "one_row_lat_lon_swapped",
        lambda p, t: _csv(p, _swapped(_good_rows(), [1])),
        ("row 2", "latitude and longitude look swapped"),
        kind="reject",
    ),
    Case(
        "non_numeric_coordinates",
        lambda p, t: _csv(p, [*_good_rows(), ["4", "a", "x", "北緯36", "140.1"]]),
        ("row 4", "coordinates are not numbers", "緯度='北緯36'", "line 5 of the file"),
        kind="reject",
    ),
    Case(
        "duplicate_ids",
        lambda p, t: _geojson(
            p,
            [*site_features(), point_feature(*POINTS[0], 番号="1", 名称="重複", 区分="x")],
            id_field="site_id",
        ),
        ("row 4", "duplicate site_id '1' (first at sites.geojson row 1)"),
        kind="reject",
    ),
    Case(
        "required_field_empty",
        lambda p, t: _geojson(p, [*site_features(), point_feature(*POINTS[0], 番号="4", 名称="", 区分="x")]),
        ("row 4", "required field(s) empty: name"),
        kind="reject",
    ),
    Case(
        "null_geometry",
        lambda p, t: _geojson(
            p,
            [
                *site_features(),
                {"type": "Feature", "properties": {"番号": "4", "名称": "a", "区分": "x"}, "geometry": None},
            ],
        ),
        ("row 4", "no geometry"),
        kind="reject",
    ),
    Case(
        "line_in_a_point_layer",
        lambda p, t: _geojson(
            p,
            [
                *site_features(),
                {
                    "type": "Feature",
                    "properties": {"番号": "4", "名称": "a", "区分": "x"},
                    "geometry": {"type": "LineString", "coordinates": [[140.1, 36.1], [140.2, 36.2]]},
                },
            ],
        ),
        ("row 4", "a LineString cannot go into a point layer"),
        kind="reject",
    ),
]


def _preload(project: Project) -> None:
    write_geojson(project.sources / "good.geojson", site_features())
    project.define("sites", {"path": "good.geojson"})
    assert entry(project.run("sites"), "sites").status == "loaded"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_broken_input(project, tmp_path, case):
    if case.preload:
        _preload(project)
    before = project.snapshot("sites")
    case.build(project, tmp_path)
    report = project.run("sites")
    if case.kind == "problem":
        assert not report.ok and not report.layers
        message = "\n".join(report.problems)
    elif case.kind == "fail":
        result = entry(report, "sites")
        assert result.status == "failed" and not report.ok
        message = result.error
    else:
        result = entry(report, "sites")
        assert result.status == "loaded" and report.ok, result.error
        assert result.read == result.loaded + result.rejected and result.rejected >= 1
        message = "\n".join(
            r.reason + f" row {r.row} " + r.source for r in project.store().rejects("sites", result.version)
        )
        for fragment in case.expect:
            assert fragment in message, (fragment, message)
        return
    for fragment in case.expect:
        assert fragment in message, (fragment, message)
    assert project.snapshot("sites") == before  # the store is untouched for this layer
    if not case.preload:
        assert project.store().history("sites") == []  # no version appeared


def test_the_corpus_is_big_enough():
    assert len([c for c in CASES if c.kind != "reject"]) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


def test_zip_traversal_is_refused_before_gdal_opens_anything(project, tmp_path, monkeypatch):
    _zip(project, tmp_path, {"../evil": "x"})
    opened = []
    for name in ("read_info", "open_arrow", "list_layers"):
        monkeypatch.setattr(f"pyogrio.{name}", lambda *a, _n=name, **k: opened.append(_n))
    result = entry(project.run("sites"), "sites")
    assert result.status == "failed" and "path traversal" in result.error
    assert opened == []
    assert not (project.root / "evil.shp").exists() and not (tmp_path.parent / "evil.shp").exists()


# --- what a hand-over may make the ETL read (issue 18): nothing outside the sources folder


SECRET = "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash"


def _outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(f"{SECRET}\ndaemon:x:1:1\n", encoding="utf-8")
    return secret


def _failed(project: Project) -> str:
    result = entry(project.run("sites"), "sites")
    assert result.status == "failed"
    text = result.error + "\n" + "\n".join(result.warnings if hasattr(result, "warnings") else [])
    assert "SECRET" not in text and "daemon" not in text, text
    return result.error


@pytest.mark.parametrize("target", ["exists", "missing"])
def test_a_source_linked_outside_the_folder_is_refused_without_its_content(project, tmp_path, target):
    secret = _outside(tmp_path)
    link = project.sources / "sites.csv"
    link.symlink_to(secret if target == "exists" else secret.with_name("nothing"))
    project.define("sites", CSV_SOURCE)
    error = _failed(project)
    assert "sites.csv" in error and "link leading outside the sources folder" in error


def test_a_shapefile_part_linked_outside_is_refused(project, tmp_path):
    path = _shp(project)
    path.with_suffix(".dbf").unlink()
    path.with_suffix(".dbf").symlink_to(_outside(tmp_path))
    assert "sites.dbf is a link leading outside" in _failed(project)


def test_a_code_list_linked_outside_is_refused(project, tmp_path):
    write_geojson(project.sources / "sites.geojson", site_features())
    (project.sources / "codes.xml").symlink_to(_outside(tmp_path))
    fields = [*SITE_FIELDS_WITH_CODELIST]
    project.define("sites", {"path": "sites.geojson"}, fields)
    assert "codes.xml is a link leading outside" in _failed(project)


SITE_FIELDS_WITH_CODELIST = [
    field("site_id", "番号", required=True),
    field("name", "名称", required=True),
    field("kind", "区分", codelist="codes.xml"),
]
GML = """<?xml version="1.0" encoding="UTF-8"?>
{doctype}<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" {schema}>
 <gml:featureMember><ogr:sites fid="sites.0">
  <ogr:geometryProperty><gml:Point srsName="EPSG:6668"><gml:coordinates>140.1297,36.0985</gml:coordinates>
  </gml:Point></ogr:geometryProperty>
  <ogr:番号>1</ogr:番号><ogr:名称>桜中学校{entity}</ogr:名称><ogr:区分>学校</ogr:区分>
 </ogr:sites></gml:featureMember>
</ogr:FeatureCollection>
"""


@pytest.mark.parametrize(
    ("doctype", "schema", "entity", "expect"),
    [
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "{secret}">]>\n', "", "&e;", "has a DOCTYPE"),
        ('<!DOCTYPE x SYSTEM "{secret}">\n', "", "", "has a DOCTYPE"),
        ("", 'xsi:schemaLocation="http://ogr.maptools.org/ {secret}"', "", "xsi:schemaLocation"),
        ("", 'xsi:schemaLocation="http://ogr.maptools.org/ ../../outside/passwd.xsd"', "", "outside the"),
    ],
    ids=["xxe", "external-dtd", "schema-absolute", "schema-relative"],
)
def test_gml_read_by_gdal_cannot_name_other_files(project, tmp_path, doctype, schema, entity, expect):
    secret = _outside(tmp_path)
    text = GML.format(doctype=doctype, schema=schema, entity=entity).replace("{secret}", str(secret))
    (project.sources / "sites.gml").write_text(text, encoding="utf-8")
    project.define("sites", {"path": "sites.gml"})
    error = _failed(project)
    assert "sites.gml" in error and expect in error, error


def test_plain_gml_still_loads(project):
    (project.sources / "sites.gml").write_text(GML.format(doctype="", schema="", entity=""), encoding="utf-8")
    project.define("sites", {"path": "sites.gml"})
    assert entry(project.run("sites"), "sites").status == "loaded"
