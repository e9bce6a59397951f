"""The GeoPackage file format, as much as the store needs: core tables and geometry blobs.

Written with the standard library's sqlite3, because these Pythons cannot load SpatiaLite or
GDAL's SQL functions; see https://www.geopackage.org/spec140/ (sections 1.1, 2.1.3, 3.1, F.3).
"""

import sqlite3
from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10400  # GeoPackage 1.4
SRS_ID = 4326
# Header: magic, version 0, flags = little-endian + envelope [minx, maxx, miny, maxy].
_HEADER_DTYPE = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"), ("envelope", "<f8", (4,))]
)
_FLAGS_XY_LE = 0b0000_0011
_ENVELOPE_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

CORE_DDL = [
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT)""",
    """CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
        description TEXT DEFAULT '', last_change DATETIME NOT NULL
            DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
        srs_id INTEGER, CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id)
            REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL,
        definition TEXT NOT NULL, scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
]

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)
SRS_ROWS = [
    (
        "Undefined cartesian SRS",
        -1,
        "NONE",
        -1,
        "undefined",
        "undefined cartesian coordinate reference system",
    ),
    (
        "Undefined geographic SRS",
        0,
        "NONE",
        0,
        "undefined",
        "undefined geographic coordinate reference system",
    ),
    (
        "WGS 84 geodetic",
        4326,
        "EPSG",
        4326,
        WGS84_WKT,
        "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid",
    ),
]

SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE"}
GEOMETRY_NAMES = {"point": "POINT", "line": "MULTILINESTRING", "polygon": "MULTIPOLYGON"}


def init_core(con: sqlite3.Connection) -> None:
    """Make an empty SQLite file a GeoPackage (idempotent)."""
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {USER_VERSION}")
    for ddl in CORE_DDL:
        con.execute(ddl)
    con.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)", SRS_ROWS)


def encode(geometries: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    """GeoPackage blobs for 2D geometries, and their bounds (minx, miny, maxx, maxy) per row."""
    wkb = shapely.to_wkb(geometries, byte_order=1, output_dimension=2)
    bounds = shapely.bounds(geometries)
    # Headers for the whole chunk at once (numpy), then one concatenation per row.
    head = np.zeros(len(bounds), dtype=_HEADER_DTYPE)
    head["magic"], head["flags"], head["srs_id"] = b"GP", _FLAGS_XY_LE, SRS_ID
    head["envelope"] = bounds[:, [0, 2, 1, 3]]
    raw, size = head.tobytes(), _HEADER_DTYPE.itemsize
    blobs = [raw[i * size : (i + 1) * size] + w for i, w in enumerate(wkb.tolist())]
    return blobs, bounds


def python_columns(frame: pd.DataFrame, names: Sequence[str]) -> list[list]:
    """Each column as a list of plain Python values (None where missing), for sqlite3."""
    return [frame[name].to_numpy(dtype=object, na_value=None).tolist() for name in names]


def wkb_of(blob: bytes | None) -> bytes | None:
    """The WKB inside a GeoPackage geometry blob (any envelope kind)."""
    if blob is None:
        return None
    flags = blob[3]
    if flags == _FLAGS_XY_LE:
        return blob[_HEADER_DTYPE.itemsize :]
    return blob[8 + _ENVELOPE_SIZES[(flags >> 1) & 0b111] :]


def register_table(
    con: sqlite3.Connection,
    table: str,
    identifier: str,
    description: str,
    geometry_type: str,
    bbox: Sequence[float] | None,
) -> None:
    """Record a feature table in the GeoPackage metadata tables, with its R-tree extension."""
    minx, miny, maxx, maxy = bbox if bbox else (None, None, None, None)
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description,"
        " min_x, min_y, max_x, max_y, srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?)",
        (table, identifier, description, minx, miny, maxx, maxy, SRS_ID),
    )
    con.execute(
        "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
        (table, GEOMETRY_NAMES[geometry_type], SRS_ID),
    )
    con.execute(
        "INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index',"
        " 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
        (table,),
    )


def drop_table(con: sqlite3.Connection, table: str) -> None:
    """Remove a feature table, its R-tree and its metadata rows."""
    con.execute(f'DROP TABLE IF EXISTS "rtree_{table}_geom"')
    con.execute(f'DROP TABLE IF EXISTS "{table}"')
    for meta in ("gpkg_extensions", "gpkg_geometry_columns", "gpkg_contents"):
        con.execute(f"DELETE FROM {meta} WHERE table_name = ?", (table,))
