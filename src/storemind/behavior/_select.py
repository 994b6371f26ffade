"""LightGBM settings for the behaviour models, chosen by temporal validation inside the
training snapshots (never on the test snapshot).

A validation fold is one of the latest training snapshots; its models are fitted on the
snapshots whose label windows end before its cutoff, exactly as the test split is built. Each
setting of a small grid is scored by ROC-AUC averaged over the folds; one LightGBM run per
(num_leaves, min_child_samples) is scored at several numbers of trees.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.evaluation import roc_auc

__all__ = ["select_params", "DEFAULT_GRID", "DEFAULT_PARAMS"]

DEFAULT_GRID = {"num_leaves": (4, 7, 15), "min_child_samples": (40, 100),
                "n_estimators": (100, 200, 400)}
DEFAULT_PARAMS = {"num_leaves": 7, "min_child_samples": 40, "n_estimators": 150,
                  "learning_rate": 0.02}


def select_params(frame: pd.DataFrame, features: list[str], label: str, horizon_days: int, *,
                  grid: dict[str, tuple] | None = None, monotone: dict[str, int] | None = None,
                  n_folds: int = 2, fold_step: int = 2, learning_rate: float = 0.02,
                  min_rows: int = 500, random_state: int = 0) -> dict[str, Any]:
    """Pick ``num_leaves``, ``min_child_samples`` and ``n_estimators`` for LightGBM.

    Parameters
    ----------
    frame : DataFrame
        Labelled training snapshots with a ``cutoff`` column (from
        :func:`storemind.behavior.snapshots`).
    features, label : the columns to fit on and the 0/1 label column.
    horizon_days : int
        The label window; a fold trains on snapshots at least this long before its cutoff.
    grid : dict, optional
        Values to try per setting (default :data:`DEFAULT_GRID`).
    n_folds, fold_step : int
        Validation folds: the latest training snapshot and every ``fold_step``-th one before
        it, ``n_folds`` in all.
    min_rows : int
        Folds whose inner training set has fewer rows (or one class) are skipped.

    Returns
    -------
    dict
        ``params`` (the chosen settings with ``learning_rate``), ``scores`` (a frame: one row
        per setting with the mean and per-fold ROC-AUC, best first), ``folds`` (validation
        cutoffs). Without any usable fold, ``params`` are :data:`DEFAULT_PARAMS` and
        ``scores`` is empty.
    """
    import lightgbm as lgb

    if "cutoff" not in frame.columns or label not in frame.columns:
        raise DataError(f"frame needs a 'cutoff' and a {label!r} column; it has "
                        f"{list(frame.columns)[:8]}...")
    grid = {**DEFAULT_GRID, **(grid or {})}
    cuts = sorted(pd.unique(frame["cutoff"]), reverse=True)
    folds = cuts[::fold_step][:n_folds]
    h = pd.Timedelta(days=horizon_days)
    cat = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    X = frame[features].copy()
    for c in cat:
        X[c] = X[c].astype("category")
    y = frame[label].to_numpy(dtype=float)
    cut = pd.to_datetime(frame["cutoff"]).to_numpy()
    rows: dict[tuple, list[float]] = {}
    used = []
    for v in folds:
        tr = cut + h <= np.datetime64(v)
        va = cut == np.datetime64(v)
        if tr.sum() < min_rows or len(np.unique(y[tr])) < 2 or len(np.unique(y[va])) < 2:
            continue
        used.append(pd.Timestamp(v))
        for nl in grid["num_leaves"]:
            for mcs in grid["min_child_samples"]:
                p = {"objective": "binary", "learning_rate": learning_rate, "num_leaves": nl,
                     "min_child_samples": mcs, "feature_fraction": 0.9,
                     "bagging_fraction": 0.9, "bagging_freq": 1, "seed": random_state,
                     "deterministic": True, "num_threads": 1, "verbose": -1}
                if monotone:
                    p["monotone_constraints"] = [int(monotone.get(c, 0)) for c in features]
                b = lgb.train(p, lgb.Dataset(X[tr], y[tr], categorical_feature=cat or "auto"),
                              num_boost_round=max(grid["n_estimators"]))
                for n in grid["n_estimators"]:
                    rows.setdefault((nl, mcs, n), []).append(
                        roc_auc(y[va], b.predict(X[va], num_iteration=n)))
    if not rows:
        return {"params": dict(DEFAULT_PARAMS), "scores": pd.DataFrame(), "folds": []}
    scores = pd.DataFrame([{"num_leaves": k[0], "min_child_samples": k[1],
                            "n_estimators": k[2], "roc_auc": float(np.mean(v)),
                            **{f"fold_{i}": a for i, a in enumerate(v)}}
                           for k, v in rows.items()])
    scores = scores.sort_values("roc_auc", ascending=False, kind="stable").reset_index(drop=True)
    best = scores.iloc[0]
    params = {"num_leaves": int(best.num_leaves), "min_child_samples":
              int(best.min_child_samples), "n_estimators": int(best.n_estimators),
              "learning_rate": learning_rate}
    return {"params": params, "scores": scores, "folds": used}
