"""The serving bench's table: medians per server, the ratio to the best peer, the floor."""

import statistics
from dataclasses import dataclass, field

OURS = ("ours-gpkg", "ours-postgis")
PEERS = ("tipg", "pygeoapi", "mapserver-gpkg", "mapserver-postgis", "qgis-gpkg", "qgis-postgis")
FLOORS = ("floor-gpkg", "floor-postgis")


@dataclass
class Cell:
    """The medians of one server on one row."""

    rps: float
    p50_ms: float
    p95_ms: float
    cpu_ms: float | None = None  # CPU per request (server, and PostgreSQL for PostGIS)
    bad: int = 0
    load1: float = 0.0
    other_cores: float = 0.0
    note: str = ""  # instead of a figure (e.g. "fails")
    flag: str = ""  # after the figure (e.g. answers that differed from ours)


@dataclass
class Row:
    """One scenario: a cell per server that answered it."""

    name: str
    cells: dict[str, Cell] = field(default_factory=dict)
    unit: str = "req/s"


def median_cell(samples: list, cpu_per: bool = True) -> Cell:
    """Medians over runs (``samples``: load.Sample)."""
    med = statistics.median
    return Cell(
        rps=med(s.rps for s in samples),
        p50_ms=med(s.p50_ms for s in samples),
        p95_ms=med(s.p95_ms for s in samples),
        cpu_ms=med(1000 * s.cpu_s / max(s.requests, 1) for s in samples) if cpu_per else None,
        bad=sum(s.bad for s in samples),
        load1=max(s.load1 for s in samples),
        other_cores=max(s.other_cores for s in samples),
    )


def _fmt(cell: Cell | None, unit: str) -> str:
    if cell is None:
        return "-"
    if cell.note:
        return cell.note
    if unit == "s":
        return f"{cell.rps:.2f} s"
    bad = f" ({cell.bad} bad)" if cell.bad else ""
    flag = f" [{cell.flag}]" if cell.flag else ""
    return f"{cell.rps:,.0f} ({_ms(cell.p50_ms)}/{_ms(cell.p95_ms)} ms){bad}{flag}"


def _ms(value: float) -> str:
    # Two decimals below a millisecond: the in-process floor of one feature is ~0.04 ms.
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def _ratio(row: Row, ours: str) -> str:
    mine = row.cells.get(ours)
    peers = [row.cells[p] for p in PEERS if p in row.cells and not row.cells[p].note]
    if mine is None or mine.note or not peers:
        return "-"
    if row.unit == "s":  # time to completion: lower is better
        return f"{min(p.rps for p in peers) / mine.rps:.1f}x"
    return f"{mine.rps / max(p.rps for p in peers):.1f}x"


def _overhead(row: Row, ours: str, floor: str) -> str:
    mine, base = row.cells.get(ours), row.cells.get(floor)
    if mine is None or base is None or mine.note:
        return "-"
    return f"{base.rps / mine.rps:.2f}x"


def table(rows: list[Row]) -> str:
    """A Markdown table: req/s (p50/p95 ms) per server, ratios, floor, CPU and load."""
    head = [
        "scenario",
        *OURS,
        *PEERS,
        *FLOORS,
        "gpkg/best peer",
        "postgis/best peer",
        "floor/gpkg",
        "floor/postgis",
        "CPU ms/req gpkg, postgis",
        "load1 (other cores)",
    ]
    body = []
    for row in rows:
        cpu = ", ".join(
            f"{row.cells[k].cpu_ms:.1f}" if k in row.cells and row.cells[k].cpu_ms is not None else "-"
            for k in OURS
        )
        loads = [c for c in row.cells.values() if not c.note]
        load = (
            f"{max(c.load1 for c in loads):.2f} ({max(c.other_cores for c in loads):.2f})" if loads else "-"
        )
        cols = [
            row.name,
            *(_fmt(row.cells.get(k), row.unit) for k in (*OURS, *PEERS, *FLOORS)),
            _ratio(row, OURS[0]),
            _ratio(row, OURS[1]),
            _overhead(row, OURS[0], FLOORS[0]),
            _overhead(row, OURS[1], FLOORS[1]),
            cpu,
            load,
        ]
        body.append(cols)
    return markdown(head, body)


def markdown(head: list[str], rows: list[list[str]]) -> str:
    """A plain Markdown table (for the benches whose rows are not servers)."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])
