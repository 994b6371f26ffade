"""DR-learner (Kennedy, 2023): regress a doubly robust pseudo-outcome on the features."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.marketing._learner import UpliftLearner

__all__ = ["DRLearner"]


class DRLearner(UpliftLearner):
    """Doubly robust learner with two-fold cross-fitting.

    For treatment k against the control, on the rows of the two arms: outcome models
    ``mu_0``, ``mu_k`` are fitted on one half and predicted on the other (and the other way
    round); the pseudo-outcome

    ``psi = mu_k(x) - mu_0(x) + [t=k] (y - mu_k(x)) / e - [t=0] (y - mu_0(x)) / (1 - e)``

    (``e`` the share of treatment k among the two arms' rows: the campaign's randomisation
    probability) is then regressed on the features. Parameters as in
    :class:`~storemind.marketing.TLearner`.
    """

    def _fit_bag(self, A: np.ndarray, t: np.ndarray, y: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
        n_arms = len(self.arms_)
        half = rng.permutation(len(t)) % 2
        mu = np.zeros((len(t), n_arms))
        for f in (0, 1):
            fit_rows, pred_rows = half != f, half == f
            for k in range(n_arms):
                rows = fit_rows & (t == k)
                mu[pred_rows, k] = self._train(A[rows], y[rows], self._outcome_objective(),
                                               rng).predict(A[pred_rows])
        out = []
        for k in range(1, n_arms):
            rows = (t == 0) | (t == k)
            e = float((t[rows] == k).mean())
            tk = (t[rows] == k).astype(float)
            m0, mk, yy = mu[rows, 0], mu[rows, k], y[rows]
            psi = mk - m0 + tk * (yy - mk) / e - (1 - tk) * (yy - m0) / (1 - e)
            out.append(self._train(A[rows], psi, "regression", rng).model_to_string())
        return out

    def _uplift_bag(self, boosters: list[Any], A: np.ndarray) -> np.ndarray:
        return np.column_stack([b.predict(A) for b in boosters])
