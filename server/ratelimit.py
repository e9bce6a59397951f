"""Sliding-window counters: how often one key (an e-mail address, a client address) asked.

Kept in the server process: with several processes each counts its own share, so the limit
is per process; enough to keep one client from turning the server into a mail cannon or
reading a report's status link in a loop (subscriptions, residents' reports).
"""

import math
import threading
import time
from collections import deque


class RateLimit:
    """At most ``limit`` hits per key within ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float, max_keys: int = 100_000):
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> int:
        """Count a hit; 0 if allowed, else the seconds until the next one would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window_s - now))
            hits.append(now)
            if len(self._hits) > self.max_keys:  # forget the quiet keys, not the counting
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window_s}
            return 0
