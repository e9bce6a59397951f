"""What every store's CQL2 translation shares: the filter tree's shape and the LIKE rules.

A filter reaches a store as a pygeofilter AST (``Query.filter``) already checked and put in
its plain form by the server (``server/ogcapi/cql.py``): properties are published columns (or
``fid``); a spatial predicate is ``op(Attribute('geometry'), Geometry)`` with the literal in
lon/lat (CRS84) as GeoJSON; temporal predicates on dates have become comparisons; CASEI is
``Function('lower', ...)``. Each backend translates that tree once, to SQL (PostGIS,
``postgis_filter.py``) or to SQL with the spatial parts answered by its R-tree and shapely
(GeoPackage, ``gpkg_filter.py``).
"""

from pygeofilter import ast

GEOMETRY = "geometry"  # the one geometry property a filter may name

# Spatial predicates: pygeofilter node -> (PostGIS function, shapely predicate name).
SPATIAL: dict[type, tuple[str, str]] = {
    ast.GeometryIntersects: ("ST_Intersects", "intersects"),
    ast.GeometryDisjoint: ("ST_Disjoint", "disjoint"),
    ast.GeometryWithin: ("ST_Within", "within"),
    ast.GeometryContains: ("ST_Contains", "contains"),
    ast.GeometryTouches: ("ST_Touches", "touches"),
    ast.GeometryCrosses: ("ST_Crosses", "crosses"),
    ast.GeometryOverlaps: ("ST_Overlaps", "overlaps"),
    ast.GeometryEquals: ("ST_Equals", "equals"),
}

COMPARISON_SQL: dict[type, str] = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}


def like_parts(pattern: str) -> list[tuple[str, str]]:
    """A CQL2 LIKE pattern as (kind, text) parts: "any" (``%``), "one" (``_``), "text".

    CQL2 (OGC 21-065 §7.3) has ``%`` for any run of characters, ``_`` for one, and ``\\``
    escaping either (pygeofilter reports ``.`` as its single-character wildcard; CQL2's ``_``
    is what a client writes).
    """
    parts: list[tuple[str, str]] = []
    text, escaped = [], False
    for char in pattern:
        if escaped:
            text.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "%_":
            if text:
                parts.append(("text", "".join(text)))
                text = []
            parts.append(("any" if char == "%" else "one", ""))
        else:
            text.append(char)
    if escaped:
        text.append("\\")
    if text:
        parts.append(("text", "".join(text)))
    return parts


def sql_like(pattern: str) -> str:
    """The pattern for SQL ``LIKE ... ESCAPE '\\'`` (PostgreSQL)."""
    out = []
    for kind, text in like_parts(pattern):
        if kind == "any":
            out.append("%")
        elif kind == "one":
            out.append("_")
        else:
            out.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(out)


def glob_pattern(pattern: str) -> str:
    """The pattern for SQLite's case-sensitive ``GLOB`` (its LIKE ignores ASCII case)."""
    out = []
    for kind, text in like_parts(pattern):
        if kind == "any":
            out.append("*")
        elif kind == "one":
            out.append("?")
        else:
            out.append("".join(f"[{c}]" if c in "*?[]" else c for c in text))
    return "".join(out)
