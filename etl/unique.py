"""Duplicate ``id_field`` values across the chunks (and sources) of one layer load.

Ids are kept as 64-bit hashes in sorted numpy arrays, with the source and row of their first
occurrence: about 14 bytes per feature instead of a Python dict entry (~150 bytes), so a
500,000-feature layer costs 7 MB. Two different ids colliding in 64 bits has a probability
of about 1e-8 at that size; the reject reason names both rows, so it could not go unseen.
"""

import numpy as np
import pandas as pd


class IdRegistry:
    """The ids seen so far in a load, with where each was first seen."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)
        self.sources = np.empty(0, dtype=np.int16)
        self.rows = np.empty(0, dtype=np.int64)
        self.labels: list[str] = []

    def _lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each hash: seen in an earlier chunk?, and its position in the sorted arrays."""
        if not len(self.hashes):
            return np.zeros(len(hashes), dtype=bool), np.zeros(len(hashes), dtype=np.intp)
        pos = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return self.hashes[pos] == hashes, pos

    def duplicates(self, values: pd.Series, rows: pd.Series, label: str) -> list[tuple[int, str]]:
        """Register a chunk's ids; return (position in chunk, "first at ...") of repeated ones.

        Missing ids are neither registered nor duplicates (``required`` catches them).
        """
        if label not in self.labels:
            self.labels.append(label)
        source = self.labels.index(label)
        present = values.notna().to_numpy()
        hashes = pd.util.hash_pandas_object(values.astype(str), index=False).to_numpy()
        seen, pos = self._lookup(hashes)
        in_chunk = pd.Series(hashes).duplicated(keep="first").to_numpy()
        new = present & ~seen & ~in_chunk
        rows = rows.to_numpy()
        out = []
        repeated = np.flatnonzero(present & (seen | in_chunk))
        if repeated.size:
            first_here = dict(zip(hashes[new].tolist(), rows[new].tolist(), strict=True))
            for i in repeated:
                if seen[i]:
                    where = f"{self.labels[self.sources[pos[i]]]} row {self.rows[pos[i]]}"
                else:
                    where = f"{label} row {first_here[int(hashes[i])]}"
                out.append((int(i), where))
        self._add(hashes[new], source, rows[new])
        return out

    def _add(self, hashes: np.ndarray, source: int, rows: np.ndarray) -> None:
        merged = np.concatenate([self.hashes, hashes])
        order = np.argsort(merged, kind="stable")
        self.hashes = merged[order]
        self.sources = np.concatenate([self.sources, np.full(len(hashes), source, np.int16)])[order]
        self.rows = np.concatenate([self.rows, rows.astype(np.int64)])[order]
