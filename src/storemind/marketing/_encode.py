"""Feature frames to LightGBM matrices (numbers as they are, text as categorical codes), and
the small LightGBM train/predict helpers the marketing models share."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["fit_encoding", "encode", "train_booster", "load_booster"]


def fit_encoding(X: Any) -> tuple[list[str], dict[str, list[str]]]:
    """Column names and, for each text column, its sorted categories."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
    if X.shape[1] == 0:
        raise DataError("features: expected at least one column; got none")
    features = [str(c) for c in X.columns]
    categories = {
        str(c): sorted(str(v) for v in X[c].dropna().unique())
        for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c])
                                   or pd.api.types.is_bool_dtype(X[c]))
    }
    return features, categories


def encode(X: Any, features: list[str], categories: dict[str, list[str]]) -> np.ndarray:
    """The float matrix of ``X`` in the fitted column order (unknown categories -> NaN)."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
    missing = [c for c in features if c not in X.columns]
    if missing:
        raise DataError(f"features lack column(s) {missing}; the model was fitted on {features}")
    cols = []
    for c in features:
        if c in categories:
            codes = pd.Categorical(X[c].astype("object").where(X[c].notna(), None)
                                   .map(lambda v: None if v is None else str(v)),
                                   categories=categories[c]).codes
            cols.append(np.where(codes < 0, np.nan, codes).astype(float))
        else:
            try:
                cols.append(pd.to_numeric(X[c], errors="raise").to_numpy(dtype=float))
            except (TypeError, ValueError) as exc:
                raise DataError(f"feature {c!r} must be numeric like at fit time: {exc}") from None
    return np.column_stack(cols) if cols else np.empty((len(X), 0))


def train_booster(A: np.ndarray, y: np.ndarray, *, objective: str, cat_idx: list[int],
                  n_estimators: int, learning_rate: float, num_leaves: int,
                  min_child_samples: int, seed: int, weight: np.ndarray | None = None,
                  num_threads: int = 1, init_score: np.ndarray | None = None,
                  extra: dict[str, Any] | None = None) -> Any:
    """A LightGBM booster fitted on ``A``, ``y`` (no early stopping: a fixed number of rounds).

    ``extra`` overrides or adds LightGBM parameters (e.g. ``monotone_constraints``);
    ``init_score`` is a per-row starting raw score (not stored in the model).
    """
    import lightgbm as lgb

    params = {"objective": objective, "learning_rate": learning_rate, "num_leaves": num_leaves,
              "min_child_samples": min_child_samples, "feature_fraction": 0.9,
              "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l2": 1.0,
              "cat_smooth": 10.0, "seed": seed, "deterministic": True,
              "num_threads": num_threads, "verbose": -1, **(extra or {})}
    data = lgb.Dataset(A, y, weight=weight, categorical_feature=cat_idx, free_raw_data=True,
                       init_score=init_score)
    return lgb.train(params, data, num_boost_round=int(n_estimators))


def load_booster(text: str) -> Any:
    """A model saved as text: a LightGBM booster, or a linear model (``linear:`` JSON)."""
    from storemind.marketing._linear import PREFIX, LinearModel

    if text.startswith(PREFIX):
        return LinearModel.from_string(text)
    import lightgbm as lgb

    return lgb.Booster(model_str=text)
