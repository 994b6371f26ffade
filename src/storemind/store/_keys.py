"""A set of the 64-bit hashes of a table's stored keys, so that small appends (the live
``POST /v1/events`` path) know without scanning the table that their keys are new.

Without it, keeping keys unique costs an anti-join against the whole table on every append: at
5M events that is a scan of 5M strings per request. With it the anti-join runs only when a key's
hash is already present (a retried event, or a rare hash collision), which keeps the check
exact. The filter knows the table's row count when it was last brought up to date; a different
count (rows written past it, e.g. by a bulk ingest) makes it rebuild from the table.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KeyFilter"]

_MERGE_AT = 65_536


class KeyFilter:
    """Hashes (DuckDB's ``hash()`` of the key columns) of every row of one table."""

    def __init__(self, hashes: np.ndarray, rows: int, *, is_sorted: bool = False):
        base = np.asarray(hashes, dtype=np.uint64)
        self._base = base if is_sorted else np.sort(base)  # repeats are harmless
        self._recent: set[int] = set()
        self.rows = int(rows)

    def __len__(self) -> int:
        return len(self._base) + len(self._recent)

    def may_contain(self, hashes: np.ndarray) -> np.ndarray:
        """True where a hash may be stored already (exactly: where it was added before)."""
        h = np.asarray(hashes, dtype=np.uint64)
        if len(self._base):
            pos = np.minimum(np.searchsorted(self._base, h), len(self._base) - 1)
            hit = self._base[pos] == h
        else:
            hit = np.zeros(len(h), dtype=bool)
        if self._recent:
            hit |= np.fromiter((int(x) in self._recent for x in h), bool, len(h))
        return hit

    def add(self, hashes: np.ndarray, stored: int) -> None:
        """Record the hashes of a batch just written and the ``stored`` rows it added."""
        self._recent.update(int(x) for x in np.asarray(hashes, dtype=np.uint64))
        self.rows += int(stored)
        if len(self._recent) >= _MERGE_AT:
            new = np.sort(np.fromiter(self._recent, np.uint64, len(self._recent)))
            # a sorted insert: one pass over the base (np.union1d would sort it all again)
            self._base = np.insert(self._base, np.searchsorted(self._base, new), new)
            self._recent.clear()
