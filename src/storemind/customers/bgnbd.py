"""BG/NBD: how many purchases a customer will make, and whether they are still "alive".

Fader, Hardie & Lee (2005), "Counting Your Customers" the Easy Way: An Alternative to the
Pareto/NBD Model. Marketing Science 24(2). Our own vectorised implementation: the
log-likelihood is summed over unique (frequency, recency, T) rows with their counts, and
maximised over log-parameters with L-BFGS-B.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1

from storemind._base import Estimator
from storemind.customers._btyd import as_arrays, compress
from storemind.errors import DataError

__all__ = ["BGNBD"]


def _loglik(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + tx),
            -np.inf,
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def _loglik_grad(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
                 w: np.ndarray, xs: tuple[np.ndarray, np.ndarray] | None = None,
                 ) -> tuple[float, np.ndarray]:
    """Weighted sum of the log-likelihood and its gradient in (r, alpha, a, b), analytic
    (digamma terms), so the optimiser needs one pass over the data per step. The gamma and
    digamma terms depend on the frequency only: ``xs`` = (distinct frequencies, the index of
    each row's) evaluates them once per distinct frequency."""
    r, alpha, a, b = params
    if xs is None:
        xs = np.unique(x, return_inverse=True)
    xu, inv = xs
    pos = x > 0
    la3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        la4 = np.where(pos, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                       - (r + x) * np.log(alpha + tx), -np.inf)
    lse = np.logaddexp(la3, la4)
    w3 = np.exp(la3 - lse)
    w4 = np.where(pos, np.exp(la4 - lse), 0.0)
    g_x = (gammaln(r + xu) - gammaln(r) + gammaln(a + b) + gammaln(b + xu) - gammaln(b)
           - gammaln(a + b + xu))[inv]
    ll = g_x + r * np.log(alpha) + lse
    psi_ab = digamma(a + b)
    dr_x = (digamma(r + xu) - digamma(r))[inv]
    psi_abx = digamma(a + b + xu)
    da_x = (psi_ab - psi_abx)[inv]
    db_x = (psi_ab + digamma(b + xu) - digamma(b) - psi_abx)[inv]
    d_r = dr_x + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + tx)
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx))
    d_a = da_x + w4 / a
    with np.errstate(divide="ignore", invalid="ignore"):
        d_b = db_x - np.where(pos, w4 / np.maximum(b + x - 1, 1e-300), 0.0)
    grad = np.array([w @ d_r, w @ d_alpha, w @ d_a, w @ d_b])
    return float(w @ ll), grad


class BGNBD(Estimator):
    """Beta-geometric / negative binomial model of repeat purchasing.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters (0 = plain maximum likelihood, as in the paper).
    init : tuple of 4 floats
        Starting values of (r, alpha, a, b).
    """

    def __init__(self, penalizer: float = 0.0,
                 init: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)):
        self.penalizer = penalizer
        self.init = init

    def fit(self, frequency, recency, T) -> BGNBD:
        """Fit on per-customer repeat-purchase ``frequency``, ``recency`` and age ``T``
        (same time unit, e.g. weeks; see :func:`storemind.customers.rfm_summary`)."""
        x, tx, t = as_arrays(frequency, recency, T)
        ux, utx, ut, w = compress(x, tx, t)
        pen = float(self.penalizer)

        total = w.sum()
        xs = np.unique(ux, return_inverse=True)

        def objective(logp: np.ndarray) -> tuple[float, np.ndarray]:
            p = np.exp(np.clip(logp, -30, 30))
            ll, grad = _loglik_grad(p, ux, utx, ut, w, xs)
            value = -(ll / total) + pen * np.sum(p**2)
            return value, -(grad / total) * p + 2 * pen * p**2

        # L-BFGS-B stops once the likelihood stops improving (ftol); BFGS waited for the
        # gradient alone, which on data whose optimum lies at a boundary (Online Retail: a -> 0,
        # b -> infinity along a flat ridge) took twice the steps for the same likelihood
        res = minimize(objective, np.log(np.asarray(self.init, dtype=float)), jac=True,
                       method="L-BFGS-B", options={"maxiter": 2000, "ftol": 1e-12,
                                                   "gtol": 1e-8})
        if not np.all(np.isfinite(res.x)):
            raise DataError(
                "BG/NBD did not converge; check that recency <= T and values are finite")
        # the objective saw exp(clip(x)): at a boundary (b -> infinity) x can run past 709,
        # where exp overflows; keep the parameters the likelihood was evaluated at
        self.params_ = np.exp(np.clip(res.x, -30, 30))
        self.log_likelihood_ = float(np.sum(w * _loglik(self.params_, ux, utx, ut)))
        self.n_customers_ = int(w.sum())
        self.converged_ = bool(res.success)
        return self

    @property
    def r_alpha_a_b(self) -> dict[str, float]:
        self._check_fitted()
        r, alpha, a, b = self.params_
        return {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b)}

    def probability_alive(self, frequency, recency, T) -> np.ndarray:
        """P(the customer has not dropped out) given their history."""
        self._check_fitted()
        x, tx, t = as_arrays(frequency, recency, T)
        r, alpha, a, b = self.params_
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, a / (b + x - 1) * ((alpha + t) / (alpha + tx)) ** (r + x), 0.0)
        return 1.0 / (1.0 + odds)

    def predict(self, t: float, frequency, recency, T) -> np.ndarray:
        """Expected number of purchases in the next ``t`` periods, per customer."""
        self._check_fitted()
        x, tx, age = as_arrays(frequency, recency, T)
        r, alpha, a, b = self.params_
        z = t / (alpha + age + t)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, a / (b + x - 1) * ((alpha + age) / (alpha + tx)) ** (r + x), 0.0)
        return head * body / (1 + odds)

    def expected_purchases_new_customer(self, t: float | np.ndarray) -> np.ndarray:
        """E[X(t)]: expected purchases of a new customer in a period of length ``t``."""
        self._check_fitted()
        r, alpha, a, b = self.params_
        t = np.asarray(t, dtype=float)
        return (a + b - 1) / (a - 1) * (
            1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t))
        )
