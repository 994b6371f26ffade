"""X-learner (Kuenzel et al., 2019) on LightGBM."""
from __future__ import annotations

from typing import Any

import numpy as np

from storemind.marketing._learner import UpliftLearner

__all__ = ["XLearner"]


class XLearner(UpliftLearner):
    """X-learner: outcome models per arm, then effect models on imputed effects.

    For treatment k against the control: fit outcome models ``mu_0``, ``mu_k``; impute each
    treated row's effect as ``y - mu_0(x)`` and each control row's as ``mu_k(x) - y``; fit
    ``tau_1`` on the treated rows' and ``tau_0`` on the control rows' imputed effects; predict
    ``e * tau_0(x) + (1 - e) * tau_1(x)`` with ``e`` the share of treatment k among the rows of
    the two arms (a randomised campaign's propensity is constant, so it is not modelled).
    Parameters as in :class:`~storemind.marketing.TLearner`.
    """

    def _fit_bag(self, A: np.ndarray, t: np.ndarray, y: np.ndarray,
                 rng: np.random.Generator) -> list[str]:
        mu = [self._train(A[t == k], y[t == k], self._outcome_objective(), rng)
              for k in range(len(self.arms_))]
        c = t == 0
        mu0_treated = {k: mu[0].predict(A[t == k]) for k in range(1, len(mu))}
        out = []
        for k in range(1, len(mu)):
            tr = t == k
            d1 = y[tr] - mu0_treated[k]
            d0 = mu[k].predict(A[c]) - y[c]
            out.append(self._train(A[tr], d1, "regression", rng).model_to_string())
            out.append(self._train(A[c], d0, "regression", rng).model_to_string())
        return out

    def _uplift_bag(self, boosters: list[Any], A: np.ndarray) -> np.ndarray:
        cols = []
        for k in range(1, len(self.arms_)):
            tau1, tau0 = boosters[2 * (k - 1)], boosters[2 * (k - 1) + 1]
            p = self.propensity_
            e = p[k] / (p[k] + p[0])
            cols.append(e * tau0.predict(A) + (1 - e) * tau1.predict(A))
        return np.column_stack(cols)
