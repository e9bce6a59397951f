"""Feature queries on a PostGIS layer table: the same answers as the GeoPackage store's.

Order and equality follow SQLite's: strings compare byte-wise (``COLLATE "C"``, whatever the
database's locale), NULLs sort first ascending, ties break on ``fid``. A bbox is matched with
the GiST index (``&&``) and then exactly (``ST_Intersects``) where the feature's box is not
inside the envelope (``@``), as the R-tree path does.
Vector tiles (ST_AsMVT, issue 6) belong in their own module next to ``postgis_tiles.py``.
"""

from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from tsukuba_gis.store.base import FeaturePage, LayerRecord, Query
from tsukuba_gis.store.postgis_filter import filter_sql

_ENVELOPE = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
INNER_MARGIN = 1e-4  # degrees; a float4 step is under 2e-5 at these longitudes
_NEVER = object()  # a filter value no row can equal (an invalid date, a non-numeric id)


def _types(record: LayerRecord) -> dict[str, str]:
    return {c.name: c.type for c in record.columns}


def _checked(record: LayerRecord, names: tuple[str, ...] | list[str]) -> list[str]:
    known = _types(record)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown properties: {', '.join(unknown)}")
    return list(names)


def coerce(kind: str, value: Any) -> Any:
    """A filter value as the column's Python type (``_NEVER`` when it cannot be one)."""
    try:
        if kind == "integer":
            number = int(value)
            # Beyond bigint no row can equal it (as the GeoPackage store, which cannot bind it).
            return number if -(2**63) <= number < 2**63 else _NEVER
        if kind == "number":
            return float(value)
        if kind == "boolean":
            return bool(int(value)) if not isinstance(value, bool) else value
        if kind == "date":
            return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return _NEVER
    return str(value)


def _bbox(bbox: tuple[float, float, float, float]) -> tuple[sql.Composable, list[float]]:
    """GiST candidates, exactly tested unless their box lies well inside the envelope.

    A feature whose box is inside the envelope intersects it, so only those near its edge
    need ST_Intersects (halves a page and its count at 10,000 hits). ``@`` compares float4
    boxes rounded outward, so the inner envelope is ``INNER_MARGIN`` smaller than the asked one:
    a feature that passes it is surely inside, whatever the rounding.
    """
    x0, y0, x1, y1 = bbox
    exact = sql.SQL("t.geom && {e} AND ST_Intersects(t.geom, {e})").format(e=_ENVELOPE)
    m = INNER_MARGIN
    if x1 - x0 <= 2 * m or y1 - y0 <= 2 * m:
        return exact, [*bbox, *bbox]
    inside = sql.SQL("t.geom && {e} AND (t.geom @ {i} OR ST_Intersects(t.geom, {e}))").format(
        e=_ENVELOPE, i=_ENVELOPE
    )
    return inside, [*bbox, x0 + m, y0 + m, x1 - m, y1 - m, *bbox]


def _where(record: LayerRecord, query: Query) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    args: list[Any] = []
    if query.bbox is not None:
        clause, bbox_args = _bbox(query.bbox)
        clauses.append(clause)
        args += bbox_args
    types = _types(record)
    for name, value in query.equals:
        kind = "integer" if name == "fid" else types[_checked(record, [name])[0]]
        value = coerce(kind, value)
        if value is _NEVER:
            clauses.append(sql.SQL("false"))
            continue
        clauses.append(sql.SQL("t.{} = %s").format(sql.Identifier(name)))
        args.append(value)
    if query.filter is not None:
        clause, filter_args = filter_sql(record, query.filter)
        clauses.append(clause)
        args += filter_args
    return (sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("true")), args


def _order(record: LayerRecord, query: Query) -> sql.Composable:
    types = _types(record)
    parts = []
    for name, ascending in query.sortby:
        column = sql.SQL("t.{}").format(sql.Identifier(_checked(record, [name])[0]))
        if types[name] == "string":
            column = sql.SQL('{} COLLATE "C"').format(column)
        parts.append(
            sql.SQL("{} {}").format(column, sql.SQL("ASC NULLS FIRST" if ascending else "DESC NULLS LAST"))
        )
    return sql.SQL(", ").join([*parts, sql.SQL("t.fid")])


def _page(
    conn: psycopg.Connection,
    table: sql.Composable,
    record: LayerRecord,
    query: Query,
    where: sql.Composable,
    args: list[Any],
) -> FeaturePage:
    names = list(query.select) if query.select is not None else [c.name for c in record.columns]
    columns = [
        sql.SQL("NULL" if query.skip_geometry else "ST_AsBinary(t.geom)"),
        sql.SQL("t.{}").format(sql.Identifier(record.id_column)) if record.id_column else sql.SQL("t.fid"),
        *(sql.SQL("t.{}").format(sql.Identifier(n)) for n in _checked(record, names)),
    ]
    statement = sql.SQL("SELECT {} FROM {} t WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
        sql.SQL(", ").join(columns), table, where, _order(record, query)
    )
    rows = conn.execute(statement, [*args, query.limit, query.offset]).fetchall()
    return FeaturePage(
        ids=[r[1] for r in rows],
        wkb=[bytes(r[0]) if r[0] is not None else None for r in rows],
        properties=[dict(zip(names, r[2:], strict=True)) for r in rows],
        number_matched=None,
    )


def run_query(conn: psycopg.Connection, schema: str, record: LayerRecord, query: Query) -> FeaturePage:
    """One page of features, and how many match (from the registry when nothing filters)."""
    table = sql.Identifier(schema, record.table)
    where, args = _where(record, query)
    if query.limit > 0:
        page = _page(conn, table, record, query, where, args)
    else:  # resulttype=hits: only the count
        _checked(record, list(query.select or ()))
        page = FeaturePage([], [], [], None)
    # A bbox always counts (as the GeoPackage store does: its R-tree path has the ids anyway).
    if query.bbox is not None or (query.with_count and (query.equals or query.filter is not None)):
        statement = sql.SQL("SELECT count(*) FROM {} t WHERE {}").format(table, where)
        page.number_matched = conn.execute(statement, args).fetchone()[0]
    elif query.with_count:
        page.number_matched = record.feature_count
    return page
