"""Bulk-load a SQLite R-tree (the GeoPackage spatial index) in one pass, packed with STR.

Inserting rows one by one into an ``rtree`` virtual table re-balances the tree on every
insert and was the slowest step of a big load (about 10 µs a feature). A layer version is
written once and never updated, so the whole tree can instead be built at commit time:
Sort-Tile-Recursive packing (Leutenegger et al., 1997) into full nodes, written straight into
the virtual table's shadow tables (``_node``, ``_rowid``, ``_parent``) in the format of
SQLite's ``ext/rtree/rtree.c``:

- node blob: 2-byte depth (root only), 2-byte cell count, cells; all big-endian;
- 2-D cell: 8-byte id (a rowid in leaves, a child node number above), then minx, maxx, miny,
  maxy as float32, rounded outwards so every box still encloses its feature;
- node 1 is the root; ``_rowid`` maps each rowid to its leaf, ``_parent`` each node to its
  parent; every node blob has the root's size.

GDAL's GeoPackage driver bulk-loads its R-trees the same way. ``SELECT rtreecheck(...)``
verifies the result (see tests/core/test_gpkg_rtree.py).
"""

import json
import math
import sqlite3

import numpy as np

# A row of a layer's R-tree whose box meets the query box (bound: x0, x1, y0, y1).
OVERLAP = "maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?"

_CELL = np.dtype([("id", ">i8"), ("box", ">f4", (4,))])  # minx, maxx, miny, maxy


def outward_float32(bounds: np.ndarray) -> np.ndarray:
    """(n, 4) minx, miny, maxx, maxy as float32 rounded outwards (as rtree.c stores them)."""
    low = bounds[:, :2].astype(np.float32)
    high = bounds[:, 2:].astype(np.float32)
    low = np.where(low > bounds[:, :2], np.nextafter(low, np.float32(-np.inf)), low)
    high = np.where(high < bounds[:, 2:], np.nextafter(high, np.float32(np.inf)), high)
    return np.concatenate([low, high], axis=1)


def _str_order(boxes: np.ndarray, fanout: int) -> np.ndarray:
    """Sort-Tile-Recursive order: vertical slices by centre x, each sorted by centre y."""
    n = len(boxes)
    slices = max(math.ceil(math.sqrt(math.ceil(n / fanout))), 1)
    cx = boxes[:, 0].astype(np.float64) + boxes[:, 2]
    cy = boxes[:, 1].astype(np.float64) + boxes[:, 3]
    slice_of = np.empty(n, dtype=np.int64)
    slice_of[np.argsort(cx, kind="stable")] = np.arange(n) // (slices * fanout)
    return np.lexsort((cy, slice_of))


def _pack(ids: np.ndarray, boxes: np.ndarray, fanout: int):
    """One level: (entry ids, entry boxes) in node order, node start offsets, node boxes."""
    order = _str_order(boxes, fanout)
    ids, boxes = ids[order], boxes[order]
    starts = np.arange(0, len(ids), fanout)
    node_boxes = np.column_stack(
        [
            np.minimum.reduceat(boxes[:, 0], starts),
            np.minimum.reduceat(boxes[:, 1], starts),
            np.maximum.reduceat(boxes[:, 2], starts),
            np.maximum.reduceat(boxes[:, 3], starts),
        ]
    )
    return ids, boxes, starts, node_boxes


def _levels(fids: np.ndarray, boxes: np.ndarray, fanout: int) -> list[tuple]:
    """Levels from the leaves up to a single root: (entries' ids, boxes, node starts)."""
    levels = []
    ids = fids
    while True:
        ids, entry_boxes, starts, node_boxes = _pack(ids, boxes, fanout)
        levels.append((ids, entry_boxes, starts))
        if len(starts) == 1:
            return levels
        ids = np.arange(len(starts), dtype=np.int64)  # provisional: replaced by node numbers
        boxes = node_boxes


def _blobs(
    ids: np.ndarray, boxes: np.ndarray, starts: np.ndarray, node_size: int, depth: int | None
) -> list[bytes]:
    cells = np.empty(len(ids), dtype=_CELL)
    cells["id"] = ids
    cells["box"] = boxes[:, [0, 2, 1, 3]]  # rtree order: minx, maxx, miny, maxy
    raw = cells.tobytes()
    ends = np.append(starts[1:], len(ids))
    blobs = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        head = (depth or 0).to_bytes(2, "big") + (end - start).to_bytes(2, "big")
        body = raw[start * _CELL.itemsize : end * _CELL.itemsize]
        blobs.append((head + body).ljust(node_size, b"\0"))
    return blobs


def bulk_load(con: sqlite3.Connection, rtree: str, fids: np.ndarray, bounds: np.ndarray) -> None:
    """Fill the empty 2-D ``rtree`` virtual table with ``fids`` and their float32 ``bounds``.

    ``bounds`` is (n, 4) minx, miny, maxx, maxy from ``outward_float32``. Runs inside the
    caller's transaction.
    """
    if not len(fids):
        return  # CREATE VIRTUAL TABLE left an empty root: an empty tree
    root = con.execute(f'SELECT length(data) FROM "{rtree}_node" WHERE nodeno = 1').fetchone()
    node_size = root[0]
    fanout = (node_size - 4) // _CELL.itemsize
    levels = _levels(np.asarray(fids, dtype=np.int64), bounds, fanout)
    # Number nodes from the root (1) down, level by level.
    counts = [len(starts) for _, _, starts in reversed(levels)]
    firsts = np.cumsum([1] + counts[:-1])[::-1]  # first node number of each level, leaves first
    nodes, parents = [], []
    rowids = np.empty(0, dtype=np.int64)
    for level, (ids, boxes, starts) in enumerate(levels):
        numbers = np.arange(firsts[level], firsts[level] + len(starts), dtype=np.int64)
        children = np.diff(np.append(starts, len(ids)))
        if level == 0:
            rowids = ids  # in leaf order: the k-th belongs to leaf firsts[0] + k // fanout
        else:
            ids = firsts[level - 1] + ids  # provisional child index -> child node number
            parents += zip(ids.tolist(), np.repeat(numbers, children).tolist(), strict=True)
        depth = len(levels) - 1 if level == len(levels) - 1 else None
        nodes += zip(numbers.tolist(), _blobs(ids, boxes, starts, node_size, depth), strict=True)
    con.execute(f'DELETE FROM "{rtree}_node"')
    con.executemany(f'INSERT INTO "{rtree}_node" VALUES (?, ?)', nodes)
    # Every node is full except the last, so a row's leaf follows from its position; json_each
    # binds the whole column in one statement, and ORDER BY appends to the rowid B-tree in
    # order (together a third of the time of executemany over tuples in leaf order).
    con.execute(
        f'INSERT INTO "{rtree}_rowid" (rowid, nodeno) SELECT value, ? + key / ?'
        " FROM json_each(?) ORDER BY value",
        (int(firsts[0]), fanout, json.dumps(rowids.tolist())),
    )
    con.executemany(f'INSERT INTO "{rtree}_parent" VALUES (?, ?)', parents)
