"""LightGBM fraud classifier: class-imbalance weighting, a forest of extremely randomised trees
stacked with the boosted ones, calibrated probabilities and per-payment SHAP reasons
(LightGBM's ``pred_contrib``); saved as a LightGBM text model plus the forest's arrays."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError
from storemind.risk.forest import FOREST_KEYS, fit_forest, forest_proba

__all__ = ["FraudGBM"]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


class FraudGBM(Estimator):
    """Gradient-boosted fraud classifier on a feature frame.

    Parameters
    ----------
    n_estimators : int
        Most boosting rounds. With ``cv_folds`` the number is chosen on a grid of 20 steps up
        to it by out-of-fold average precision; otherwise early stopping on the validation
        split picks fewer.
    learning_rate, num_leaves, min_child_samples, colsample : LightGBM settings.
    pos_weight : float or "balanced" or "sqrt" or "auto"
        Weight of a fraud row against a legitimate one: ``"balanced"`` = negatives/positives,
        ``"sqrt"`` its square root; ``"auto"`` (with ``cv_folds``) tries 1 and the square root
        and keeps the one with the better out-of-fold average precision. Calibration
        afterwards restores true probabilities.
    valid_fraction : float
        With ``cv_folds`` <= 1: the share of rows (stratified) held out for early stopping
        and calibration.
    refit : bool
        After early stopping and calibration, refit on every row with the chosen number of
        rounds (scaled up for the extra data), keeping the calibration.
    cv_folds : int
        When above 1, the rounds are chosen by stratified k-fold out-of-fold average
        precision and the calibration fitted on the out-of-fold margins (instead of one
        ``valid_fraction`` holdout), then one model is fitted on every row.
    forest : int
        Extremely randomised trees grown beside the boosted ones (0: boosted trees alone).
        Their fraud share and the boosting margin are combined by a logistic regression
        fitted on held-out rows (out-of-fold with ``cv_folds``), which is also the
        calibration. The trees are different enough from boosting that the pair ranks the
        top of a review queue better than either (``benchmarks/results/risk.md``). Reasons
        (:meth:`explain`) come from the boosted trees.
    forest_leaves : int
        Most leaves per randomised tree, so the forest stays a few MB on a large store.
    forest_rows : int
        Above this many training rows each randomised tree grows on a bootstrap sample of
        this size, so fitting time stops growing with the store.
    n_jobs : int
        LightGBM and forest threads.
    random_state : int, optional
    """

    def __init__(self, n_estimators: int = 500, learning_rate: float = 0.05,
                 num_leaves: int = 15, min_child_samples: int = 10, colsample: float = 0.8,
                 pos_weight: float | str = "auto", valid_fraction: float = 0.25,
                 refit: bool = True, cv_folds: int = 5, forest: int = 300,
                 forest_leaves: int = 512, forest_rows: int = 50_000, n_jobs: int = 1,
                 random_state: int | None = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample = colsample
        self.pos_weight = pos_weight
        self.valid_fraction = valid_fraction
        self.refit = refit
        self.cv_folds = cv_folds
        self.forest = forest
        self.forest_leaves = forest_leaves
        self.forest_rows = forest_rows
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- input ---------------------------------------------------------------------------
    def _matrix(self, X: Any) -> np.ndarray:
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise DataError(f"features lack column(s) {missing}; the model was fitted on "
                            f"{len(self.features_)} features")
        cols = []
        for c in self.features_:
            if c in self.categories_:
                codes = pd.Categorical(X[c].astype(object), categories=self.categories_[c]).codes
                cols.append(np.where(codes < 0, np.nan, codes).astype(float))
            else:
                try:
                    cols.append(pd.to_numeric(X[c], errors="raise").to_numpy(dtype=float))
                except (TypeError, ValueError) as exc:
                    raise DataError(f"feature {c!r} must be numeric: {exc}") from None
        return np.column_stack(cols) if cols else np.empty((len(X), 0))

    def matrix_from_dicts(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """The model's input matrix from feature dicts (the fast path for online scoring)."""
        self._check_fitted()
        if getattr(self, "_codes", None) is None:
            self._codes = {c: {v: float(i) for i, v in enumerate(cats)}
                           for c, cats in self.categories_.items()}
        A = np.empty((len(rows), len(self.features_)))
        for j, c in enumerate(self.features_):
            codes = self._codes.get(c)
            for i, r in enumerate(rows):
                v = r.get(c)
                if codes is not None:
                    A[i, j] = codes.get(v, np.nan) if v is not None else np.nan
                else:
                    A[i, j] = np.nan if v is None else float(v)
        return A

    def predict_proba_matrix(self, A: np.ndarray) -> np.ndarray:
        """Calibrated probabilities from a matrix made by :meth:`matrix_from_dicts`."""
        self._check_fitted()
        raw = self._get_booster().predict(A, raw_score=True, num_threads=self.n_jobs)
        return self._calibrated(raw, A)

    # -- forest and calibration ------------------------------------------------------------
    def _forest_logit(self, q: np.ndarray) -> np.ndarray:
        eps = 0.5 / max(int(self.forest), 1)  # half a tree's vote: 0 and 1 stay finite
        q = np.clip(q, eps, 1 - eps)
        return np.log(q / (1 - q))

    def _grow_forest(self, A: np.ndarray, y: np.ndarray, rng: np.random.Generator
                     ) -> dict[str, np.ndarray]:
        return fit_forest(A, y, n_trees=int(self.forest), max_leaves=int(self.forest_leaves),
                          max_rows=int(self.forest_rows), seed=int(rng.integers(2**31 - 1)),
                          n_jobs=self.n_jobs)

    def _fit_calibration(self, raw: np.ndarray, q: np.ndarray | None, y: np.ndarray) -> None:
        """Platt scaling of held-out margins, or with the forest the stacking regression
        ``sigmoid(a * margin + c * logit(forest share) + b)``."""
        from sklearn.linear_model import LogisticRegression

        Z = raw[:, None] if q is None else np.column_stack([raw, self._forest_logit(q)])
        lr = LogisticRegression(C=100.0).fit(Z, y)
        self.platt_ = np.r_[lr.coef_[0], lr.intercept_[0]].astype(float)

    def _set_forest(self, forest: dict[str, np.ndarray] | None) -> None:
        for k in FOREST_KEYS:  # one saved array each (forest_left_, ...); empty without
            setattr(self, f"forest_{k}_", forest[k] if forest else np.zeros(0, np.int32))

    def _forest(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, f"forest_{k}_") for k in FOREST_KEYS}

    def _calibrated(self, raw: np.ndarray, A: np.ndarray) -> np.ndarray:
        c = self.platt_
        if c.size == 2:
            return _sigmoid(c[0] * raw + c[1])
        q = forest_proba(self._forest(), A)
        return _sigmoid(c[0] * raw + c[1] * self._forest_logit(q) + c[2])

    def _weight(self, y: np.ndarray, pos_weight: float | str | None = None) -> float:
        pos_weight = self.pos_weight if pos_weight is None else pos_weight
        pos, neg = float(y.sum()), float(len(y) - y.sum())
        if pos_weight == "balanced":
            return neg / max(pos, 1.0)
        if pos_weight in ("sqrt", "auto"):  # "auto" without cv_folds: the square root
            return float(np.sqrt(neg / max(pos, 1.0)))
        try:
            w = float(pos_weight)
        except (TypeError, ValueError):
            raise DataError(f"pos_weight must be a number, 'balanced', 'sqrt' or 'auto'; "
                            f"got {pos_weight!r}") from None
        if w <= 0:
            raise DataError(f"pos_weight must be positive; got {w}")
        return w

    def fit(self, X: pd.DataFrame, y: Any) -> FraudGBM:
        """Fit on features ``X`` (numeric columns; text columns become categorical) and labels
        ``y`` (1 = fraud, 0 = legitimate)."""
        import lightgbm as lgb

        if not isinstance(X, pd.DataFrame):
            raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
        try:
            yy = np.asarray(y, dtype=float).ravel()
        except (TypeError, ValueError):
            raise DataError("labels must be 0 or 1") from None
        if yy.size != len(X):
            raise DataError(f"X has {len(X)} rows but y has {yy.size} labels")
        if not np.isin(yy, (0.0, 1.0)).all():
            raise DataError(f"labels must be 0 or 1; got values {np.unique(yy)[:5].tolist()}")
        if yy.sum() < 2 or (1 - yy).sum() < 2:
            raise DataError(f"need at least 2 fraud and 2 legitimate rows; got "
                            f"{int(yy.sum())} fraud of {yy.size}")
        for name, low in (("forest", 0), ("forest_leaves", 2), ("forest_rows", 1)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
                raise DataError(f"{name} must be a whole number >= {low}; got {v!r}")
        self.features_ = [str(c) for c in X.columns]
        self.categories_ = {c: sorted(str(v) for v in X[c].dropna().unique())
                            for c in self.features_
                            if not pd.api.types.is_numeric_dtype(X[c])}
        A = self._matrix(X)
        rng = check_random_state(self.random_state)
        valid = np.zeros(yy.size, dtype=bool)
        for cls in (0.0, 1.0):
            idx = np.flatnonzero(yy == cls)
            k = min(idx.size - 1, max(1, int(round(self.valid_fraction * idx.size))))
            valid[rng.choice(idx, size=k, replace=False)] = True
        w = np.where(yy == 1, self._weight(yy[~valid]), 1.0)
        params = {"objective": "binary", "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_child_samples": self.min_child_samples,
                  "feature_fraction": self.colsample, "bagging_fraction": 0.9,
                  "bagging_freq": 1, "lambda_l2": 1.0, "seed": int(rng.integers(2**31 - 1)),
                  "deterministic": True, "num_threads": self.n_jobs, "verbose": -1,
                  "min_data_per_group": 20, "cat_smooth": 10}
        cat = [i for i, c in enumerate(self.features_) if c in self.categories_]
        if self.cv_folds and self.cv_folds > 1:
            return self._fit_cv(A, yy, params, cat, rng)
        train = lgb.Dataset(A[~valid], yy[~valid], weight=w[~valid], categorical_feature=cat,
                            feature_name=self.features_, free_raw_data=False)
        val = lgb.Dataset(A[valid], yy[valid], weight=w[valid], reference=train,
                          categorical_feature=cat)
        booster = lgb.train(params, train, num_boost_round=int(self.n_estimators),
                            valid_sets=[val], callbacks=[lgb.early_stopping(50, verbose=False)])
        self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
        self.model_text_ = booster.model_to_string(num_iteration=self.best_iteration_)
        self._booster = lgb.Booster(model_str=self.model_text_)
        self._codes = None
        raw = self._booster.predict(A[valid], raw_score=True)
        forest = self._grow_forest(A[~valid], yy[~valid], rng) if self.forest else None
        self._fit_calibration(raw, forest_proba(forest, A[valid]) if forest else None,
                              yy[valid])
        if forest and self.refit:
            forest = self._grow_forest(A, yy, rng)
        self._set_forest(forest)
        if self.refit:
            full = lgb.Dataset(A, yy, weight=w, categorical_feature=cat,
                               feature_name=self.features_, free_raw_data=False)
            rounds = max(1, int(round(self.best_iteration_ / (1 - self.valid_fraction))))
            self.model_text_ = lgb.train(params, full, num_boost_round=rounds).model_to_string()
            self._booster = lgb.Booster(model_str=self.model_text_)
        gain = self._booster.feature_importance("gain")
        self.importance_ = gain / max(gain.sum(), 1e-12)
        return self

    def _fit_cv(self, A: np.ndarray, yy: np.ndarray, params: dict[str, Any], cat: list[int],
                rng: np.random.Generator) -> FraudGBM:
        """Rounds chosen by stratified k-fold out-of-fold average precision on a grid (every
        row validates once, which is steadier than one holdout on small data), calibration
        (with the forest: stacking) on the out-of-fold margins, then one model on every row
        with the chosen rounds."""
        import lightgbm as lgb

        k = int(min(self.cv_folds, yy.sum(), (1 - yy).sum()))
        fold = np.empty(yy.size, dtype=np.int64)
        for cls in (0.0, 1.0):
            idx = rng.permutation(np.flatnonzero(yy == cls))
            fold[idx] = np.arange(idx.size) % k
        from sklearn.metrics import average_precision_score

        # "auto": the class weight whose out-of-fold average precision is best
        candidates = [1.0, "sqrt"] if self.pos_weight == "auto" else [self.pos_weight]
        best_ap, chosen = -1.0, None
        n_max = int(self.n_estimators)
        grid = np.unique(np.linspace(0, n_max, 21).round().astype(int)[1:].clip(1, n_max))
        for cand in candidates:
            # out-of-fold margins after each number of rounds in the grid; the rounds with
            # the best pooled average precision win (early stopping on log loss stopped too
            # soon for the ranking at the top, which is what a review queue sees)
            curve = np.zeros((len(grid), yy.size))
            for f in range(k):
                tr, va = fold != f, fold == f
                w = np.where(yy == 1, self._weight(yy[tr], cand), 1.0)
                train = lgb.Dataset(A[tr], yy[tr], weight=w[tr], categorical_feature=cat,
                                    feature_name=self.features_, free_raw_data=False)
                booster = lgb.train(params, train, num_boost_round=n_max)
                for g, r in enumerate(grid):
                    curve[g, va] = booster.predict(A[va], raw_score=True, num_iteration=int(r))
            aps = [float(average_precision_score(yy, c)) for c in curve]
            g = int(np.argmax(aps))
            if aps[g] > best_ap:
                best_ap, chosen = aps[g], (cand, curve[g], int(grid[g]))
        cand, oof, best_rounds = chosen
        self.pos_weight_ = cand
        forest, q = None, None
        if self.forest:  # the forest's out-of-fold shares, on the same folds
            q = np.zeros(yy.size)
            for f in range(k):
                tr, va = fold != f, fold == f
                q[va] = forest_proba(self._grow_forest(A[tr], yy[tr], rng), A[va])
            forest = self._grow_forest(A, yy, rng)
        self._fit_calibration(oof, q, yy)
        self._set_forest(forest)
        # the full model sees k/(k-1) times the rows of a fold model: rounds scaled alike
        self.best_iteration_ = max(1, int(round(best_rounds * k / (k - 1))))
        w = np.where(yy == 1, self._weight(yy, cand), 1.0)
        full = lgb.Dataset(A, yy, weight=w, categorical_feature=cat,
                           feature_name=self.features_, free_raw_data=False)
        self.model_text_ = lgb.train(params, full, num_boost_round=self.best_iteration_
                                     ).model_to_string()
        self._booster = lgb.Booster(model_str=self.model_text_)
        self._codes = None
        gain = self._booster.feature_importance("gain")
        self.importance_ = gain / max(gain.sum(), 1e-12)
        return self

    # -- answers -------------------------------------------------------------------------
    def _get_booster(self) -> Any:
        import lightgbm as lgb

        if getattr(self, "_booster", None) is None:
            self._booster = lgb.Booster(model_str=self.model_text_)
        return self._booster

    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self._booster = None
        self._codes = None

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """LightGBM's uncalibrated margin (log-odds under the class weights)."""
        self._check_fitted()
        return self._get_booster().predict(self._matrix(X), raw_score=True,
                                           num_threads=self.n_jobs)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated fraud probability of each row of ``X`` (1-D array)."""
        self._check_fitted()
        A = self._matrix(X)
        raw = self._get_booster().predict(A, raw_score=True, num_threads=self.n_jobs)
        return self._calibrated(raw, A)

    def contributions(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """SHAP values (LightGBM ``pred_contrib``) in log-odds, shape (rows, features);
        positive values push towards fraud. ``X`` is a frame or a model matrix."""
        self._check_fitted()
        A = X if isinstance(X, np.ndarray) else self._matrix(X)
        out = self._get_booster().predict(A, pred_contrib=True, num_threads=self.n_jobs)
        return np.asarray(out)[:, :-1]

    def explain(self, X: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:
        """Per row, the ``top`` features that raise its fraud score most: dicts with
        ``feature``, ``value`` and ``contribution`` (SHAP, log-odds, > 0)."""
        contrib = self.contributions(X)
        out = []
        for i in range(contrib.shape[0]):
            order = np.argsort(-contrib[i])[:top]
            row = []
            for j in order:
                if contrib[i, j] <= 0:
                    break
                name = self.features_[j]
                v = X[name].iloc[i]
                value = None if v is None or (not isinstance(v, str) and pd.isna(v)) else (
                    v if isinstance(v, str) else float(v))
                row.append({"feature": name, "value": value,
                            "contribution": round(float(contrib[i, j]), 4)})
            out.append(row)
        return out
