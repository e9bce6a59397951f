"""Feature queries on a PostGIS layer table: the same answers as the GeoPackage store's.

Order and equality follow SQLite's: strings compare byte-wise (``COLLATE "C"``, whatever the
database's locale), NULLs sort first ascending, ties break on ``fid``. A bbox is matched with
the GiST index (``&&``) and then exactly (``ST_Intersects``) where the feature's box is not
inside the envelope (``@``), as the R-tree path does.
A counted page is one statement (the matching ids gathered once, counted, then the page read by
fid); vector tiles (ST_AsMVT) are in ``postgis_tiles.py``.
"""

from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from tsukuba_gis.store.base import FeaturePage, LayerRecord, Query
from tsukuba_gis.store.postgis_filter import filter_sql

ENVELOPE = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
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
    exact = sql.SQL("t.geom && {e} AND ST_Intersects(t.geom, {e})").format(e=ENVELOPE)
    m = INNER_MARGIN
    if x1 - x0 <= 2 * m or y1 - y0 <= 2 * m:
        return exact, [*bbox, *bbox]
    inside = sql.SQL("t.geom && {e} AND (t.geom @ {i} OR ST_Intersects(t.geom, {e}))").format(
        e=ENVELOPE, i=ENVELOPE
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


def _sort_keys(record: LayerRecord, query: Query) -> list[tuple[sql.Composable, bool, bool]]:
    """(column, ascending, is string) of the asked order; ``fid`` breaks ties."""
    types = _types(record)
    keys = []
    for name, ascending in query.sortby:
        column = sql.Identifier(_checked(record, [name])[0])
        keys.append((column, ascending, types[name] == "string"))
    return keys


def _order(keys: list[tuple[sql.Composable, bool, bool]], alias: str) -> sql.Composable:
    parts = []
    for column, ascending, is_string in keys:
        term = sql.SQL("{}.{}").format(sql.Identifier(alias), column)
        if is_string:
            term = sql.SQL('{} COLLATE "C"').format(term)
        parts.append(
            sql.SQL("{} {}").format(term, sql.SQL("ASC NULLS FIRST" if ascending else "DESC NULLS LAST"))
        )
    return sql.SQL(", ").join([*parts, sql.SQL("{}.fid").format(sql.Identifier(alias))])


def _columns(record: LayerRecord, query: Query) -> tuple[list[str], sql.Composable]:
    names = list(query.select) if query.select is not None else [c.name for c in record.columns]
    columns = [
        sql.SQL("NULL" if query.skip_geometry else "ST_AsBinary(t.geom)"),
        sql.SQL("t.{}").format(sql.Identifier(record.id_column)) if record.id_column else sql.SQL("t.fid"),
        *(sql.SQL("t.{}").format(sql.Identifier(n)) for n in _checked(record, names)),
    ]
    return names, sql.SQL(", ").join(columns)


def _page_statement(
    table: sql.Composable, record: LayerRecord, query: Query, where: sql.Composable, counted: bool
) -> tuple[list[str], sql.Composable]:
    """The page's SELECT; ``counted``: with how many match in its first column, in one scan.

    Counting in a second statement scanned the index and tested the geometries twice and cost
    a second round trip (the serving bench's ~360 m PostGIS floor: 556 -> 732-743 pages/s): the
    matching ids (and sort keys) are gathered once, counted, and the page is read by fid.
    """
    names, columns = _columns(record, query)
    keys = _sort_keys(record, query)
    if not counted:
        return names, sql.SQL("SELECT {} FROM {} t WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
            columns, table, where, _order(keys, "t")
        )
    gathered = sql.SQL("").join(sql.SQL(", t.{}").format(column) for column, _, _ in keys)
    return names, sql.SQL(
        "WITH m AS MATERIALIZED (SELECT t.fid{gathered} FROM {table} t WHERE {where}),"
        " p AS (SELECT m.fid FROM m ORDER BY {m_order} LIMIT %s OFFSET %s)"
        " SELECT (SELECT count(*) FROM m), {columns} FROM p JOIN {table} t ON t.fid = p.fid"
        " ORDER BY {t_order}"
    ).format(
        gathered=gathered,
        table=table,
        where=where,
        m_order=_order(keys, "m"),
        columns=columns,
        t_order=_order(keys, "t"),
    )


_STATEMENTS: dict[tuple, tuple[list[str], bytes]] = {}
STATEMENTS_KEPT = 512  # page shapes (table, columns, where, order) a process keeps composed


def _kept_statement(
    table: sql.Composable, record: LayerRecord, query: Query, where: sql.Composable, counted: bool
) -> tuple[list[str], bytes]:
    """``_page_statement`` as bytes, kept per shape of page: composing it (a ``psycopg.sql``
    format per column and sort key, then joined) was ~8 % of a one-feature request on PostGIS
    (``bench/http_profile.py --scenario feature --store ...``). The values are parameters, so
    one shape serves every id or bbox."""
    key = (
        table.as_bytes(None),
        record.id_column,
        tuple(c.name for c in record.columns),
        query.select,
        query.skip_geometry,
        query.sortby,
        where.as_bytes(None),
        counted,
    )
    kept = _STATEMENTS.get(key)
    if kept is None:
        names, statement = _page_statement(table, record, query, where, counted)
        if len(_STATEMENTS) >= STATEMENTS_KEPT:
            _STATEMENTS.clear()
        kept = _STATEMENTS[key] = (names, statement.as_bytes(None))
    return kept


def _page(
    conn: psycopg.Connection,
    table: sql.Composable,
    record: LayerRecord,
    query: Query,
    where: sql.Composable,
    args: list[Any],
    counted: bool,
) -> FeaturePage:
    names, statement = _kept_statement(table, record, query, where, counted)
    rows = conn.execute(statement, [*args, query.limit, query.offset]).fetchall()
    skip = 1 if counted else 0
    page = FeaturePage(
        ids=[r[skip + 1] for r in rows],
        wkb=[bytes(r[skip]) if r[skip] is not None else None for r in rows],
        properties=[dict(zip(names, r[skip + 2 :], strict=True)) for r in rows],
        number_matched=None,
    )
    if counted and rows:
        page.number_matched = rows[0][0]
    return page


def _count(conn: psycopg.Connection, table: sql.Composable, where: sql.Composable, args: list[Any]) -> int:
    statement = sql.SQL("SELECT count(*) FROM {} t WHERE {}").format(table, where)
    return conn.execute(statement, args).fetchone()[0]


def run_query(conn: psycopg.Connection, schema: str, record: LayerRecord, query: Query) -> FeaturePage:
    """One page of features, and how many match (from the registry when nothing filters)."""
    table = sql.Identifier(schema, record.table)
    where, args = _where(record, query)
    # A bbox always counts (as the GeoPackage store does: its R-tree path has the ids anyway).
    counted = query.bbox is not None or (query.with_count and (query.equals or query.filter is not None))
    if query.limit > 0:
        page = _page(conn, table, record, query, where, args, counted)
    else:  # resulttype=hits: only the count
        _checked(record, list(query.select or ()))
        page = FeaturePage([], [], [], None)
    if counted and page.number_matched is None:  # hits, or a page past the last match
        page.number_matched = _count(conn, table, where, args)
    elif query.with_count and not counted:
        page.number_matched = record.feature_count
    return page
