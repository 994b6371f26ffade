"""Shared parts of the matrix-factorisation wrappers over ``implicit`` (private)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from storemind.errors import DataError
from storemind.recommend._base import Recommender

__all__ = ["FactorRecommender"]


class FactorRecommender(Recommender):
    """Scores are ``user_factors_ @ item_factors_.T``; fold-in through ``recalculate_user``."""

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        return (self.user_factors_[users] @ self.item_factors_.T).astype(np.float32)

    def _check_row(self, user_items_row: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
        self._check_fitted()
        row = sp.csr_matrix(user_items_row, dtype=np.float32)
        if row.shape[1] != self.n_items_:
            raise DataError(
                f"user_items_row must have {self.n_items_} columns (the fitted items), "
                f"got shape {row.shape}"
            )
        return row

    def score_factors(self, user_factors: np.ndarray) -> np.ndarray:
        """Scores of every item for user factor rows (e.g. from ``recalculate_user``)."""
        self._check_fitted()
        return (np.atleast_2d(user_factors) @ self.item_factors_.T).astype(np.float32)

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items whose factors have the highest cosine with each item's factors."""
        self._check_fitted()
        f = self.item_factors_
        norm = np.linalg.norm(f, axis=1, keepdims=True)
        unit = np.divide(f, norm, out=np.zeros_like(f), where=norm > 0)
        return self._similar_from(_Cosine(unit), items, k)


class _Cosine:
    """Lazy rows of the item x item cosine matrix (never materialised)."""

    def __init__(self, unit: np.ndarray) -> None:
        self.unit = unit

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        return self.unit[rows] @ self.unit.T
