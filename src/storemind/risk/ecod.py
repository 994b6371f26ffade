"""ECOD: unsupervised outlier scores from empirical tail probabilities (Li et al., 2022).

For each feature the fitted sample gives an empirical CDF. A row's left-tail probability on
feature j is the share of training values <= its value, its right-tail probability the share
>= it. The outlier score sums ``-log`` tail probabilities over features, using for each feature
the tail its skewness points to (right for right-skewed features), and keeps the largest of
that sum and the all-left and all-right sums. Missing values contribute nothing. No labels are
needed, so it flags patterns nobody labelled yet.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator
from storemind.errors import DataError

__all__ = ["ECOD"]


class ECOD(Estimator):
    """Empirical-CDF outlier detector.

    Parameters
    ----------
    max_rows : int
        At most this many training rows are kept per feature (an even subsample of the sorted
        values, so tail probabilities stay exact to 1 / max_rows).
    random_state : int, optional
        Unused (ECOD is deterministic); kept for the common estimator interface.
    """

    def __init__(self, max_rows: int = 20_000, random_state: int | None = None):
        self.max_rows = max_rows
        self.random_state = random_state

    def _matrix(self, X: Any, fitting: bool = False) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            if not fitting:
                missing = [c for c in self.features_ if c not in X.columns]
                if missing:
                    raise DataError(f"features lack column(s) {missing}")
                X = X[self.features_]
            try:
                return X.apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
            except (TypeError, ValueError) as exc:
                raise DataError(f"ECOD needs numeric features: {exc}") from None
        try:
            A = np.asarray(X, dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"ECOD needs a numeric matrix; got {type(X).__name__}") from None
        if A.ndim != 2:
            raise DataError(f"ECOD needs a 2-D matrix; got shape {A.shape}")
        if not fitting and A.shape[1] != len(self.features_):
            raise DataError(f"expected {len(self.features_)} columns; got {A.shape[1]}")
        return A

    def fit(self, X: Any) -> ECOD:
        """Learn each feature's empirical distribution from ``X`` (frame or 2-D array)."""
        A = self._matrix(X, fitting=True)
        if A.shape[0] < 2:
            raise DataError(f"ECOD needs at least 2 rows; got {A.shape[0]}")
        self.features_ = ([str(c) for c in X.columns] if isinstance(X, pd.DataFrame)
                          else [f"x{j}" for j in range(A.shape[1])])
        m = int(self.max_rows)
        grid, counts, skew = [], [], []
        for j in range(A.shape[1]):
            col = np.sort(A[:, j][~np.isnan(A[:, j])])
            counts.append(col.size)
            if col.size > m:
                col = col[np.linspace(0, col.size - 1, m).round().astype(int)]
            padded = np.full(m if A.shape[0] > m else A.shape[0], np.nan)
            padded[:col.size] = col
            grid.append(padded)
            sd = col.std() if col.size > 1 else 0.0
            skew.append(float(np.mean((col - col.mean()) ** 3) / sd ** 3) if sd > 0 else 0.0)
        self.sorted_ = np.vstack(grid) if grid else np.empty((0, 0))
        self.sizes_ = np.array([min(c, self.sorted_.shape[1]) for c in counts], dtype=np.int64)
        self.skewness_ = np.array(skew)
        self._cols = None
        return self

    def tail_scores(self, X: Any) -> np.ndarray:
        """Per row and feature, ``-log`` of the tail probability on the skewness side (0 for
        missing values), shape (rows, features)."""
        self._check_fitted()
        left, right = self._tails(self._matrix(X))
        return np.where(self.skewness_[None, :] < 0, left, right)

    def _tails(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if A.shape[0] == 1:
            return self._tails_one(A[0])
        left = np.zeros_like(A)
        right = np.zeros_like(A)
        for j in range(A.shape[1]):
            n = int(self.sizes_[j])
            if n == 0:
                continue
            col = self.sorted_[j, :n]
            x = A[:, j]
            ok = ~np.isnan(x)
            le = np.searchsorted(col, x[ok], side="right")
            ge = n - np.searchsorted(col, x[ok], side="left")
            left[ok, j] = -np.log(np.maximum(le, 1) / n)
            right[ok, j] = -np.log(np.maximum(ge, 1) / n)
        return left, right

    def _tails_one(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same as :meth:`_tails` for one row, with scalar arithmetic (online scoring)."""
        cols = getattr(self, "_cols", None)
        if cols is None:
            cols = self._cols = [np.ascontiguousarray(self.sorted_[j, :int(n)])
                                 for j, n in enumerate(self.sizes_)]
        left = np.zeros((1, x.size))
        right = np.zeros((1, x.size))
        for j, v in enumerate(x.tolist()):
            col = cols[j]
            n = col.size
            if n == 0 or v != v:
                continue
            le = int(col.searchsorted(v, "right"))
            ge = n - int(col.searchsorted(v, "left"))
            left[0, j] = -math.log(max(le, 1) / n)
            right[0, j] = -math.log(max(ge, 1) / n)
        return left, right

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self._cols = None

    def score(self, X: Any) -> np.ndarray:
        """Outlier score of each row (higher = more unusual), 1-D array."""
        self._check_fitted()
        left, right = self._tails(self._matrix(X))
        auto = np.where(self.skewness_[None, :] < 0, left, right)
        return np.maximum.reduce([left.sum(1), right.sum(1), auto.sum(1)])
