"""Click-through / conversion prediction for recommendation and ad slots, from logged
impressions: LightGBM with probabilities calibrated on held-out impressions."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError
from storemind.marketing._encode import encode, fit_encoding, load_booster, train_booster

__all__ = ["ClickModel"]


class ClickModel(Estimator):
    """Calibrated click (or conversion) probability of an impression.

    LightGBM on the impression's features (e.g. :func:`storemind.marketing.click_features`:
    item, slot position, campaign, hour, the user's context and past affinity with the item);
    text columns are categorical. The raw scores are mapped to probabilities by isotonic
    regression fitted on a random ``calibration_fraction`` of the training impressions that
    the trees did not see (Platt scaling below 1,000 such rows). Logged impressions with
    ``propensity`` may be weighted by ``1 / propensity`` through ``sample_weight`` to correct
    for the logging policy.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    calibration_fraction : float, default 0.2
    random_state : int, optional
    """

    def __init__(self, n_estimators: int = 150, learning_rate: float = 0.03,
                 num_leaves: int = 7, min_child_samples: int = 500,
                 calibration_fraction: float = 0.2, random_state: int | None = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, clicked: Any, sample_weight: Any = None) -> ClickModel:
        """Fit on impression features ``X`` and 0/1 outcomes ``clicked``; returns self."""
        self.features_, self.categories_ = fit_encoding(X)
        y = np.asarray(clicked, dtype=float).ravel()
        if y.size != len(X):
            raise DataError(f"clicked has {y.size} values but X has {len(X)} rows")
        if not np.isin(y, (0.0, 1.0)).all():
            raise DataError("clicked: expected 0/1 outcomes; got other values")
        if y.min() == y.max():
            raise DataError(f"clicked: expected both clicks and non-clicks; got only {y[0]:g}")
        if not 0 < self.calibration_fraction < 1:
            raise DataError(f"calibration_fraction must be in (0, 1); got "
                            f"{self.calibration_fraction}")
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float).ravel()
        if w is not None and (w.size != y.size or not np.isfinite(w).all() or (w < 0).any()):
            raise DataError("sample_weight: expected one finite weight >= 0 per row")
        A = encode(X, self.features_, self.categories_)
        rng = check_random_state(self.random_state)
        calib = rng.random(y.size) < self.calibration_fraction
        if y[~calib].min() == y[~calib].max() or y[calib].min() == y[calib].max():
            raise DataError("too few clicks to hold some out for calibration")
        cat_idx = [i for i, c in enumerate(self.features_) if c in self.categories_]
        booster = train_booster(A[~calib], y[~calib], objective="binary", cat_idx=cat_idx,
                                n_estimators=self.n_estimators,
                                learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                                min_child_samples=self.min_child_samples,
                                seed=int(rng.integers(2**31 - 1)),
                                weight=None if w is None else w[~calib])
        self.model_text_ = booster.model_to_string()
        self._booster = booster
        raw = booster.predict(A[calib], raw_score=True)
        if calib.sum() >= 1000:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4)
            iso.fit(raw, y[calib])
            self.calib_x_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.calib_y_ = np.asarray(iso.y_thresholds_, dtype=float)
        else:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e4).fit(raw[:, None], y[calib])
            self.calib_x_ = np.array([float(lr.coef_[0, 0]), float(lr.intercept_[0])])
            self.calib_y_ = np.zeros(0)
        return self

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self._booster = None

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated click probability of each impression (1-D array)."""
        self._check_fitted()
        if getattr(self, "_booster", None) is None:
            self._booster = load_booster(self.model_text_)
        raw = self._booster.predict(encode(X, self.features_, self.categories_), raw_score=True)
        if self.calib_y_.size:
            return np.interp(raw, self.calib_x_, self.calib_y_)
        a, b = self.calib_x_
        return 1.0 / (1.0 + np.exp(-(a * raw + b)))
