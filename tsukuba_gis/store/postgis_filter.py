"""A CQL2 filter tree (``Query.filter``, see ``cql.py``) as a PostGIS WHERE clause.

Values are always bound parameters, names always quoted identifiers. Strings compare byte-wise
(``COLLATE "C"``) and NULL follows SQL's three-valued logic (a comparison with NULL is not
true, nor is its NOT), as in SQLite, so both stores answer alike.
"""

from datetime import date, datetime
from typing import Any

import shapely
from psycopg import sql
from pygeofilter import ast, values

from tsukuba_gis.store.base import LayerRecord
from tsukuba_gis.store.cql import COMPARISON_SQL, GEOMETRY, SPATIAL, sql_like


class _Translator:
    def __init__(self, record: LayerRecord):
        self.types = {c.name: c.type for c in record.columns}
        self.args: list[Any] = []

    def column(self, node: Any) -> sql.Composable:
        if isinstance(node, ast.Function) and node.name == "lower":
            return sql.SQL("lower({})").format(self.column(node.arguments[0]))
        if not isinstance(node, ast.Attribute):
            raise ValueError(f"not a property: {node!r}")
        if node.name == "fid":
            return sql.SQL("t.fid")
        if node.name not in self.types:
            raise ValueError(f"unknown property: {node.name}")
        column = sql.SQL("t.{}").format(sql.Identifier(node.name))
        if self.types[node.name] == "string":
            column = sql.SQL('{} COLLATE "C"').format(column)
        return column

    def value(self, node: Any) -> sql.Composable:
        if isinstance(node, ast.Function) and node.name == "lower":
            return sql.SQL("lower({})").format(self.value(node.arguments[0]))
        if isinstance(node, datetime):
            node = node.date()
        self.args.append(node)
        if isinstance(node, date):
            return sql.SQL("%s::date")
        return sql.SQL("%s")

    def where(self, node: Any) -> sql.Composable:  # noqa: C901 (one branch per node kind)
        if isinstance(node, ast.And | ast.Or):
            word = sql.SQL(" AND " if isinstance(node, ast.And) else " OR ")
            return sql.SQL("({})").format(word.join([self.where(node.lhs), self.where(node.rhs)]))
        if isinstance(node, ast.Not):
            return sql.SQL("(NOT {})").format(self.where(node.sub_node))
        if isinstance(node, ast.Include):
            return sql.SQL("false" if node.not_ else "true")
        if type(node) in COMPARISON_SQL:
            op = sql.SQL(COMPARISON_SQL[type(node)])
            return sql.SQL("({} {} {})").format(self.column(node.lhs), op, self.value(node.rhs))
        if isinstance(node, ast.Between):
            clause = sql.SQL("({} BETWEEN {} AND {})").format(
                self.column(node.lhs), self.value(node.low), self.value(node.high)
            )
            return sql.SQL("(NOT {})").format(clause) if node.not_ else clause
        if isinstance(node, ast.In):
            column = self.column(node.lhs)
            items = sql.SQL(", ").join([self.value(v) for v in node.sub_nodes])
            return sql.SQL("({} {} ({}))").format(column, sql.SQL("NOT IN" if node.not_ else "IN"), items)
        if isinstance(node, ast.IsNull):
            return sql.SQL("({} IS {}NULL)").format(
                self.column(node.lhs), sql.SQL("NOT " if node.not_ else "")
            )
        if isinstance(node, ast.Like):
            return self.like(node)
        if type(node) in SPATIAL:
            return self.spatial(node)
        raise ValueError(f"cannot translate {type(node).__name__}")

    def like(self, node: ast.Like) -> sql.Composable:
        pattern = node.pattern
        lowered = isinstance(pattern, ast.Function)
        text = pattern.arguments[0] if lowered else pattern
        self.args.append(sql_like(text))
        right = sql.SQL("lower(%s)" if lowered else "%s")
        word = sql.SQL("NOT LIKE" if node.not_ else "LIKE")
        return sql.SQL("({} {} {} ESCAPE '\\')").format(self.column(node.lhs), word, right)

    def spatial(self, node: Any) -> sql.Composable:
        if not (isinstance(node.lhs, ast.Attribute) and node.lhs.name == GEOMETRY):
            raise ValueError("a spatial predicate compares the geometry with a literal")
        if not isinstance(node.rhs, values.Geometry):
            raise ValueError("a spatial predicate needs a geometry literal")
        self.args.append(shapely.to_wkb(shapely.geometry.shape(node.rhs.geometry)))
        function = sql.SQL(SPATIAL[type(node)][0])  # a name from our own table
        return sql.SQL("{}(t.geom, ST_GeomFromWKB(%s, 4326))").format(function)


def filter_sql(record: LayerRecord, tree: Any) -> tuple[sql.Composable, list[Any]]:
    """The WHERE clause of a filter tree on a layer table aliased ``t``, and its arguments."""
    translator = _Translator(record)
    return translator.where(tree), translator.args
