"""A CQL2 filter tree (``Query.filter``, see ``cql.py``) as SQLite SQL on a GeoPackage table.

Plain SQLite has no spatial functions, so each spatial predicate is answered before the
statement runs: the layer's R-tree gives the features whose envelope meets the literal's, their
geometries are tested with one vectorised shapely call, and the predicate becomes
``t.fid IN (<those ids>)`` (bound as one JSON array) inside the SQL of the rest. LIKE is
SQLite's GLOB (case-sensitive, as CQL2's LIKE; SQLite's LIKE ignores ASCII case); CASEI is
Python's ``str.lower`` (SQLite's ``lower`` folds ASCII only; PostgreSQL folds by its locale).
"""

import json
import sqlite3
from datetime import date, datetime
from typing import Any

import shapely
from pygeofilter import ast, values

from tsukuba_gis.store.base import LayerRecord
from tsukuba_gis.store.cql import COMPARISON_SQL, GEOMETRY, SPATIAL, glob_pattern
from tsukuba_gis.store.gpkg_format import wkb_of
from tsukuba_gis.store.gpkg_rtree import OVERLAP

_CHUNK = 900  # host parameters per statement, as gpkg_query
LOWER = "tsukuba_lower"


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def register(con: sqlite3.Connection) -> None:
    """The functions the translated SQL calls (once per connection; cheap to repeat)."""
    con.create_function(LOWER, 1, _lower, deterministic=True)


def spatial_fids(con: sqlite3.Connection, record: LayerRecord, predicate: str, literal) -> list[int]:
    """Ids of the features for which ``predicate(feature, literal)`` holds.

    Disjoint is the complement of intersects (the R-tree can only narrow down "meets").
    """
    if predicate == "disjoint":
        meets = set(spatial_fids(con, record, "intersects", literal))
        every = con.execute(f'SELECT fid FROM "{record.table}"').fetchall()
        return [fid for (fid,) in every if fid not in meets]
    x0, y0, x1, y1 = shapely.bounds(literal).tolist()
    rtree = f'"rtree_{record.table}_geom"'
    candidates = [r[0] for r in con.execute(f"SELECT id FROM {rtree} WHERE {OVERLAP}", [x0, x1, y0, y1])]
    shapely.prepare(literal)
    test = getattr(shapely, predicate)
    found: list[int] = []
    for i in range(0, len(candidates), _CHUNK):
        part = candidates[i : i + _CHUNK]
        rows = con.execute(
            f'SELECT fid, geom FROM "{record.table}" WHERE fid IN ({",".join("?" * len(part))})', part
        ).fetchall()
        geoms = shapely.from_wkb([wkb_of(g) for _, g in rows])
        hits = test(geoms, literal)
        found.extend(fid for (fid, _), hit in zip(rows, hits, strict=True) if hit)
    return found


class _Translator:
    def __init__(self, con: sqlite3.Connection, record: LayerRecord):
        self.con, self.record = con, record
        self.types = {c.name: c.type for c in record.columns}
        self.args: list[Any] = []

    def column(self, node: Any) -> str:
        if isinstance(node, ast.Function) and node.name == "lower":
            return f"{LOWER}({self.column(node.arguments[0])})"
        if not isinstance(node, ast.Attribute):
            raise ValueError(f"not a property: {node!r}")
        if node.name != "fid" and node.name not in self.types:
            raise ValueError(f"unknown property: {node.name}")
        return f't."{node.name}"'

    def value(self, node: Any) -> str:
        if isinstance(node, ast.Function) and node.name == "lower":
            return f"{LOWER}({self.value(node.arguments[0])})"
        if isinstance(node, datetime):
            node = node.date()
        if isinstance(node, date):
            node = node.isoformat()  # GeoPackage DATE: ISO text
        elif isinstance(node, bool):
            node = int(node)  # SQLite keeps booleans as 0/1
        self.args.append(node)
        return "?"

    def where(self, node: Any) -> str:  # noqa: C901 (one branch per node kind)
        if isinstance(node, ast.And | ast.Or):
            word = " AND " if isinstance(node, ast.And) else " OR "
            return f"({self.where(node.lhs)}{word}{self.where(node.rhs)})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.where(node.sub_node)})"
        if isinstance(node, ast.Include):
            return "0" if node.not_ else "1"
        if type(node) in COMPARISON_SQL:
            return f"({self.column(node.lhs)} {COMPARISON_SQL[type(node)]} {self.value(node.rhs)})"
        if isinstance(node, ast.Between):
            clause = f"({self.column(node.lhs)} BETWEEN {self.value(node.low)} AND {self.value(node.high)})"
            return f"(NOT {clause})" if node.not_ else clause
        if isinstance(node, ast.In):
            column = self.column(node.lhs)
            items = ", ".join(self.value(v) for v in node.sub_nodes)
            return f"({column} {'NOT IN' if node.not_ else 'IN'} ({items}))"
        if isinstance(node, ast.IsNull):
            return f"({self.column(node.lhs)} IS {'NOT ' if node.not_ else ''}NULL)"
        if isinstance(node, ast.Like):
            return self.like(node)
        if type(node) in SPATIAL:
            return self.spatial(node)
        raise ValueError(f"cannot translate {type(node).__name__}")

    def like(self, node: ast.Like) -> str:
        pattern = node.pattern
        lowered = isinstance(pattern, ast.Function)
        text = pattern.arguments[0].lower() if lowered else pattern
        self.args.append(glob_pattern(text))
        clause = f"({self.column(node.lhs)} GLOB ?)"
        return f"(NOT {clause})" if node.not_ else clause

    def spatial(self, node: Any) -> str:
        if not (isinstance(node.lhs, ast.Attribute) and node.lhs.name == GEOMETRY):
            raise ValueError("a spatial predicate compares the geometry with a literal")
        if not isinstance(node.rhs, values.Geometry):
            raise ValueError("a spatial predicate needs a geometry literal")
        literal = shapely.geometry.shape(node.rhs.geometry)
        fids = spatial_fids(self.con, self.record, SPATIAL[type(node)][1], literal)
        self.args.append(json.dumps(fids))
        return "(t.fid IN (SELECT value FROM json_each(?)))"


def filter_sql(con: sqlite3.Connection, record: LayerRecord, tree: Any) -> tuple[str, list[Any]]:
    """The WHERE clause of a filter tree on a layer table aliased ``t``, and its arguments."""
    register(con)
    translator = _Translator(con, record)
    return translator.where(tree), translator.args
