"""A LightGBM binary classifier with calibrated probabilities, saved without pickle (LightGBM
text model + numpy arrays).

Two ways to calibrate: on a random, stratified validation split of the rows (isotonic or Platt;
early stopping on the same split), or, for rows stacked from snapshots taken at several cutoffs,
out of time on the latest snapshot (``calibration="latest"``): the trees are fitted on the
earlier snapshots and Platt scaling, fitted on the latest snapshot, maps their scores to
probabilities, so they follow the most recent base rate the data shows. (Refitting the trees on
every row afterwards would shift the base rate twice: the refit trees already lean toward the
latest rate.)
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError

__all__ = ["CalibratedGBM", "reliability_table", "expected_calibration_error"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class CalibratedGBM(Estimator):
    """LightGBM on a feature frame; calibrated probabilities of the positive class.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings. With
        ``calibration="latest"`` there is no early stopping: ``n_estimators`` trees are grown
        (choose the settings by temporal validation, :func:`storemind.behavior.select_params`).
    calibration : {"auto", "isotonic", "platt", "latest"}
        How raw scores are mapped to probabilities. "isotonic" and "platt" are fitted on a
        random validation split; "auto" uses isotonic with at least 1,000 validation rows and
        Platt below. "latest" needs ``fit(..., cutoff=...)``, fits the trees on the earlier
        snapshots and calibrates them out of time on the latest one (see the module notes); it
        falls back to "auto" when the earlier snapshots are too few (under 50 rows or one
        class).
    horizon_days : int, optional
        Label window of the snapshots, for ``calibration="latest"``: the trees then only see
        snapshots whose cutoff is at least this many days before the latest (no label
        overlaps the latest snapshot's). None (default): every earlier snapshot.
    monotone : dict, optional
        Feature name -> +1 (score may only rise with it), -1 (only fall) or 0.
    valid_fraction : float
        Share of the rows held out (stratified by label) for early stopping and calibration
        (random-split calibration only).
    n_threads : int
        LightGBM threads (1 by default: on a busy machine more threads are often slower).
    random_state : int, optional
    """

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.03,
                 num_leaves: int = 15, min_child_samples: int = 20,
                 calibration: str = "auto", horizon_days: int | None = None,
                 monotone: dict[str, int] | None = None, valid_fraction: float = 0.25,
                 n_threads: int = 1, random_state: int | None = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration = calibration
        self.horizon_days = horizon_days
        self.monotone = monotone
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

    def fit(self, X: pd.DataFrame, y: Any, cutoff: Any = None) -> CalibratedGBM:
        """Fit on features ``X`` (numeric and text columns; text becomes categorical) and
        binary labels ``y`` (0/1). ``cutoff`` (one timestamp per row: the row's snapshot) is
        needed by ``calibration="latest"`` and ignored otherwise."""
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
        yy = np.asarray(y, dtype=float).ravel()
        if yy.size != len(X):
            raise DataError(f"X has {len(X)} rows but y has {yy.size} labels")
        if not np.isin(yy, (0.0, 1.0)).all():
            raise DataError("labels must be 0 or 1")
        if len(np.unique(yy)) < 2:
            raise DataError(f"labels must contain both classes; got only {int(yy[0])}")
        if self.calibration not in ("auto", "isotonic", "platt", "latest"):
            raise DataError("calibration must be 'auto', 'isotonic', 'platt' or 'latest'; got "
                            f"{self.calibration!r}")
        self.features_ = [str(c) for c in X.columns]
        unknown = sorted(set(self.monotone or {}) - set(self.features_))
        if unknown:
            raise DataError(f"monotone names feature(s) {unknown} that X lacks")
        self.categories_ = {
            c: sorted(str(v) for v in X[c].dropna().unique())
            for c in self.features_ if not pd.api.types.is_numeric_dtype(X[c])
        }
        A = self._matrix(X)
        rng = check_random_state(self.random_state)
        split = self._latest_split(cutoff, yy) if self.calibration == "latest" else None
        if split is None:
            self._fit_random_split(A, yy, rng)
        else:
            self._fit_latest(A, yy, rng, *split)
        gain = self._booster.feature_importance("gain", iteration=self.best_iteration_)
        self.importance_ = gain / max(gain.sum(), 1e-12)
        return self

    def _params(self, seed: int) -> dict[str, Any]:
        p = {"objective": "binary", "learning_rate": self.learning_rate,
             "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
             "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1,
             "seed": seed, "deterministic": True, "num_threads": int(self.n_threads),
             "verbose": -1}
        if self.monotone:
            p["monotone_constraints"] = [int(self.monotone.get(c, 0)) for c in self.features_]
        return p

    def _dataset(self, A: np.ndarray, y: np.ndarray, reference: Any = None) -> Any:
        import lightgbm as lgb

        cat_idx = [i for i, c in enumerate(self.features_) if c in self.categories_]
        return lgb.Dataset(A, y, categorical_feature=cat_idx, feature_name=self.features_,
                           reference=reference, free_raw_data=False)

    def _fit_random_split(self, A: np.ndarray, yy: np.ndarray, rng: np.random.Generator
                          ) -> None:
        import lightgbm as lgb

        valid = np.zeros(len(yy), dtype=bool)
        for cls in (0.0, 1.0):
            idx = np.flatnonzero(yy == cls)
            k = max(1, int(round(self.valid_fraction * idx.size)))
            valid[rng.choice(idx, size=min(k, idx.size - 1) if idx.size > 1 else 0,
                             replace=False)] = True
        params = self._params(int(rng.integers(2**31 - 1)))
        train = self._dataset(A[~valid], yy[~valid])
        val = self._dataset(A[valid], yy[valid], reference=train)
        booster = lgb.train(params, train, num_boost_round=int(self.n_estimators),
                            valid_sets=[val],
                            callbacks=[lgb.early_stopping(50, verbose=False)])
        self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
        self.model_text_ = booster.model_to_string(num_iteration=self.best_iteration_)
        self._booster = booster
        raw = booster.predict(A[valid], num_iteration=self.best_iteration_, raw_score=True)
        method = self.calibration if self.calibration in ("isotonic", "platt") else "auto"
        self._fit_calibration(raw, yy[valid], method)

    def _latest_split(self, cutoff: Any, yy: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows of the earlier snapshots, rows of the latest) or None to fall back."""
        if cutoff is None:
            raise DataError("calibration='latest' needs fit(X, y, cutoff=...): the snapshot "
                            "cutoff of each row")
        cut = pd.to_datetime(pd.Series(np.asarray(cutoff).ravel()))
        if len(cut) != len(yy) or cut.isna().any():
            raise DataError(f"cutoff must give a timestamp for each of the {len(yy)} rows; got "
                            f"{len(cut)} values ({int(cut.isna().sum())} missing)")
        last = cut.max()
        gap = pd.Timedelta(days=self.horizon_days) if self.horizon_days else pd.Timedelta(0)
        early = ((cut + gap <= last) & (cut < last)).to_numpy()
        late = (cut == last).to_numpy()
        ok = (early.sum() >= 50 and len(np.unique(yy[early])) == 2
              and len(np.unique(yy[late])) == 2)
        return (early, late) if ok else None

    def _fit_latest(self, A: np.ndarray, yy: np.ndarray, rng: np.random.Generator,
                    early: np.ndarray, late: np.ndarray) -> None:
        import lightgbm as lgb

        params = self._params(int(rng.integers(2**31 - 1)))
        n = int(self.n_estimators)
        booster = lgb.train(params, self._dataset(A[early], yy[early]), num_boost_round=n)
        self._fit_calibration(booster.predict(A[late], raw_score=True), yy[late], "platt")
        self.best_iteration_ = n
        self.model_text_ = booster.model_to_string()
        self._booster = booster

    def _fit_calibration(self, raw: np.ndarray, y: np.ndarray, method: str) -> None:
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


def expected_calibration_error(y: Any, p: Any, bins: int = 10) -> float:
    """Mean absolute gap between predicted and observed rate over the equal-width probability
    bins of :func:`reliability_table`, weighted by the rows in each bin (0 = calibrated)."""
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.size != p.size or y.size == 0:
        raise DataError(f"y and p must be non-empty and of one length; got {y.size}, {p.size}")
    t = reliability_table(y, p, bins)
    return float(np.sum(t.customers * (t.predicted - t.observed).abs()) / y.size)
