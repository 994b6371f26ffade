"""The shared machinery of the uplift learners: input checks, arms (one control, one or more
treatments), bagged refits for intervals, LightGBM models saved as text, and the verbs.

A learner subclass implements ``_fit_bag(A, t, y, rng) -> list[str]`` (LightGBM text models
fitted on one sample; ``t`` is 0 for control and k = 1..K for the k-th treatment) and
``_uplift_bag(boosters, A) -> ndarray (n, K)`` (the predicted effect of each treatment against
the control). The "boosters" are LightGBM models or, with ``base="linear"``,
:class:`~storemind.marketing._linear.LinearModel`s; both predict and save as text.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator, check_random_state
from storemind.errors import DataError
from storemind.marketing._encode import encode, fit_encoding, load_booster, train_booster
from storemind.marketing._linear import LinearModel

__all__ = ["UpliftLearner", "CONTROL_NAMES", "BASES"]

#: The base models a learner can fit.
BASES = ("lightgbm", "linear")

#: Arm names recognised as the control when ``control`` is not given.
CONTROL_NAMES = ("control", "no e-mail", "no email", "holdout", "none")


class UpliftLearner(Estimator):
    """Base class of the uplift learners (not used directly).

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings of every
        model the learner fits (``base="lightgbm"``).
    n_bags : int, default 1
        Refits on bootstrap samples (stratified by arm); the uplift is their mean and
        :meth:`predict_interval` their spread. 1 = one fit on all rows, no interval.
    control : str, optional
        The control arm's name; by default the arm named like one of ``CONTROL_NAMES``.
    random_state : int, optional
    base : {"lightgbm", "linear"}, default "lightgbm"
        The model behind every fit: LightGBM, or a regularised linear model (L2 logistic
        regression for binary outcomes, ridge for the rest, on standardised numbers and
        one-hot categories; the S-learner interacts every feature with the arm). Linear
        models are cheap and often rank rare outcomes (conversion at 1%) as well as trees.
    C : float, default 1.0
        Inverse L2 strength of the linear models (scikit-learn's convention; smaller is
        stronger).
    min_leaf_positives : float, optional
        Rare binary outcomes: raise every LightGBM leaf's minimum size to about this many
        positives (or negatives, whichever is rarer) at the training rows' rate, e.g. 20
        positives at a 0.6% conversion rate = 3,300 rows per leaf.
    """

    def __init__(self, n_estimators: int = 100, learning_rate: float = 0.05,
                 num_leaves: int = 15, min_child_samples: int = 100, n_bags: int = 1,
                 control: str | None = None, random_state: int | None = 0,
                 base: str = "lightgbm", C: float = 1.0,
                 min_leaf_positives: float | None = None):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_bags = n_bags
        self.control = control
        self.random_state = random_state
        self.base = base
        self.C = C
        self.min_leaf_positives = min_leaf_positives

    # -- subclass hooks ------------------------------------------------------------------
    def _fit_bag(self, A: np.ndarray, t: np.ndarray, y: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
        raise NotImplementedError

    def _uplift_bag(self, boosters: list[Any], A: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- helpers for subclasses ----------------------------------------------------------
    @property
    def n_treatments_(self) -> int:
        return len(self.arms_) - 1

    def _cat_idx(self) -> list[int]:
        return [i for i, c in enumerate(self.features_) if c in self.categories_]

    def _train(self, A: np.ndarray, y: np.ndarray, objective: str, rng: np.random.Generator,
               weight: np.ndarray | None = None, cat_idx: list[int] | None = None,
               interact: int | None = None) -> Any:
        """One model (``base``) on ``A``, ``y``; ``interact`` is the arm column a linear model
        crosses with every other column (the S-learner's)."""
        cat_idx = self._cat_idx() if cat_idx is None else cat_idx
        seed = int(rng.integers(2**31 - 1))
        if self.base == "linear":
            return LinearModel.fit(A, y, objective=objective, cat_idx=cat_idx, C=self.C,
                                   weight=weight, interact=interact)
        min_rows = int(self.min_child_samples)
        rate = getattr(self, "_rate", None)
        if self.min_leaf_positives is not None and rate:
            min_rows = max(min_rows, int(np.ceil(float(self.min_leaf_positives) / rate)))
        return train_booster(A, y, objective=objective, cat_idx=cat_idx,
                             n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                             num_leaves=self.num_leaves, min_child_samples=min_rows,
                             seed=seed, weight=weight)

    def _outcome_objective(self) -> str:
        return "binary" if self.binary_ else "regression"

    # -- fit -----------------------------------------------------------------------------
    def _arms(self, treatment: Any, n: int) -> np.ndarray:
        arms = pd.Series(np.asarray(treatment, dtype=object).ravel())
        if len(arms) != n:
            raise DataError(f"treatment has {len(arms)} values but X has {n} rows")
        if arms.isna().any():
            raise DataError(f"treatment: {int(arms.isna().sum())} missing arm(s); every row "
                            "needs the arm it received")
        arms = arms.astype(str)
        names = sorted(arms.unique())
        if self.control is not None:
            control = str(self.control)
            if control not in names:
                raise DataError(f"control arm {control!r} not among the arms {names}")
        else:
            found = [a for a in names if a.strip().lower() in CONTROL_NAMES]
            if len(found) != 1:
                raise DataError(f"cannot tell the control arm among {names}; pass control=... "
                                f"(recognised names: {list(CONTROL_NAMES)})")
            control = found[0]
        if len(names) < 2:
            raise DataError(f"treatment: expected a control and at least one treatment arm; "
                            f"got only {names}")
        self.arms_ = [control] + [a for a in names if a != control]
        counts = arms.value_counts()
        small = {a: int(counts[a]) for a in self.arms_ if counts[a] < 10}
        if small:
            raise DataError(f"every arm needs at least 10 rows; got {small}")
        return arms.map({a: k for k, a in enumerate(self.arms_)}).to_numpy(dtype=np.int64)

    def fit(self, X: pd.DataFrame, treatment: Any, y: Any) -> UpliftLearner:
        """Fit on features ``X``, the arm each row received and its outcome ``y``.

        Parameters
        ----------
        X : DataFrame
            Customer features (numeric, or text treated as categorical).
        treatment : array-like of str
            The arm of each row: the control and one or more treatments.
        y : array-like of float
            The outcome (0/1 for visit or conversion; any number for spend).

        Returns
        -------
        self
        """
        if int(self.n_bags) < 1:
            raise DataError(f"n_bags must be at least 1; got {self.n_bags}")
        if self.base not in BASES:
            raise DataError(f"base must be one of {list(BASES)}; got {self.base!r}")
        A, t, yy = self._prepare(X, treatment, y)
        rng = check_random_state(self.random_state)
        models = []
        for _ in range(int(self.n_bags)):
            idx = np.arange(len(t)) if self.n_bags == 1 else _stratified_bootstrap(t, rng)
            models.append(self._fit_bag(A[idx], t[idx], yy[idx], rng))
        self.models_ = models
        self._boosters = None
        return self

    def _prepare(self, X: pd.DataFrame, treatment: Any, y: Any
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validate the inputs, learn the encoding and the arms; (matrix, arm codes, y)."""
        self.features_, self.categories_ = fit_encoding(X)
        t = self._arms(treatment, len(X))
        yy = np.asarray(y, dtype=float).ravel()
        if yy.size != len(X):
            raise DataError(f"y has {yy.size} values but X has {len(X)} rows")
        if not np.isfinite(yy).all():
            raise DataError("y: expected finite outcomes; got NaN or infinite values")
        self.binary_ = bool(np.isin(yy, (0.0, 1.0)).all())
        self._check_outcome(yy)
        self._rate = min(yy.mean(), 1 - yy.mean()) if self.binary_ else None
        self.propensity_ = np.bincount(t, minlength=len(self.arms_)) / len(t)
        return encode(X, self.features_, self.categories_), t, yy

    def _check_outcome(self, y: np.ndarray) -> None:
        """Hook for learners that need binary outcomes."""

    # -- answers -------------------------------------------------------------------------
    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self._boosters = None

    def _bag_boosters(self) -> list[list[Any]]:
        if getattr(self, "_boosters", None) is None:
            self._boosters = [[load_booster(m) for m in bag] for bag in self.models_]
        return self._boosters

    def _per_bag(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        A = encode(X, self.features_, self.categories_)
        return np.stack([self._uplift_bag(b, A) for b in self._bag_boosters()])

    @property
    def treatments_(self) -> list[str]:
        """The treatment arms, in the column order of :meth:`predict_uplift`."""
        self._check_fitted()
        return list(self.arms_[1:])

    def predict_uplift(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted effect of each treatment against the control, per row.

        Returns
        -------
        ndarray of shape (n_rows, n_treatments)
            Column k is treatment ``treatments_[k]`` (for binary outcomes: the change in the
            outcome's probability).
        """
        return self._per_bag(X).mean(axis=0)

    def predict_interval(self, X: pd.DataFrame, coverage: float = 0.8
                         ) -> tuple[np.ndarray, np.ndarray]:
        """A ``coverage`` interval of each row's uplift from the spread of the bagged refits.

        Needs ``n_bags >= 2``. With few bags (e.g. 5) the interval is rough: it reflects the
        learners' sampling variation only, not model misspecification.

        Returns
        -------
        lower, upper : ndarray of shape (n_rows, n_treatments)
        """
        if not 0 < coverage < 1:
            raise DataError(f"coverage must be in (0, 1); got {coverage}")
        bags = self._per_bag(X)
        if bags.shape[0] < 2:
            raise DataError(f"intervals need n_bags >= 2 refits; this model has {self.n_bags}")
        q = (1 - coverage) / 2
        return np.quantile(bags, q, axis=0), np.quantile(bags, 1 - q, axis=0)

    def recommend(self, X: pd.DataFrame, min_uplift: float = 0.0) -> np.ndarray:
        """The best arm per row: the treatment with the largest predicted uplift, or the
        control when no treatment beats ``min_uplift``."""
        u = self.predict_uplift(X)
        best = u.argmax(axis=1)
        arms = np.array(self.arms_[1:], dtype=object)[best]
        return np.where(u.max(axis=1) > min_uplift, arms, self.arms_[0]).astype(str)


def _stratified_bootstrap(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    parts = [rng.choice(np.flatnonzero(t == k), size=int((t == k).sum()), replace=True)
             for k in np.unique(t)]
    return np.sort(np.concatenate(parts))
