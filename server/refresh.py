"""A value made from the store and made again when the store registry changes.

The audience snapshots (``server/snapshot.py``) are built from the layer definitions and the
current layer versions. Every ETL run, rollback or activation bumps the registry's change
counter; a server process reads that counter at most once per ``every`` seconds (a database
round trip on PostGIS) and rebuilds what depends on it, so every worker serves a new version
within about a second, with no signal between processes.
"""

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
CHECK_S = 1.0


class Refreshed(Generic[T]):
    """``make(generation)`` kept until ``generation()`` moves.

    Attributes:
        make: builds the value for a generation (from the store as it is now).
        generation: reads the registry change counter.
        every: the longest a value is served without reading the counter, in seconds.
    """

    def __init__(self, make: Callable[[Any], T], generation: Callable[[], Any], every: float = CHECK_S):
        self.make, self.generation, self.every = make, generation, every
        self._lock = threading.Lock()
        self._value: T | None = None
        self._made_for: Any = None
        self._checked_at = 0.0

    @property
    def value(self) -> T | None:
        """The value made last (whatever its age), None before the first ``get``."""
        return self._value

    def fresh(self) -> T | None:
        """The value if the counter was read within ``every`` (no lock, no I/O), else None."""
        if self._value is not None and time.monotonic() - self._checked_at < self.every:
            return self._value
        return None

    def get(self) -> T:
        """The current value; reads the counter (and rebuilds) when ``fresh`` has none."""
        value = self.fresh()
        if value is not None:
            return value
        with self._lock:
            self._checked_at = time.monotonic()
            generation = self.generation()
            if self._value is None or generation != self._made_for:
                self._value = self.make(generation)
                self._made_for = generation
            return self._value
