"""Gamma-Gamma model of spend per transaction, for customer lifetime value.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
and Fader & Hardie's note "The Gamma-Gamma Model of Monetary Value" (2013). Fit on customers
with at least one repeat purchase; assumes spend is independent of purchase frequency.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

from storemind._base import Estimator
from storemind.customers._btyd import as_arrays, compress
from storemind.errors import DataError

__all__ = ["GammaGamma", "customer_lifetime_value"]


class GammaGamma(Estimator):
    """Spend per transaction: a gamma with a gamma-distributed scale across customers.

    Parameters
    ----------
    penalizer : float
        L2 penalty on (p, q, v).
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, frequency, monetary_value) -> GammaGamma:
        """Fit on repeat ``frequency`` (> 0) and mean repeat spend ``monetary_value`` (> 0);
        rows with frequency 0 are ignored, as the model needs observed repeat spend."""
        x, m = as_arrays(frequency, monetary_value, names=("frequency", "monetary_value"))
        keep = (x > 0) & (m > 0)
        if keep.sum() < 3:
            raise DataError(
                f"Gamma-Gamma needs customers with repeat purchases and positive spend; "
                f"got {int(keep.sum())}"
            )
        ux, um, w = compress(x[keep], m[keep])
        pen = float(self.penalizer)

        def objective(logp: np.ndarray) -> float:
            p, q, v = np.exp(logp)
            ll = (gammaln(p * ux + q) - gammaln(p * ux) - gammaln(q) + q * np.log(v)
                  + (p * ux - 1) * np.log(um) + p * ux * np.log(ux)
                  - (p * ux + q) * np.log(ux * um + v))
            return -np.sum(w * ll) / w.sum() + pen * np.sum(np.exp(2 * logp))

        res = minimize(objective, np.zeros(3), method="L-BFGS-B",
                       options={"maxiter": 2000, "gtol": 1e-10})
        self.params_ = np.exp(res.x)
        self.converged_ = bool(res.success)
        return self

    @property
    def p_q_v(self) -> dict[str, float]:
        self._check_fitted()
        p, q, v = self.params_
        return {"p": float(p), "q": float(q), "v": float(v)}

    def predict(self, frequency, monetary_value) -> np.ndarray:
        """Expected mean spend per transaction of each customer (the population mean for
        customers without repeat purchases)."""
        self._check_fitted()
        x, m = as_arrays(frequency, monetary_value, names=("frequency", "monetary_value"))
        p, q, v = self.params_
        return (p * (v + x * m)) / (p * x + q - 1)


def customer_lifetime_value(
    bgnbd, gamma_gamma, frequency, recency, T, monetary_value, *,
    months: int = 12, discount_rate: float = 0.01, period_days: float = 7.0,
) -> np.ndarray:
    """Discounted expected value of each customer over ``months`` months (30 days each).

    Each month's expected purchases (BG/NBD, in the fitted time unit of ``period_days`` days)
    times the expected spend per purchase (Gamma-Gamma), discounted by ``discount_rate`` per
    month: CLV = sum_i (E[N(i)] - E[N(i-1)]) * spend / (1 + d)^i.
    """
    spend = gamma_gamma.predict(frequency, monetary_value)
    total = np.zeros_like(spend)
    prev = np.zeros_like(spend)
    for i in range(1, months + 1):
        cum = bgnbd.predict(i * 30.0 / period_days, frequency, recency, T)
        total += (cum - prev) * spend / (1 + discount_rate) ** i
        prev = cum
    return total
