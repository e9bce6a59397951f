"""The open-data download formats, each written chunk by chunk from the store's frames.

Every writer receives the same public frames (public fields only, typed, EPSG:4326) through
``write`` and finishes in ``close``, which returns what the manifest should say about the file.
One pass over the store feeds all writers, so a large layer is never held in memory.
"""

import json
import zipfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely
from pyproj import CRS

from etl.publish.csvfile import CsvFile
from tsukuba_gis.layerdef import FieldDef, LayerDef

GEOMETRY_TYPES = {"point": "Point", "line": "MultiLineString", "polygon": "MultiPolygon"}
PANDAS_TYPES = {
    "string": object,
    "date": object,
    "integer": "Int64",
    "number": "float64",
    "boolean": "boolean",
}
ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}
COORDINATE_DECIMALS = 7  # 1e-7 degree is about 1 cm at Tsukuba
EXCEL_CELL_LIMIT = 32_767  # characters; a longer WKT cell is cut by Excel
DBF_TEXT_LIMIT = 254  # bytes of a DBF character field; GDAL truncates longer values


@dataclass(frozen=True)
class Target:
    """What every writer needs to know about the layer it writes."""

    layer: LayerDef
    fields: tuple[FieldDef, ...]
    bbox: tuple[float, float, float, float] | None

    @property
    def names(self) -> list[str]:
        """The published column names, in definition order."""
        return [f.name for f in self.fields]

    @property
    def geometry_type(self) -> str:
        """The GeoJSON/OGR geometry type the store holds for this layer."""
        return GEOMETRY_TYPES[self.layer.geometry]


def public_frame(frame: gpd.GeoDataFrame, target: Target) -> gpd.GeoDataFrame:
    """Public columns only, typed from the definition (the store returns SQLite's raw values)."""
    data = {}
    for spec in target.fields:
        column = frame[spec.name] if spec.name in frame else pd.Series(None, index=frame.index)
        if spec.type == "boolean":
            column = column.map(lambda v: None if pd.isna(v) else bool(v))
        elif spec.type == "date":  # GeoPackage stores text, PostGIS returns datetime.date
            column = column.map(lambda v: None if pd.isna(v) else str(v)[:10])
        data[spec.name] = column.astype(PANDAS_TYPES[spec.type])
    return gpd.GeoDataFrame(data, geometry=frame.geometry.values, crs="EPSG:4326")


def empty_frame(target: Target) -> gpd.GeoDataFrame:
    """A typed frame with no rows, so a layer with no features still gets valid files."""
    data = {spec.name: pd.Series([], dtype=PANDAS_TYPES[spec.type]) for spec in target.fields}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def python_values(series: pd.Series) -> list[Any]:
    """Plain Python values with None for missing ones (for JSON and Arrow)."""
    return [
        None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
        for v in series.tolist()
    ]


class FormatWriter(ABC):
    """One download file written from public frames.

    Attributes:
        suffix: appended to the layer id to make the file name.
        label: the format as shown to people.
        media_type: the Content-Type it is served with.
    """

    suffix: ClassVar[str]
    label: ClassVar[str]
    media_type: ClassVar[str]

    def __init__(self, directory: Path, target: Target):
        self.target = target
        self.name = f"{target.layer.id}{self.suffix}"
        self.path = directory / self.name
        self.rows = 0

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Add one chunk of public features."""
        self._write(frame)
        self.rows += len(frame)

    def close(self) -> dict[str, Any]:
        """Finish the file; extra facts for the manifest."""
        if self.rows == 0:
            self._write(empty_frame(self.target))
        return self._close()

    @abstractmethod
    def _write(self, frame: gpd.GeoDataFrame) -> None: ...

    @abstractmethod
    def _close(self) -> dict[str, Any]: ...


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class GeoJSONWriter(FormatWriter):
    """RFC 7946 GeoJSON: lon/lat WGS 84, no ``crs`` member, polygons counter-clockwise."""

    suffix, label, media_type = ".geojson", "GeoJSON", "application/geo+json"

    def __init__(self, directory: Path, target: Target):
        super().__init__(directory, target)
        self._out = open(self.path, "w", encoding="utf-8", newline="\n")
        self._out.write('{"type":"FeatureCollection","features":[')
        self._first = True
        id_field = target.layer.id_field
        self._id = id_field if id_field in target.names else None

    def _write(self, frame: gpd.GeoDataFrame) -> None:
        # RFC 7946 3.1.6: exterior rings counter-clockwise, holes clockwise.
        geometries = shapely.to_geojson(shapely.orient_polygons(frame.geometry.values))
        columns = {n: python_values(frame[n]) for n in self.target.names}
        for i, geometry in enumerate(geometries):
            properties = {n: values[i] for n, values in columns.items()}
            feature = '{"type":"Feature",'
            if self._id is not None and properties[self._id] is not None:
                feature += f'"id":{_json(properties[self._id])},'
            feature += f'"geometry":{geometry},"properties":{_json(properties)}}}'
            self._out.write(("\n" if self._first else ",\n") + feature)
            self._first = False

    def _close(self) -> dict[str, Any]:
        self._out.write("\n]}\n")
        self._out.close()
        return {"crs": "OGC:CRS84"}


class CsvWriter(FormatWriter):
    """A CSV for spreadsheets: points as ``longitude``/``latitude`` columns, others as ``WKT``."""

    suffix, label, media_type = ".csv", "CSV (UTF-8)", "text/csv; charset=utf-8; header=present"
    encoding = "utf-8-sig"

    def __init__(self, directory: Path, target: Target):
        super().__init__(directory, target)
        self._points = target.layer.geometry == "point"
        self._file = CsvFile(self.path, self.encoding)
        self._long_wkt = 0

    def _write(self, frame: gpd.GeoDataFrame) -> None:
        table = pd.DataFrame({n: frame[n] for n in self.target.names})
        geometry = frame.geometry.values
        if self._points:
            table["longitude"] = np.round(shapely.get_x(geometry), COORDINATE_DECIMALS)
            table["latitude"] = np.round(shapely.get_y(geometry), COORDINATE_DECIMALS)
        else:
            wkt = shapely.to_wkt(geometry, rounding_precision=COORDINATE_DECIMALS, trim=True)
            self._long_wkt += int(sum(len(w) > EXCEL_CELL_LIMIT for w in wkt if w))
            table["WKT"] = wkt
        self._file.write(table)

    def _close(self) -> dict[str, Any]:
        info = self._file.close()
        info["geometry_columns"] = ["longitude", "latitude"] if self._points else ["WKT"]
        if self._long_wkt:
            info["wkt_cells_over_excel_limit"] = self._long_wkt
        return info


class CsvCp932Writer(CsvWriter):
    """The same CSV in cp932 for Excel versions that cannot read UTF-8."""

    suffix, label = "_sjis.csv", "CSV (Shift_JIS)"
    media_type = "text/csv; charset=Shift_JIS; header=present"
    encoding = "cp932"


class GeoPackageWriter(FormatWriter):
    """OGC GeoPackage with one table named after the layer, titled and described in Japanese."""

    suffix, label, media_type = ".gpkg", "GeoPackage", "application/geopackage+sqlite3"

    def _write(self, frame: gpd.GeoDataFrame) -> None:
        layer = self.target.layer
        options = (
            None
            if self.path.exists()
            else {"IDENTIFIER": layer.title.ja, "DESCRIPTION": layer.description.ja}
        )
        pyogrio.write_dataframe(
            frame,
            self.path,
            layer=layer.id,
            driver="GPKG",
            append=self.path.exists(),
            geometry_type=self.target.geometry_type,
            layer_options=options,
            use_arrow=True,
        )

    def _close(self) -> dict[str, Any]:
        return {"table": self.target.layer.id}


def dbf_names(names: list[str]) -> dict[str, str]:
    """Published name -> a unique DBF field name of at most 10 ASCII characters (deterministic)."""
    result: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        short, n = name[:10], 1
        while short.lower() in taken:  # DBF field names compare case-insensitively
            short, n = f"{name[: 10 - len(str(n)) - 1]}_{n}", n + 1
        taken.add(short.lower())
        result[name] = short
    return result


class ShapefileWriter(FormatWriter):
    """A zipped Shapefile: UTF-8 attributes declared in a .cpg, names cut to DBF's 10 characters."""

    suffix, label, media_type = "_shp.zip", "Shapefile (zip)", "application/zip"

    def __init__(self, directory: Path, target: Target):
        super().__init__(directory, target)
        self._dir = directory / f".{target.layer.id}_shp"
        self._dir.mkdir()
        self._shp = self._dir / f"{target.layer.id}.shp"
        self._names = dbf_names(target.names)
        self._truncated = 0

    def _write(self, frame: gpd.GeoDataFrame) -> None:
        for spec in self.target.fields:
            if spec.type in ("string", "date"):
                values = frame[spec.name].dropna()
                self._truncated += int(sum(len(str(v).encode()) > DBF_TEXT_LIMIT for v in values))
        pyogrio.write_dataframe(
            frame.rename(columns=self._names),
            self._shp,
            driver="ESRI Shapefile",
            encoding="UTF-8",
            append=self._shp.exists(),
            geometry_type=self.target.geometry_type,
            use_arrow=True,
        )

    def _close(self) -> dict[str, Any]:
        with zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(self._dir.iterdir()):
                archive.write(part, part.name)
                part.unlink()
        self._dir.rmdir()
        info: dict[str, Any] = {"encoding": "UTF-8 (.cpg)", "field_names": self._names}
        if self._truncated:
            info["truncated_values"] = self._truncated
        return info


class GeoParquetWriter(FormatWriter):
    """GeoParquet 1.1 (WKB, lon/lat), written row group by row group with a fixed schema."""

    suffix, label, media_type = ".parquet", "GeoParquet", "application/vnd.apache.parquet"

    def __init__(self, directory: Path, target: Target):
        super().__init__(directory, target)
        # geopandas' to_parquet needs the whole frame at once; the "geo" metadata it would write
        # is small and known up front (GeoParquet 1.1), so the file is streamed instead.
        column = {
            "encoding": "WKB",
            "geometry_types": [target.geometry_type],
            "crs": CRS("OGC:CRS84").to_json_dict(),
        }
        if target.bbox is not None:
            column["bbox"] = list(target.bbox)
        geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
        fields = [pa.field(f.name, ARROW_TYPES[f.type]) for f in target.fields]
        self._schema = pa.schema(
            [*fields, pa.field("geometry", pa.binary())], metadata={b"geo": json.dumps(geo).encode()}
        )
        self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")

    def _write(self, frame: gpd.GeoDataFrame) -> None:
        arrays = []
        for spec in self.target.fields:
            values = python_values(frame[spec.name])
            if spec.type == "date":
                values = [_iso_date(v) for v in values]
            arrays.append(pa.array(values, type=ARROW_TYPES[spec.type]))
        wkb = shapely.to_wkb(frame.geometry.values, flavor="iso", output_dimension=2)
        arrays.append(pa.array(list(wkb), type=pa.binary()))
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def _close(self) -> dict[str, Any]:
        self._writer.close()
        return {"geoparquet": "1.1.0"}


def _iso_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


WRITERS: tuple[type[FormatWriter], ...] = (
    GeoJSONWriter,
    CsvWriter,
    CsvCp932Writer,
    GeoPackageWriter,
    ShapefileWriter,
    GeoParquetWriter,
)
