"""T-learner: one outcome model per arm; uplift = f_arm(x) - f_control(x)."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.marketing._learner import UpliftLearner

__all__ = ["TLearner"]


class TLearner(UpliftLearner):
    """T-learner ("two models"): a separate outcome model for the control and for
    each treatment; the uplift of treatment k is the difference of their predictions.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings.
    n_bags : int, default 1
        Bootstrap refits; >= 2 gives :meth:`predict_interval`.
    control : str, optional
        The control arm (default: the arm named like control / No E-Mail).
    random_state : int, optional
    base : {"lightgbm", "linear"}, default "lightgbm"
        LightGBM, or L2 logistic / ridge regression (see ``C``).
    C : float, default 1.0
        Inverse L2 strength of the linear models.
    min_leaf_positives : float, optional
        Rare outcomes: LightGBM leaves hold about this many positives at least.
    """

    def _fit_bag(self, A: np.ndarray, t: np.ndarray, y: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
        return [self._train(A[t == k], y[t == k], self._outcome_objective(), rng)
                .model_to_string() for k in range(len(self.arms_))]

    def _uplift_bag(self, boosters: list[Any], A: np.ndarray) -> np.ndarray:
        mu = [b.predict(A) for b in boosters]
        return np.column_stack([mu[k] - mu[0] for k in range(1, len(mu))])
