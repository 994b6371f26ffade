"""Held-out evaluation of uplift models: folds stratified by arm, and per treatment the Qini
coefficient, AUUC and uplift@k of :mod:`storemind.evaluation` on that treatment's rows and the
control's."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.evaluation import auuc, qini_coefficient, uplift_at_k

__all__ = ["uplift_folds", "uplift_metrics", "cross_validate_uplift"]


def uplift_folds(treatment: Any, n_folds: int = 5, random_state: int | None = 0) -> np.ndarray:
    """A fold number (0..n_folds-1) per row, stratified by arm (each arm spread evenly)."""
    arms = pd.Series(np.asarray(treatment, dtype=object).ravel()).astype(str)
    if n_folds < 2:
        raise DataError(f"n_folds must be at least 2; got {n_folds}")
    rng = np.random.default_rng(random_state)
    fold = np.empty(len(arms), dtype=np.int64)
    for arm in sorted(arms.unique()):
        idx = np.flatnonzero(arms.to_numpy() == arm)
        fold[rng.permutation(idx)] = np.arange(idx.size) % n_folds
    return fold


def uplift_metrics(y: Any, treatment: Any, uplift: np.ndarray, treatments: list[str],
                   control: str, k: float = 0.3) -> dict[str, dict[str, float]]:
    """Per treatment arm: ``qini``, ``auuc`` and ``uplift_at_k`` of column j of ``uplift``
    scored on the rows of that arm and the control (see docs/evaluation.md)."""
    arms = np.asarray(treatment, dtype=object).astype(str)
    yy = np.asarray(y, dtype=float)
    u = np.asarray(uplift, dtype=float).reshape(len(yy), -1)
    if u.shape[1] != len(treatments):
        raise DataError(f"uplift has {u.shape[1]} columns but {len(treatments)} treatments")
    out = {}
    for j, arm in enumerate(treatments):
        rows = (arms == arm) | (arms == control)
        t = (arms[rows] == arm).astype(int)
        out[arm] = {"qini": qini_coefficient(yy[rows], t, u[rows, j]),
                    "auuc": auuc(yy[rows], t, u[rows, j]),
                    "uplift_at_k": uplift_at_k(yy[rows], t, u[rows, j], k=k)}
    return out


def cross_validate_uplift(make_model: Callable[[], Any], X: pd.DataFrame, treatment: Any,
                          y: Any, folds: np.ndarray, k: float = 0.3) -> pd.DataFrame:
    """Fit ``make_model()`` on all folds but one and score the held-out fold, for each fold.

    Returns
    -------
    DataFrame
        One row per (fold, treatment): ``qini``, ``auuc``, ``uplift_at_k``, ``fit_seconds``.
    """
    arms = np.asarray(treatment, dtype=object).astype(str)
    yy = np.asarray(y, dtype=float)
    rows = []
    for f in np.unique(folds):
        test = folds == f
        model = make_model()
        t0 = time.perf_counter()
        model.fit(X[~test], arms[~test], yy[~test])
        seconds = time.perf_counter() - t0
        u = model.predict_uplift(X[test])
        m = uplift_metrics(yy[test], arms[test], u, model.treatments_, model.arms_[0], k=k)
        for arm, vals in m.items():
            rows.append({"fold": int(f), "treatment": arm, **vals, "fit_seconds": seconds})
    return pd.DataFrame(rows)
