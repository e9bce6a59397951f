"""The bulk-loaded R-tree is one SQLite itself accepts, and finds exactly what a scan finds."""

import sqlite3

import numpy as np
import pytest

from tsukuba_gis.store.gpkg_rtree import bulk_load, outward_float32


def _boxes(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(139.9, 140.3, n), rng.uniform(35.9, 36.3, n)
    w, h = rng.uniform(0, 0.002, n), rng.uniform(0, 0.002, n)
    return np.column_stack([x, y, x + w, y + h])


def _hits(boxes: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    b = boxes.astype(np.float64)
    return (b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1)


@pytest.mark.parametrize("n", [0, 1, 51, 52, 2_601, 20_000])
def test_bulk_loaded_tree_is_valid_and_complete(n):
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE r USING rtree(id, minx, maxx, miny, maxy)")
    boxes = _boxes(n)
    fids = np.arange(1, n + 1) * 3  # ids need not be dense
    stored = outward_float32(boxes)
    bulk_load(con, "r", fids, stored)
    assert con.execute("SELECT rtreecheck('r')").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM r").fetchone()[0] == n
    for x0, y0, x1, y1 in ((140.0, 36.0, 140.1, 36.1), (139.0, 35.0, 141.0, 37.0), (0, 0, 1, 1)):
        found = {
            r[0]
            for r in con.execute(
                "SELECT id FROM r WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?", (x0, x1, y0, y1)
            )
        }
        assert found == set(fids[_hits(stored, x0, y0, x1, y1)].tolist())
        # float32 boxes are rounded outwards: never a feature missed, rarely one too many
        assert found >= set(fids[_hits(boxes, x0, y0, x1, y1)].tolist())


def test_float32_boxes_enclose_the_float64_ones():
    boxes = _boxes(10_000)
    stored = outward_float32(boxes).astype(np.float64)
    assert (stored[:, :2] <= boxes[:, :2]).all() and (stored[:, 2:] >= boxes[:, 2:]).all()
    assert np.abs(stored - boxes).max() <= 2.0**-16  # one float32 step at 128-256 degrees


def test_sqlite_keeps_working_with_the_tree_after_more_inserts():
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE r USING rtree(id, minx, maxx, miny, maxy)")
    bulk_load(con, "r", np.arange(1, 5001), outward_float32(_boxes(5000)))
    con.executemany(
        "INSERT INTO r VALUES (?, ?, ?, ?, ?)",
        [(10_000 + i, 140.0, 140.001, 36.0, 36.001) for i in range(200)],
    )
    con.execute("DELETE FROM r WHERE id <= 100")
    assert con.execute("SELECT rtreecheck('r')").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM r").fetchone()[0] == 5100
