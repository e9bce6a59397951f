"""bench/edits.py works: a tiny run on the GeoPackage store times every case and prints its table
(real servers; the PostGIS side is the same code on another store URL)."""

import pytest

pytestmark = pytest.mark.live  # starts tsukuba-gis serve processes of its own


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("edits")


def test_a_tiny_run_times_every_case_and_prints_its_table(bench, tmp_path):
    # One worker for the visible cases too: a second one only costs start-up time here.
    sizes = bench.Sizes(edits=2, seconds=0.4, clients=2, workers=1)
    table = bench.run(["gpkg"], tmp_path / "edits", sizes)
    head, rule, *lines = table.splitlines()
    assert head.startswith("| store | case | edits | edits/s") and rule.startswith("|---|")
    rows = {cells[1]: cells for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines)}
    assert list(rows) == [
        "PATCH answered (1 worker)",
        "edit → /api item",
        "edit → z14 tile",
        "edit → /point",
        "PATCH (1 worker), 1 client",
        "PATCH (1 worker), 2 clients, own shelters",
        "PATCH (1 worker), 2 clients, one shelter",
        "floor: Store.edit in-process",
    ]
    for cells in rows.values():
        assert cells[0] == "gpkg" and int(cells[2]) > 0, cells  # every case made edits
        assert "not visible" not in cells[8] and "other statuses" not in cells[8], cells
        assert float(cells[4]) > 0, cells  # a p50 in ms
    for name in list(rows)[:4]:  # the visible cases: each of the 2 edits timed
        assert rows[name][2] == "2", rows[name]
    assert int(rows["PATCH (1 worker), 2 clients, one shelter"][7]) > 0  # two clients, one shelter: 412s
    assert rows["PATCH (1 worker), 1 client"][9].endswith("x")  # the floor ratio
