"""Regularised linear base models for the uplift learners (the alternative to LightGBM).

A :class:`LinearModel` works on the same float matrix as the LightGBM boosters (numbers as
they are, text as category codes, unknown -> NaN): numeric columns are mean-imputed and
standardised, categorical columns one-hot encoded, and optionally every column is interacted
with one categorical column (the arm, for the S-learner). Binary outcomes get an L2 logistic
regression, others a ridge regression. The fitted model is plain JSON (``model_to_string``),
so it is saved like a LightGBM text model, without pickle.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["LinearModel", "PREFIX"]

#: Marks a saved linear model among the LightGBM text models.
PREFIX = "linear:"


class LinearModel:
    """A fitted linear model on the marketing models' encoded matrix.

    Build it with :meth:`fit`; ``predict`` gives probabilities for ``objective="binary"`` and
    values otherwise, as a LightGBM booster's ``predict`` does.
    """

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec

    # -- design matrix -------------------------------------------------------------------
    @staticmethod
    def _layout(A: np.ndarray, cat_idx: list[int], interact: int | None) -> dict[str, Any]:
        num = [j for j in range(A.shape[1]) if j not in cat_idx and j != interact]
        cols = A[:, num]
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(cols, axis=0) if len(cols) else np.zeros(len(num))
        mean = np.where(np.isfinite(mean), mean, 0.0)
        filled = np.where(np.isnan(cols), mean, cols)
        scale = filled.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        levels = {}
        for j in cat_idx:
            if j == interact:
                continue
            codes = A[:, j][np.isfinite(A[:, j])]
            levels[str(j)] = int(codes.max()) + 1 if codes.size else 0
        arm_levels = 0
        if interact is not None:
            codes = A[:, interact][np.isfinite(A[:, interact])]
            arm_levels = int(codes.max()) + 1 if codes.size else 0
        return {"num": num, "mean": mean.tolist(), "scale": scale.tolist(), "cat": levels,
                "interact": interact, "arm_levels": arm_levels}

    @staticmethod
    def _design(A: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
        num = spec["num"]
        cols = A[:, num] if num else np.empty((len(A), 0))
        mean, scale = np.asarray(spec["mean"]), np.asarray(spec["scale"])
        parts = [(np.where(np.isnan(cols), mean, cols) - mean) / scale]
        for j, n_levels in spec["cat"].items():
            codes = A[:, int(j)]
            onehot = np.zeros((len(A), n_levels))
            ok = np.isfinite(codes) & (codes >= 0) & (codes < n_levels)
            onehot[np.flatnonzero(ok), codes[ok].astype(int)] = 1.0
            parts.append(onehot)
        Z = np.column_stack(parts) if parts else np.empty((len(A), 0))
        if spec["interact"] is None:
            return Z
        arm = A[:, spec["interact"]]
        dummies = [(arm == k).astype(float) for k in range(1, spec["arm_levels"])]
        return np.column_stack([Z, *[d[:, None] for d in dummies],
                                *[Z * d[:, None] for d in dummies]])

    # -- fit / predict -------------------------------------------------------------------
    @classmethod
    def fit(cls, A: np.ndarray, y: np.ndarray, *, objective: str, cat_idx: list[int],
            C: float, weight: np.ndarray | None = None,
            interact: int | None = None) -> LinearModel:
        """Fit an L2-regularised logistic (``objective="binary"``) or ridge regression.

        ``C`` is the inverse regularisation strength on standardised columns (as in
        scikit-learn: the penalty ``||w||^2 / (2 C)`` against the summed loss); the ridge
        penalty is ``||w||^2 / C``.
        """
        spec = cls._layout(A, cat_idx, interact)
        Z = cls._design(A, spec)
        if objective == "binary":
            from sklearn.linear_model import LogisticRegression

            if np.unique(y).size < 2:  # a constant outcome: the intercept alone
                p = float(np.clip(np.mean(y), 1e-6, 1 - 1e-6))
                coef, intercept = np.zeros(Z.shape[1]), float(np.log(p / (1 - p)))
            else:
                # exact Newton steps for the usual few dozen columns; L-BFGS for wide designs
                solver = "newton-cholesky" if Z.shape[1] <= 300 else "lbfgs"
                lr = LogisticRegression(C=float(C), solver=solver, max_iter=1000)
                lr.fit(Z, y, sample_weight=weight)
                coef, intercept = lr.coef_.ravel(), float(lr.intercept_[0])
        else:
            from sklearn.linear_model import Ridge

            rr = Ridge(alpha=1.0 / float(C)).fit(Z, y, sample_weight=weight)
            coef, intercept = np.asarray(rr.coef_, dtype=float).ravel(), float(rr.intercept_)
        spec |= {"objective": objective, "coef": coef.tolist(), "intercept": intercept}
        return cls(spec)

    def predict(self, A: np.ndarray) -> np.ndarray:
        z = self._design(A, self.spec) @ np.asarray(self.spec["coef"]) + self.spec["intercept"]
        if self.spec["objective"] == "binary":
            return 1.0 / (1.0 + np.exp(-z))
        return z

    def model_to_string(self) -> str:
        return PREFIX + json.dumps(self.spec)

    @classmethod
    def from_string(cls, text: str) -> LinearModel:
        return cls(json.loads(text[len(PREFIX):]))
