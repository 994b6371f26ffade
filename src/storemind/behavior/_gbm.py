"""A LightGBM binary classifier with probabilities calibrated on a held-out validation split
(isotonic or Platt), saved without pickle (LightGBM text model + numpy arrays)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError

__all__ = ["CalibratedGBM", "reliability_table"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class CalibratedGBM(Estimator):
    """LightGBM on a feature frame; calibrated probabilities of the positive class.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    calibration : {"auto", "isotonic", "platt"}
        How raw scores are mapped to probabilities, fitted on the validation split; "auto"
        uses isotonic with at least 1,000 validation rows and Platt below.
    valid_fraction : float
        Share of the rows held out (stratified by label) for early stopping and calibration.
    n_threads : int
        LightGBM threads (1 by default: on a busy machine more threads are often slower).
    random_state : int, optional
    """

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.03,
                 num_leaves: int = 15, min_child_samples: int = 20,
                 calibration: str = "auto", valid_fraction: float = 0.25,
                 n_threads: int = 1, random_state: int | None = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration = calibration
        self.valid_fraction = valid_fraction
        self.n_threads = n_threads
        self.random_state = random_state

    # -- features ------------------------------------------------------------------------
    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise DataError(f"features lack column(s) {missing}; the model was fitted on "
                            f"{self.features_}")
        cols = []
        for c in self.features_:
            if c in self.categories_:
                cats = self.categories_[c]
                codes = pd.Categorical(X[c].astype("object"), categories=cats).codes
                cols.append(np.where(codes < 0, np.nan, codes).astype(float))
            else:
                try:
                    cols.append(pd.to_numeric(X[c], errors="raise").to_numpy(dtype=float))
                except (TypeError, ValueError) as exc:
                    raise DataError(f"feature {c!r} must be numeric: {exc}") from None
        return np.column_stack(cols) if cols else np.empty((len(X), 0))

    def fit(self, X: pd.DataFrame, y: Any) -> CalibratedGBM:
        """Fit on features ``X`` (numeric and text columns; text becomes categorical) and
        binary labels ``y`` (0/1)."""
        import lightgbm as lgb

        if not isinstance(X, pd.DataFrame):
            raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
        yy = np.asarray(y, dtype=float).ravel()
        if yy.size != len(X):
            raise DataError(f"X has {len(X)} rows but y has {yy.size} labels")
        if not np.isin(yy, (0.0, 1.0)).all():
            raise DataError("labels must be 0 or 1")
        if len(np.unique(yy)) < 2:
            raise DataError(f"labels must contain both classes; got only {int(yy[0])}")
        if self.calibration not in ("auto", "isotonic", "platt"):
            raise DataError(f"calibration must be 'isotonic' or 'platt'; got {self.calibration!r}")
        self.features_ = [str(c) for c in X.columns]
        self.categories_ = {
            c: sorted(str(v) for v in X[c].dropna().unique())
            for c in self.features_ if not pd.api.types.is_numeric_dtype(X[c])
        }
        A = self._matrix(X)
        rng = check_random_state(self.random_state)
        valid = np.zeros(len(yy), dtype=bool)
        for cls in (0.0, 1.0):
            idx = np.flatnonzero(yy == cls)
            k = max(1, int(round(self.valid_fraction * idx.size)))
            valid[rng.choice(idx, size=min(k, idx.size - 1) if idx.size > 1 else 0,
                             replace=False)] = True
        seed = int(rng.integers(2**31 - 1))
        params = {"objective": "binary", "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                  "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1,
                  "seed": seed, "deterministic": True, "num_threads": int(self.n_threads),
                  "verbose": -1}
        cat_idx = [i for i, c in enumerate(self.features_) if c in self.categories_]
        train = lgb.Dataset(A[~valid], yy[~valid], categorical_feature=cat_idx,
                            feature_name=self.features_, free_raw_data=False)
        val = lgb.Dataset(A[valid], yy[valid], reference=train, categorical_feature=cat_idx)
        booster = lgb.train(params, train, num_boost_round=int(self.n_estimators),
                            valid_sets=[val],
                            callbacks=[lgb.early_stopping(50, verbose=False)])
        self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
        self.model_text_ = booster.model_to_string(num_iteration=self.best_iteration_)
        self._booster = booster
        raw = booster.predict(A[valid], num_iteration=self.best_iteration_, raw_score=True)
        self._fit_calibration(raw, yy[valid])
        gain = booster.feature_importance("gain", iteration=self.best_iteration_)
        self.importance_ = gain / max(gain.sum(), 1e-12)
        return self

    def _fit_calibration(self, raw: np.ndarray, y: np.ndarray) -> None:
        method = self.calibration
        if method == "auto":
            method = "isotonic" if raw.size >= 1000 else "platt"
        self.calibration_used_ = method
        if method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.005, y_max=0.995)
            iso.fit(raw, y)
            self.calib_x_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.calib_y_ = np.asarray(iso.y_thresholds_, dtype=float)
        else:
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6).fit(raw[:, None], y)
            self.calib_x_ = np.array([float(lr.coef_[0, 0]), float(lr.intercept_[0])])
            self.calib_y_ = np.zeros(0)

    def _get_booster(self) -> Any:
        import lightgbm as lgb

        if getattr(self, "_booster", None) is None:
            self._booster = lgb.Booster(model_str=self.model_text_,
                                        params={"num_threads": int(self.n_threads)})
        return self._booster

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self._booster = None

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """LightGBM's uncalibrated margin (log-odds)."""
        self._check_fitted()
        return self._get_booster().predict(self._matrix(X), raw_score=True)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the positive class, one per row of ``X``."""
        raw = self.raw_score(X)
        if self.calibration_used_ == "isotonic":
            return np.interp(raw, self.calib_x_, self.calib_y_)
        a, b = self.calib_x_
        return _sigmoid(a * raw + b)

    def explain(self, X: pd.DataFrame, top: int = 5) -> list[list[dict[str, Any]]]:
        """Per row, the ``top`` features that push its score most (SHAP values from
        LightGBM's ``pred_contrib``), as dicts of feature, value and contribution (log-odds;
        positive = raises the probability)."""
        self._check_fitted()
        A = self._matrix(X)
        contrib = self._get_booster().predict(A, pred_contrib=True)[:, :-1]
        out = []
        for i in range(len(A)):
            order = np.argsort(-np.abs(contrib[i]))[:top]
            row = []
            for j in order:
                c = self.features_[j]
                v = X[c].iloc[i]
                row.append({"feature": c,
                            "value": None if pd.isna(v) else (v if isinstance(v, str)
                                                              else float(v)),
                            "contribution": float(contrib[i, j])})
            out.append(row)
        return out


def reliability_table(y: Any, p: Any, bins: int = 10) -> pd.DataFrame:
    """Calibration check: rows per probability bin with the mean predicted probability and
    the observed rate (a calibrated model has the two close)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    b = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for k in range(bins):
        m = b == k
        if m.any():
            rows.append({"bin": f"{edges[k]:.1f}-{edges[k + 1]:.1f}", "customers": int(m.sum()),
                         "predicted": float(p[m].mean()), "observed": float(y[m].mean())})
    return pd.DataFrame(rows)
