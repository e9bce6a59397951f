"""Feature queries on a GeoPackage layer table with plain SQLite and its R-tree."""

import sqlite3
from typing import Any

import shapely

from tsukuba_gis.errors import LayerNotFound
from tsukuba_gis.store.base import FeaturePage, LayerRecord, Query
from tsukuba_gis.store.gpkg_filter import filter_sql
from tsukuba_gis.store.gpkg_format import wkb_of
from tsukuba_gis.store.gpkg_rtree import OVERLAP

_CHUNK = 900  # stays under SQLite's default limit of host parameters per statement


def _quoted(record: LayerRecord, names: tuple[str, ...] | list[str]) -> list[str]:
    known = {c.name for c in record.columns}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown properties: {', '.join(unknown)}")
    return [f'"{n}"' for n in names]


def _where(con: sqlite3.Connection, record: LayerRecord, query: Query) -> tuple[str, list[Any]]:
    clauses, args = [], []
    for name, value in query.equals:
        column = "fid" if name == "fid" else _quoted(record, [name])[0]
        clauses.append(f"t.{column} = ?")
        args.append(value)
    if query.filter is not None:
        clause, filter_args = filter_sql(con, record, query.filter)
        clauses.append(clause)
        args += filter_args
    return (" AND ".join(clauses) or "1"), args


def _order(record: LayerRecord, query: Query) -> str:
    parts = [f"t.{_quoted(record, [n])[0]} {'ASC' if asc else 'DESC'}" for n, asc in query.sortby]
    return ", ".join(parts + ["t.fid"])


def _outside(con: sqlite3.Connection, table: str, fids: list[int], bbox: tuple) -> set[int]:
    """Those of ``fids`` whose geometry does not intersect the bbox (their envelope may)."""
    box = shapely.box(*bbox)
    outside: set[int] = set()
    for i in range(0, len(fids), _CHUNK):
        part = fids[i : i + _CHUNK]
        found = con.execute(
            f'SELECT fid, geom FROM "{table}" WHERE fid IN ({",".join("?" * len(part))})', part
        ).fetchall()
        geoms = shapely.from_wkb([wkb_of(g) for _, g in found])
        hits = shapely.intersects(geoms, box)
        outside.update(fid for (fid, _), hit in zip(found, hits, strict=True) if not hit)
    return outside


# The R-tree keeps float32 boxes rounded outwards: a stored bound can lie up to one float32 step
# (at most |v| * 2**-23, or the smallest subnormal near 0) beyond the true one. Twice that keeps
# the test on the safe side.
def _slack(v: float) -> float:
    return abs(v) * 2.0**-22 + 1e-44


def _reaches(low: float, high: float, lo: float, hi: float) -> bool:
    """Whether a true bound of an envelope stored as [low, high] surely lies in [lo, hi]."""
    return (lo <= low and low + _slack(low) <= hi) or (lo <= high - _slack(high) and high <= hi)


def surely_intersects(minx: float, maxx: float, miny: float, maxy: float, bbox: tuple) -> bool:
    """Whether a geometry with this R-tree box intersects ``bbox``, without reading it.

    A geometry touches every side of its envelope: at its largest x it has a point whose y lies
    in the envelope's y range. So when that y range is inside the box's and the largest (or the
    smallest) x is inside its x range, that point is in the box; likewise with the axes swapped.
    Only envelopes over a corner of the box, or across the whole of it, are left for the exact
    test: a handful per page, where every feature crossing an edge used to be read.
    """
    x0, y0, x1, y1 = bbox
    return (y0 <= miny and maxy <= y1 and _reaches(minx, maxx, x0, x1)) or (
        x0 <= minx and maxx <= x1 and _reaches(miny, maxy, y0, y1)
    )


def _bbox_ids(con: sqlite3.Connection, record: LayerRecord, query: Query) -> list[int]:
    """Ids of features whose geometry intersects the bbox, in result order.

    The R-tree gives envelope candidates; only those its box cannot decide
    (``surely_intersects``) need an exact test, so the geometry of most candidates is never read.
    """
    x0, y0, x1, y1 = query.bbox
    where, args = _where(con, record, query)
    table = record.table
    rows = con.execute(
        f"SELECT t.fid, (r.minx >= ? AND r.maxx <= ? AND r.miny >= ? AND r.maxy <= ?),"
        f' r.minx, r.maxx, r.miny, r.maxy FROM "{table}" t JOIN "rtree_{table}_geom" r ON r.id = t.fid'
        f" WHERE r.maxx >= ? AND r.minx <= ? AND r.maxy >= ? AND r.miny <= ? AND {where}"
        f" ORDER BY {_order(record, query)}",
        [x0, x1, y0, y1, x0, x1, y0, y1, *args],
    ).fetchall()
    unsure = [r[0] for r in rows if not r[1] and not surely_intersects(*r[2:], query.bbox)]
    outside = _outside(con, table, unsure, query.bbox) if unsure else set()
    return [r[0] for r in rows if r[0] not in outside]


# The boxes crossing one of the four edges of the query box (only those can miss it).
_EDGES = " UNION ".join(["SELECT id, minx, maxx, miny, maxy FROM {rtree} WHERE " + OVERLAP] * 4)


def _rtree_page(con: sqlite3.Connection, record: LayerRecord, query: Query) -> tuple[list[int], int]:
    """Page ids (fid order) and the count of a bbox query without filters, from the R-tree.

    Listing every candidate to count and order it costs ~50 ms for 10,000 features; instead
    SQLite counts the envelopes, finds the few crossing one of the four box edges (only those
    can miss the box, and ``surely_intersects`` settles most of them from their box) and sorts
    the first ids itself: a few ms, whatever the box holds.
    """
    x0, y0, x1, y1 = query.bbox
    rtree = f'"rtree_{record.table}_geom"'
    candidates = con.execute(f"SELECT count(*) FROM {rtree} WHERE {OVERLAP}", [x0, x1, y0, y1]).fetchone()[0]
    edges = [x0, x0, y0, y1, x1, x1, y0, y1, x0, x1, y0, y0, x0, x1, y1, y1]
    border = con.execute(_EDGES.format(rtree=rtree), edges).fetchall()  # UNION: each id once
    unsure = sorted(r[0] for r in border if not surely_intersects(*r[1:], query.bbox))
    outside = _outside(con, record.table, unsure, query.bbox) if unsure else set()
    if query.limit <= 0:
        return [], candidates - len(outside)
    first = con.execute(
        f"SELECT id FROM {rtree} WHERE {OVERLAP} ORDER BY id LIMIT ?",
        [x0, x1, y0, y1, query.offset + query.limit + len(outside)],
    ).fetchall()
    ids = [r[0] for r in first if r[0] not in outside]
    return ids[query.offset : query.offset + query.limit], candidates - len(outside)


def booleans(values: list[Any], kind: str) -> list[Any]:
    """Python booleans for a boolean column (SQLite keeps 0/1); other columns unchanged."""
    if kind != "boolean":
        return values
    return [None if v is None else bool(v) for v in values]


def _fetch(
    con: sqlite3.Connection, record: LayerRecord, query: Query, where: str, args: list[Any], tail: str
) -> FeaturePage:
    names = list(query.select) if query.select is not None else [c.name for c in record.columns]
    id_col = record.id_column
    cols = ["t.fid", "NULL" if query.skip_geometry else "t.geom", f't."{id_col}"' if id_col else "t.fid"]
    cols += [f"t.{c}" for c in _quoted(record, names)]
    rows = con.execute(
        f'SELECT {", ".join(cols)} FROM "{record.table}" t WHERE {where} {tail}', args
    ).fetchall()
    kinds = {c.name: c.type for c in record.columns}
    values = [booleans([r[i + 3] for r in rows], kinds[n]) for i, n in enumerate(names)]
    return FeaturePage(
        ids=[r[2] for r in rows],
        wkb=[wkb_of(r[1]) for r in rows],
        properties=[dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
        if names
        else [{} for _ in rows],
        number_matched=None,
    )


def run_query(con: sqlite3.Connection, record: LayerRecord, query: Query) -> FeaturePage:
    """One page of features, and (when asked) how many match in all."""
    try:
        return _run(con, record, query)
    except sqlite3.OperationalError as err:
        if "no such table" not in str(err):
            raise
        # Pruned after the caller read the record (keep_versions = 1): as PostGIS says it.
        raise LayerNotFound(f"{record.layer_id} v{record.version} is no longer kept") from None


def _run(con: sqlite3.Connection, record: LayerRecord, query: Query) -> FeaturePage:
    if query.bbox is not None:
        if query.equals or query.sortby or query.filter is not None:
            ids = _bbox_ids(con, record, query)
            page_ids, matched = ids[query.offset : query.offset + query.limit], len(ids)
        else:
            page_ids, matched = _rtree_page(con, record, query)
        if not page_ids:
            return FeaturePage([], [], [], matched)
        marks = ",".join("?" * len(page_ids))
        # The same ORDER BY as the id list gives the page in the requested order.
        page = _fetch(
            con, record, query, f"t.fid IN ({marks})", page_ids, f"ORDER BY {_order(record, query)}"
        )
        page.number_matched = matched
        return page
    where, args = _where(con, record, query)
    page_args = [query.limit, query.offset]
    page = _fetch(
        con, record, query, where, args + page_args, f"ORDER BY {_order(record, query)} LIMIT ? OFFSET ?"
    )
    if query.with_count:
        if not query.equals and query.filter is None:
            page.number_matched = record.feature_count
        else:
            sql = f'SELECT COUNT(*) FROM "{record.table}" t WHERE {where}'
            page.number_matched = con.execute(sql, args).fetchone()[0]
    return page
