"""What happened to one layer in one run, as report.json and report.html show it."""

import time
from dataclasses import dataclass, field
from typing import Any

MAX_EXAMPLES = 20


@dataclass
class LayerReport:
    """Counts, decisions, warnings and timings of one layer in one run.

    Attributes:
        status: ``loaded`` (new current version), ``staged`` (``--dry-run``: a new version
            that is not current), ``skipped`` (unchanged) or ``failed`` (nothing changed).
        read: features read from the sources; always ``loaded + rejected``.
        repaired: loaded features whose geometry was repaired.
        diff: what the new version changes against the previous current one.
        live: what the reload did with the live edits of an editable layer (etl/live.py).
        note: why a layer was skipped, when it is not simply "unchanged".
    """

    layer_id: str
    title: str
    status: str = "pending"
    version: int | None = None
    read: int = 0
    loaded: int = 0
    repaired: int = 0
    rejected: int = 0
    sources: list[dict[str, Any]] = field(default_factory=list)
    transforms: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    reject_examples: list[dict[str, Any]] = field(default_factory=list)
    repaired_examples: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    published: list[dict[str, Any]] = field(default_factory=list)
    diff: dict[str, Any] | None = None
    live: dict[str, Any] | None = None
    note: str | None = None
    error: str | None = None

    def add_time(self, step: str, started: float) -> None:
        """Add the time since ``started`` to a step's total."""
        self.timings[step] = round(self.timings.get(step, 0.0) + time.monotonic() - started, 4)

    def add_examples(self, name: str, items: list[dict[str, Any]]) -> None:
        """Keep the first MAX_EXAMPLES of a kind of example."""
        kept: list = getattr(self, name)
        kept += items[: max(MAX_EXAMPLES - len(kept), 0)]
