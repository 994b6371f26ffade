"""AutoUplift: several uplift learners at once, averaged (the default) or one picked by inner
cross-validated Qini."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.evaluation import qini_coefficient, qini_curve
from storemind.marketing._encode import encode, load_booster
from storemind.marketing._learner import UpliftLearner
from storemind.marketing.class_transformation import ClassTransformation
from storemind.marketing.drlearner import DRLearner
from storemind.marketing.evaluate import uplift_folds
from storemind.marketing.slearner import SLearner
from storemind.marketing.tlearner import TLearner
from storemind.marketing.xlearner import XLearner

__all__ = ["AutoUplift", "AUTO_CANDIDATES", "DEFAULT_CANDIDATES"]

_LEARNERS: dict[str, type[UpliftLearner]] = {
    "s": SLearner, "t": TLearner, "x": XLearner, "dr": DRLearner,
    "class_transformation": ClassTransformation}

#: LightGBM for rare outcomes: 4 leaves, each holding about 20 positives at least.
RARE = {"num_leaves": 4, "min_leaf_positives": 20.0}

#: Candidate name -> (learner, its parameters). ``_linear_strong``: C = 0.01, which on
#: standardised columns weighs about as much as ~100 positives' worth of data.
AUTO_CANDIDATES: dict[str, tuple[str, dict[str, Any]]] = {
    **{f"{k}_lightgbm": (k, {}) for k in _LEARNERS},
    **{f"{k}_lightgbm_rare": (k, dict(RARE)) for k in _LEARNERS},
    **{f"{k}_linear": (k, {"base": "linear"}) for k in _LEARNERS},
    **{f"{k}_linear_strong": (k, {"base": "linear", "C": 0.01}) for k in _LEARNERS},
}

#: The default search: cheap learners (S, T) on each base; sized so the whole selection costs
#: a few single fits (X- and DR-learners fit 2-3x as many models; pass them when time allows).
DEFAULT_CANDIDATES = ("s_lightgbm", "t_lightgbm_rare", "t_linear", "t_linear_strong", "x_linear")


class AutoUplift(UpliftLearner):
    """Several uplift learners (learner x base model) on the same data, combined.

    ``combine="average"`` (the default) fits every candidate once on all rows and predicts the
    mean of their uplifts; :meth:`predict_interval` is then the spread between the candidates
    (model disagreement, not sampling error). ``combine="select"`` fits each candidate on
    ``n_inner_folds - 1`` inner folds and scores it on the remaining one; the candidate with
    the best mean Qini coefficient (mean over treatments; for a continuous outcome the Qini
    curve's area above random, per row squared) wins, and its inner-fold fits are kept as its
    bags (cross-validation bagging: no refit).

    Why averaging is the default: on a rare outcome the inner Qini is too noisy to pick by.
    On Hillstrom's Mens E-Mail arm (not the arm of the benchmark's goal), five outer folds:
    picking by inner Qini scored 0.013 (visit) and -0.019 (conversion), the average of the
    same candidates 0.016 and 0.012, every candidate refitted on all rows. On the Womens arm
    (the benchmark's) picking scored 0.060 and 0.052, averaging 0.065 and 0.088. Averaging
    also costs one fit per candidate instead of ``n_inner_folds``.

    Parameters
    ----------
    candidates : sequence of str, optional
        Names from ``AUTO_CANDIDATES`` (``<learner>_<base>``: learner ``s``, ``t``, ``x``,
        ``dr`` or ``class_transformation``; base ``lightgbm``, ``lightgbm_rare``, ``linear``
        or ``linear_strong``); default ``DEFAULT_CANDIDATES``.
    combine : {"average", "select"}, default "average"
    n_inner_folds : int, default 3
        Inner folds of ``combine="select"``.
    control : str, optional
        The control arm (default: the arm named like control / No E-Mail).
    random_state : int, optional

    Attributes
    ----------
    members_ : list of str
        The candidates behind the prediction (all of them when averaging, the winner when
        selecting).
    selected_ : str
        The winning candidate, or ``"average"``.
    cv_qini_ : dict
        Mean inner-fold Qini of every candidate (``combine="select"`` only; empty otherwise).
    cv_qini_folds_ : dict
        Per candidate, its Qini on each inner fold (``combine="select"`` only).
    """

    def __init__(self, candidates: Sequence[str] | None = None, combine: str = "average",
                 n_inner_folds: int = 3, control: str | None = None,
                 random_state: int | None = 0):
        self.candidates = candidates
        self.combine = combine
        self.n_inner_folds = n_inner_folds
        self.control = control
        self.random_state = random_state

    @property
    def n_bags(self) -> int:
        if self.combine == "average":
            return len(getattr(self, "members_", None) or self._names())
        return int(self.n_inner_folds)

    def _names(self) -> list[str]:
        names = list(DEFAULT_CANDIDATES if self.candidates is None else self.candidates)
        if isinstance(self.candidates, str) or not names:
            raise DataError(f"candidates: expected a non-empty list of names from "
                            f"{sorted(AUTO_CANDIDATES)}; got {self.candidates!r}")
        unknown = [n for n in names if n not in AUTO_CANDIDATES]
        if unknown:
            raise DataError(f"unknown candidate(s) {unknown}; choose from "
                            f"{sorted(AUTO_CANDIDATES)}")
        return list(dict.fromkeys(names))

    def _learner(self, name: str) -> UpliftLearner:
        """The candidate's learner, sharing this model's encoding, arms and outcome type."""
        key, params = AUTO_CANDIDATES[name]
        m = _LEARNERS[key](**params, control=self.control, random_state=self.random_state)
        for attr in ("features_", "categories_", "arms_", "binary_", "propensity_", "_rate"):
            if hasattr(self, attr):
                setattr(m, attr, getattr(self, attr))
        return m

    def fit(self, X: pd.DataFrame, treatment: Any, y: Any) -> AutoUplift:
        """Choose and fit the best candidate on ``X``, the arms and the outcomes ``y``.

        Parameters and returns as :meth:`storemind.marketing.TLearner.fit`.
        """
        names = self._names()
        if self.combine not in ("average", "select"):
            raise DataError(f"combine must be 'average' or 'select'; got {self.combine!r}")
        k = int(self.n_inner_folds)
        if k < 2:
            raise DataError(f"n_inner_folds must be at least 2; got {self.n_inner_folds}")
        A, t, yy = self._prepare(X, treatment, y)
        if not self.binary_:
            names = [n for n in names if AUTO_CANDIDATES[n][0] != "class_transformation"]
            if not names:
                raise DataError("class transformation needs a binary outcome; pass other "
                                "candidates for a continuous one")
        seed = 0 if self.random_state is None else int(self.random_state)
        if self.combine == "average":
            self.models_ = [self._learner(name)._fit_bag(A, t, yy,
                                                         np.random.default_rng([seed, i]))
                            for i, name in enumerate(names)]
            self.members_ = names
            self.selected_ = "average"
            self.cv_qini_, self.cv_qini_folds_ = {}, {}
            self._boosters = None
            return self
        strata = t * 2 + yy.astype(int) if self.binary_ else t
        folds = uplift_folds(strata, k, self.random_state)
        scores: dict[str, list[float]] = {}
        bags: dict[str, list[list[str]]] = {}
        for i, name in enumerate(names):
            learner = self._learner(name)
            rng = np.random.default_rng([seed, i])
            scores[name], bags[name] = [], []
            for f in range(k):
                fit_rows, test_rows = folds != f, folds == f
                bag = learner._fit_bag(A[fit_rows], t[fit_rows], yy[fit_rows], rng)
                u = learner._uplift_bag([load_booster(b) for b in bag], A[test_rows])
                scores[name].append(self._score(yy[test_rows], t[test_rows], u))
                bags[name].append(bag)
        means = {n: float(np.nanmean(s)) if np.isfinite(s).any() else float("-inf")
                 for n, s in scores.items()}
        self.selected_ = max(means, key=lambda n: means[n])
        self.cv_qini_ = means
        self.cv_qini_folds_ = {n: [float(v) for v in s] for n, s in scores.items()}
        self.models_ = bags[self.selected_]
        self.members_ = [self.selected_] * k
        self._boosters = None
        return self

    def _score(self, y: np.ndarray, t: np.ndarray, u: np.ndarray) -> float:
        vals = []
        for j in range(u.shape[1]):
            rows = (t == 0) | (t == j + 1)
            tt = (t[rows] == j + 1).astype(int)
            if tt.min() == tt.max():
                continue
            if self.binary_:
                try:
                    vals.append(qini_coefficient(y[rows], tt, u[rows, j]))
                except DataError:  # no responders in this fold: no information
                    continue
            else:
                x, q = qini_curve(y[rows], tt, u[rows, j])
                area = float(np.trapezoid(q, x)) - 0.5 * x[-1] * q[-1]
                vals.append(area / max(float(x[-1]), 1.0) ** 2)
        return float(np.mean(vals)) if vals else float("nan")

    def _per_bag(self, X: pd.DataFrame) -> np.ndarray:
        """One uplift matrix per bag, each computed by the candidate that fitted it."""
        self._check_fitted()
        A = encode(X, self.features_, self.categories_)
        members = getattr(self, "members_", None) or [self.selected_] * len(self.models_)
        return np.stack([self._learner(name)._uplift_bag(b, A)
                         for name, b in zip(members, self._bag_boosters(), strict=True)])
