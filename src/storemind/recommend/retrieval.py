"""Top-k retrieval by inner product: exact below a catalogue size, a faiss index above it.

Serving asks "the ``k`` items with the highest ``query @ vector``" for a user's (live, folded)
factor vector, or an item's normalised vector for similar items. For small catalogues a NumPy
product and ``argpartition`` is exact and fast; above ``threshold`` items a faiss IVF index with
inner-product metric (``IndexIVFFlat``, ``nlist ~ 4 sqrt(n)`` cells, ``nprobe = nlist / 16``)
answers in a fraction of a millisecond with recall >= 0.99 against the exact top-k (measured at
100k items x 64 dimensions: 0.998 at 0.4 ms per query, tests/test_realtime_retrieval.py).

Excluded items (already seen, filtered out) are handled by asking the index for more than
``k`` and dropping them; when too few are left the exact path answers instead, so a filter never
returns fewer items than exist.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from storemind.errors import DataError

__all__ = ["TopKIndex"]


class TopKIndex:
    """Top-k items by inner product with a query vector.

    Parameters
    ----------
    vectors : float array (n_items, d)
        One vector per item (item factors, or unit vectors for cosine).
    threshold : int
        Catalogues with at least this many items get a faiss index; smaller ones exact search.
    nlist, nprobe : int, optional
        faiss IVF cells and cells visited per query (default ``4 sqrt(n)`` and ``nlist / 16``).
    random_state : int
        Seed of the sample that trains the IVF quantiser.

    Attributes
    ----------
    kind : str
        "exact" or "faiss".
    """

    def __init__(self, vectors: np.ndarray, *, threshold: int = 50_000, nlist: int | None = None,
                 nprobe: int | None = None, random_state: int = 0) -> None:
        v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if v.ndim != 2 or v.shape[0] == 0:
            raise DataError(f"TopKIndex needs a 2-D (n_items, d) array, got shape {v.shape}")
        if not np.isfinite(v).all():
            raise DataError("TopKIndex vectors hold NaN or infinite values")
        self.vectors = v
        self.n_items, self.dim = v.shape
        self.kind = "exact"
        self._index: Any = None
        if self.n_items >= int(threshold):
            self._build_faiss(nlist, nprobe, random_state)

    def _build_faiss(self, nlist: int | None, nprobe: int | None, random_state: int) -> None:
        import faiss

        n = self.n_items
        nlist = int(nlist or max(16, min(65_536, round(4 * math.sqrt(n)))))
        nlist = min(nlist, max(1, n // 39))  # faiss wants >= 39 training points per cell
        quantiser = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantiser, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(random_state)
        sample = self.vectors[rng.choice(n, min(n, nlist * 39), replace=False)]
        index.cp.niter = 10  # coarse cells: a few k-means rounds are enough for recall
        index.train(sample)
        index.add(self.vectors)
        index.nprobe = int(nprobe or max(1, nlist // 16))
        self._quantiser = quantiser  # the IVF index refers to it; keep it alive
        self._index = index
        self.kind = "faiss"

    def exact(self, query: np.ndarray, k: int, exclude: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-``k`` for one query; ``exclude`` is a bool mask (n_items,) or indices."""
        scores = self.vectors @ np.asarray(query, dtype=np.float32).ravel()
        if exclude is not None and len(exclude):
            scores[exclude] = -np.inf
        return _top(scores, k)

    def search(self, query: np.ndarray, k: int, exclude: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores for one query vector, best first.

        Parameters
        ----------
        query : float array (d,)
        k : int
        exclude : bool array (n_items,) or int array of item indices, optional
            Items never returned.

        Returns
        -------
        items : int64 (<= k,), scores : float32 (<= k,)
            Fewer than ``k`` only when fewer items are left after ``exclude``.
        """
        q = np.asarray(query, dtype=np.float32).ravel()
        if q.shape[0] != self.dim:
            raise DataError(f"query has {q.shape[0]} dimensions, the index {self.dim}")
        k = int(k)
        mask = _as_mask(exclude, self.n_items)
        if self._index is None:
            return self.exact(q, k, mask)
        n_excl = 0 if mask is None else int(np.count_nonzero(mask))
        ask = min(self.n_items, k + n_excl + 8)
        if ask > 2048:  # a huge exclusion list: the index would be slower than a scan
            return self.exact(q, k, mask)
        dist, idx = self._index.search(q.reshape(1, -1), ask)
        items, scores = idx[0], dist[0]
        keep = items >= 0
        if mask is not None:
            keep &= ~mask[np.where(items >= 0, items, 0)]
        items, scores = items[keep][:k], scores[keep][:k]
        if len(items) < k and self.n_items - n_excl > len(items):
            return self.exact(q, k, mask)
        return items.astype(np.int64), scores.astype(np.float32)


def _as_mask(exclude: np.ndarray | None, n: int) -> np.ndarray | None:
    if exclude is None:
        return None
    e = np.asarray(exclude)
    if e.dtype == bool:
        if e.shape != (n,):
            raise DataError(f"exclude mask must have shape ({n},), got {e.shape}")
        return e
    mask = np.zeros(n, dtype=bool)
    if len(e):
        e = e.astype(np.int64)
        mask[e[(e >= 0) & (e < n)]] = True
    return mask


def _top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` of a 1-D score vector, -inf dropped, ties by lower index."""
    n = len(scores)
    kk = min(int(k), n)
    if kk <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    part = np.argpartition(-scores, kk - 1)[:kk] if kk < n else np.arange(n)
    vals = scores[part]
    order = np.lexsort((part, -vals))
    part, vals = part[order], vals[order]
    ok = np.isfinite(vals)
    return part[ok].astype(np.int64), vals[ok].astype(np.float32)
