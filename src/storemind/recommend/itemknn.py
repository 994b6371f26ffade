"""Item-based k nearest neighbours: cosine or BM25-weighted co-occurrence."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from storemind.errors import DataError
from storemind.recommend._base import Recommender
from storemind.recommend._interactions import Interactions
from storemind.recommend._sparse import chunk_rows, top_n_rows

__all__ = ["ItemKNN"]

SIMILARITIES = ("cosine", "bm25")


class ItemKNN(Recommender):
    """Score items by their similarity to the items in a user's history.

    ``similarity_[i, j]`` is the similarity of item ``j`` to item ``i``, kept for the
    ``n_neighbors`` most similar ``j`` of each ``i``; a user's score for ``j`` is
    ``sum_i history[u, i] * similarity_[i, j]``.

    Parameters
    ----------
    n_neighbors : int
        Neighbours kept per item.
    similarity : {"cosine", "bm25"}
        ``"cosine"``: ``x_i . x_j / (|x_i| |x_j| + shrinkage)`` over the user columns.
        ``"bm25"``: the dot product ``w_i . w_j`` of BM25-weighted columns: users with many
        items count less (idf), item columns are length-normalised with ``bm25_b`` and weights
        saturate with ``bm25_k1``. BM25's own length normalisation takes the place of the
        cosine's, as in BM25 retrieval and ``implicit``'s ``BM25Recommender``.
    shrinkage : float
        Cosine only: added to the denominator, pulls similarities backed by few users
        towards 0.
    binary : bool
        Use 1 for every (user, item) pair instead of the summed event weights.
    bm25_k1, bm25_b : float
        BM25 saturation and length normalisation.
    random_state : int, optional
        Unused (the model is deterministic).
    """

    def __init__(
        self,
        n_neighbors: int = 100,
        similarity: str = "cosine",
        shrinkage: float = 10.0,
        binary: bool = True,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        random_state: int | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.similarity = similarity
        self.shrinkage = shrinkage
        self.binary = binary
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.random_state = random_state

    def _fit(self, interactions: Interactions, rng: np.random.Generator) -> None:
        if self.similarity not in SIMILARITIES:
            raise DataError(f"similarity must be one of {SIMILARITIES}, got {self.similarity!r}")
        if int(self.n_neighbors) < 1:
            raise DataError(f"n_neighbors must be >= 1, got {self.n_neighbors!r}")
        x = self._history(self.seen_)
        if self.similarity == "bm25":
            x = bm25_weight(x, self.bm25_k1, self.bm25_b)
            self.similarity_ = item_similarity(x, int(self.n_neighbors), normalize=False)
        else:
            self.similarity_ = item_similarity(x, int(self.n_neighbors), float(self.shrinkage))

    def _history(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        rows = rows.astype(np.float32, copy=True)
        if self.binary:
            rows.data[:] = 1.0
        return rows

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self._history(self.seen_[users]) @ self.similarity_).todense(),
                          dtype=np.float32)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores for live histories (rows of weights over the fitted items), no refit."""
        self._check_fitted()
        return np.asarray((self._history(sp.csr_matrix(history)) @ self.similarity_).todense(),
                          dtype=np.float32)

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest neighbours of each item, most similar first (-1 padded)."""
        self._check_fitted()
        return self._similar_from(self.similarity_, items, k)


def bm25_weight(x: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25-weight a user x item matrix: item columns are documents, users are terms."""
    x = sp.csr_matrix(x, dtype=np.float32, copy=True)
    n_items = x.shape[1]
    items_per_user = np.diff(x.indptr).astype(np.float32)
    idf = np.log(n_items / (1.0 + items_per_user)).clip(min=0.0) + 1e-3
    col_len = np.asarray(x.sum(axis=0), dtype=np.float32).ravel()
    avg = col_len[col_len > 0].mean() if (col_len > 0).any() else 1.0
    norm = k1 * (1.0 - b + b * col_len / avg)
    data = x.data
    x.data = (data * (k1 + 1.0) / (data + norm[x.indices]) *
              np.repeat(idf, np.diff(x.indptr))).astype(np.float32)
    return x


def item_similarity(x: sp.csr_matrix, n_neighbors: int, shrinkage: float = 0.0,
                    normalize: bool = True) -> sp.csr_matrix:
    """Top-``n_neighbors`` similarities between the item columns of ``x``.

    Cosine with ``shrinkage`` added to its denominator when ``normalize``, else the plain dot
    product of the columns.
    """
    xt = sp.csr_matrix(x.T)
    n_items = x.shape[1]
    norms = (np.sqrt(np.asarray(x.multiply(x).sum(axis=0), dtype=np.float64).ravel())
             if normalize else None)
    step = chunk_rows(n_items, n_items)
    blocks = []
    for start in range(0, n_items, step):
        stop = min(n_items, start + step)
        co = np.asarray((xt[start:stop] @ x).todense(), dtype=np.float32)
        if normalize:
            denom = norms[start:stop, None] * norms[None, :] + shrinkage
            sim = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0)
            sim = sim.astype(np.float32)
        else:
            sim = co
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0  # never its own neighbour
        blocks.append(top_n_rows(sim, n_neighbors))
    return sp.vstack(blocks, format="csr", dtype=np.float32)
