"""Click-through / conversion prediction for recommendation and ad slots, from logged
impressions: smoothed click rates per item, position and item x position (out of fold) as
features and as the starting point, LightGBM on top, probabilities calibrated on held-out
impressions."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError
from storemind.marketing._encode import encode, fit_encoding, load_booster, train_booster
from storemind.marketing._target_encode import apply_target_encoding, fit_target_encoding

__all__ = ["ClickModel"]


class ClickModel(Estimator):
    """Calibrated click (or conversion) probability of an impression.

    1. **What the popularity baselines know, as features.** For each key group in
       ``target_encoding`` (default: the item, the position, and the item x position pair) the
       click rate of the key, shrunk towards the overall rate by ``smoothing`` impressions
       (``(clicks + smoothing * overall) / (impressions + smoothing)``). On the training rows
       it is computed out of fold (``n_encoding_folds`` random folds: a row's own click never
       enters its feature); new rows get the rates of all training rows.
    2. **LightGBM on top**, on those rates plus the impression's features (e.g.
       :func:`storemind.marketing.click_features`: item, slot position, campaign, hour, the
       user's context and past affinity with the item; text columns are categorical). With
       ``offset=True`` the trees start from the log-odds of the finest encoding (the item x
       position rate), so they only learn corrections to it from the context.
    3. **Blend and calibration** on a random ``calibration_fraction`` of the training
       impressions the trees did not see. With the offset, a logistic regression on those rows
       weighs the rate's log-odds against the trees' correction (``blend_``; with few clicks
       the trees mostly fit noise, and the blend learns to trust the rate). Then isotonic
       regression when those rows hold at least 200 clicks and 200 non-clicks, else Platt
       scaling (a logistic curve on the raw score; with few clicks isotonic steps would tie
       most impressions and destroy the ranking). A fitted Platt slope that is not positive
       (held-out rows with no ranking signal) falls back to slope 1 with only the level
       re-fitted, so calibration never reverses the ranking.

    Logged impressions with ``propensity`` may be weighted by ``1 / propensity`` through
    ``sample_weight`` to correct for the logging policy (the rates are weighted too).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    calibration_fraction : float, default 0.2
    random_state : int, optional
    target_encoding : "auto", list of column lists, or None, default "auto"
        The key groups to encode; "auto" = ``item_id``, ``position`` and both, where present;
        None = no encodings (plain LightGBM on the features).
    smoothing : float, default 50.0
        Pseudo-impressions at the overall rate added to every key.
    n_encoding_folds : int, default 5
    offset : bool, default True
        Start the trees from the last encoding's log-odds.
    """

    def __init__(self, n_estimators: int = 150, learning_rate: float = 0.03,
                 num_leaves: int = 7, min_child_samples: int = 500,
                 calibration_fraction: float = 0.2, random_state: int | None = 0,
                 target_encoding: str | Sequence[Sequence[str]] | None = "auto",
                 smoothing: float = 50.0, n_encoding_folds: int = 5, offset: bool = True):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.target_encoding = target_encoding
        self.smoothing = smoothing
        self.n_encoding_folds = n_encoding_folds
        self.offset = offset

    #: Isotonic calibration needs this many clicks (and non-clicks) among the calibration
    #: rows; below, its few steps would tie most impressions, so Platt scaling is used.
    _ISOTONIC_MIN = 200

    def _groups(self, X: pd.DataFrame) -> list[list[str]]:
        te = self.target_encoding
        if te is None:
            return []
        if isinstance(te, str):
            if te != "auto":
                raise DataError(f"target_encoding must be 'auto', None or a list of column "
                                f"lists; got {te!r}")
            cand = [["item_id"], ["position"], ["item_id", "position"]]
            return [g for g in cand if all(c in X.columns for c in g)]
        groups = [[str(c) for c in ([g] if isinstance(g, str) else g)] for g in te]
        missing = sorted({c for g in groups for c in g if c not in X.columns})
        if missing or not groups or any(not g for g in groups):
            raise DataError(f"target_encoding: expected non-empty groups of feature columns "
                            f"{list(X.columns)}; got {te!r}")
        return groups

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
        if w is not None and (w.size != y.size or not np.isfinite(w).all() or (w < 0).any()
                              or w.sum() <= 0):
            raise DataError("sample_weight: expected one finite weight >= 0 per row, not all 0")
        groups = self._groups(X)
        if groups and int(self.n_encoding_folds) < 2:
            raise DataError(f"n_encoding_folds must be at least 2; got {self.n_encoding_folds}")
        A = encode(X, self.features_, self.categories_)
        rng = check_random_state(self.random_state)
        calib = rng.random(y.size) < self.calibration_fraction
        if y[~calib].min() == y[~calib].max() or y[calib].min() == y[calib].max():
            raise DataError("too few clicks to hold some out for calibration")
        self.encoding_tables_: list[dict[str, Any]] = []
        self.encoding_prior_ = float(np.average(y, weights=w))
        if groups:
            folds = rng.permutation(y.size) % int(self.n_encoding_folds)
            oof, self.encoding_tables_, self.encoding_prior_ = fit_target_encoding(
                X, y, groups, float(self.smoothing), folds, weight=w)
            A = np.column_stack([A, oof])
        cat_idx = [i for i, c in enumerate(self.features_) if c in self.categories_]
        init = self._init_score(A)
        booster = train_booster(A[~calib], y[~calib], objective="binary", cat_idx=cat_idx,
                                n_estimators=self.n_estimators,
                                learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                                min_child_samples=self.min_child_samples,
                                seed=int(rng.integers(2**31 - 1)),
                                weight=None if w is None else w[~calib],
                                init_score=None if init is None else init[~calib])
        self.model_text_ = booster.model_to_string()
        self._booster = booster
        raw = booster.predict(A[calib], raw_score=True)
        self.blend_ = np.array([0.0, 1.0])
        if init is not None:
            self.blend_ = self._blend(init[calib], raw, y[calib])
            raw = self.blend_[0] * init[calib] + self.blend_[1] * raw
        self._calibrate(raw, y[calib])
        return self

    @staticmethod
    def _blend(init: np.ndarray, correction: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Weights of the rate's log-odds and the trees' correction, fitted by logistic
        regression on the calibration rows (clipped at 0: neither may reverse the ranking)."""
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1.0).fit(np.column_stack([init, correction]), y)
        w = np.clip(lr.coef_.ravel(), 0.0, None)
        return w if w.sum() > 0 else np.array([1.0, 1.0])

    def _calibrate(self, raw: np.ndarray, y: np.ndarray) -> None:
        if min(y.sum(), (1 - y).sum()) >= self._ISOTONIC_MIN:
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4)
            iso.fit(raw, y)
            self.calib_x_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.calib_y_ = np.asarray(iso.y_thresholds_, dtype=float)
            return
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4).fit(raw[:, None], y)
        a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        if a <= 0:  # no ranking signal in the held-out rows: keep the trees' scale
            from scipy.optimize import brentq

            a = 1.0
            b = float(brentq(lambda c: float(np.mean(1 / (1 + np.exp(-(raw + c)))) - y.mean()),
                             -50.0, 50.0))
        self.calib_x_ = np.array([a, b])
        self.calib_y_ = np.zeros(0)

    def _init_score(self, A: np.ndarray) -> np.ndarray | None:
        """The last encoding (the finest key) as starting log-odds, when ``offset``."""
        if not (self.offset and self.encoding_tables_):
            return None
        p = np.clip(A[:, -1], 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self._booster = None

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated click probability of each impression (1-D array)."""
        self._check_fitted()
        if getattr(self, "_booster", None) is None:
            self._booster = load_booster(self.model_text_)
        A = encode(X, self.features_, self.categories_)
        if self.encoding_tables_:
            A = np.column_stack([A, apply_target_encoding(X, self.encoding_tables_,
                                                          self.encoding_prior_)])
        raw = self._booster.predict(A, raw_score=True)
        init = self._init_score(A)
        if init is not None:
            raw = self.blend_[0] * init + self.blend_[1] * raw
        if self.calib_y_.size:
            return np.interp(raw, self.calib_x_, self.calib_y_)
        a, b = self.calib_x_
        return 1.0 / (1.0 + np.exp(-(a * raw + b)))
