"""S-learner: one outcome model with the arm as a feature; uplift = f(x, arm) - f(x, control)."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.marketing._learner import UpliftLearner

__all__ = ["SLearner"]


def _predict(booster: Any, A: np.ndarray) -> np.ndarray:
    return booster.predict(A)


class SLearner(UpliftLearner):
    """S-learner: the arm enters a single outcome model as a categorical feature.

    Cheap and stable; when the arm explains little of the outcome the trees may hardly split on
    it, which shrinks the predicted uplift towards zero (the usual S-learner bias). With
    ``base="linear"`` the arm is crossed with every feature (one logistic model with
    arm x feature interactions, sharing the regularisation across arms).
    Parameters as in :class:`~storemind.marketing.TLearner`.
    """

    def _fit_bag(self, A: np.ndarray, t: np.ndarray, y: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
        As = np.column_stack([A, t.astype(float)])
        booster = self._train(As, y, self._outcome_objective(), rng,
                              cat_idx=self._cat_idx() + [A.shape[1]], interact=A.shape[1])
        return [booster.model_to_string()]

    def _uplift_bag(self, boosters: list[Any], A: np.ndarray) -> np.ndarray:
        (m,) = boosters
        outs = [_predict(m, np.column_stack([A, np.full(len(A), float(k))]))
                for k in range(len(self.arms_))]
        return np.column_stack([outs[k] - outs[0] for k in range(1, len(outs))])
