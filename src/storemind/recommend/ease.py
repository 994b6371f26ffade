"""EASE: a closed-form item-item linear model (Steck, 2019)."""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from storemind.errors import DataError, TooLargeError
from storemind.recommend._base import Recommender
from storemind.recommend._interactions import Interactions

__all__ = ["EASE"]


class EASE(Recommender):
    """Embarrassingly shallow autoencoder: ``B = argmin |X - XB|^2 + l2 |B|^2, diag(B) = 0``.

    With ``P = (X'X + l2 I)^-1`` the solution is ``B = -P / diag(P)`` (column-wise) with a zero
    diagonal; a user's scores are ``x_u B``. The Gram matrix and its inverse are dense
    ``n_items x n_items`` float32, so memory grows with the square of the catalogue:
    ``max_items`` refuses catalogues above it with a :class:`~storemind.errors.TooLargeError`
    (20,000 items need about 3.2 GB).

    Parameters
    ----------
    l2 : float
        L2 regularisation added to the Gram diagonal (a few hundred for typical data).
    binary : bool
        Use 1 for every (user, item) pair instead of the summed event weights.
    max_items : int
        Largest catalogue accepted.
    random_state : int, optional
        Unused (the model is deterministic).
    """

    def __init__(
        self,
        l2: float = 500.0,
        binary: bool = True,
        max_items: int = 20_000,
        random_state: int | None = None,
    ) -> None:
        self.l2 = l2
        self.binary = binary
        self.max_items = max_items
        self.random_state = random_state

    def _fit(self, interactions: Interactions, rng: np.random.Generator) -> None:
        n = interactions.n_items
        if n > int(self.max_items):
            gb = 2 * n * n * 4 / 1e9
            raise TooLargeError(
                f"EASE needs two dense {n} x {n} float32 matrices (about {gb:.1f} GB) for "
                f"{n} items, above max_items={self.max_items}; raise max_items if the memory is "
                f"there, or use ItemKNN / ALS for large catalogues"
            )
        if not float(self.l2) > 0:
            raise DataError(f"l2 must be > 0, got {self.l2!r}")
        x = self._history(self.seen_)
        gram = np.asarray((x.T @ x).todense(), dtype=np.float32)
        gram[np.diag_indices(n)] += np.float32(self.l2)
        factor = scipy.linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
        p = scipy.linalg.cho_solve(factor, np.eye(n, dtype=np.float32), overwrite_b=True,
                                   check_finite=False).astype(np.float32)
        del factor, gram
        b = p / (-np.diag(p))[None, :]
        b[np.diag_indices(n)] = 0.0
        self.weights_ = b.astype(np.float32)

    def _history(self, rows: sp.csr_matrix) -> sp.csr_matrix:
        rows = rows.astype(np.float32, copy=True)
        if self.binary:
            rows.data[:] = 1.0
        return rows

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self._history(self.seen_[users]) @ self.weights_, dtype=np.float32)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores for live histories (rows of weights over the fitted items), no refit."""
        self._check_fitted()
        return np.asarray(self._history(sp.csr_matrix(history)) @ self.weights_,
                          dtype=np.float32)

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items with the largest weight ``B[i, j]`` from each item ``i`` (itself excluded)."""
        self._check_fitted()
        return self._similar_from(self.weights_, items, k)
