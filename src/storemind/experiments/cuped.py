"""CUPED: variance reduction with a pre-experiment covariate (Deng, Xu, Kohavi, Walker, 2013).

Each unit's metric ``y`` is adjusted with its pre-period covariate ``x`` (e.g. spend in the
year before the experiment): ``y_adj = y - theta * (x - mean(x))``, ``mean(x)`` over both arms.
``theta`` is the within-arm pooled regression slope
``sum_arm sum_i (x_i - xbar_arm)(y_i - ybar_arm) / sum_arm sum_i (x_i - xbar_arm)^2``, so the
CUPED difference ``(ybar_t - ybar_c) - theta (xbar_t - xbar_c)`` equals the treatment
coefficient of the regression ``y ~ 1 + treatment + x`` (ANCOVA). Welch's test then runs on
the adjusted values. ``variance_reduction = 1 - var_within(y_adj) / var_within(y)``, which is
the squared within-arm correlation of ``y`` and ``x``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storemind.errors import DataError
from storemind.experiments.analysis import TestResult, as_array, welch_test

__all__ = ["CupedResult", "cuped_theta", "cuped_test"]


@dataclass(frozen=True)
class CupedResult:
    """The CUPED-adjusted comparison, the slope used, and how much variance it removed."""

    result: TestResult
    theta: float
    variance_reduction: float


def _pair(y, x, arm: str) -> tuple[np.ndarray, np.ndarray]:
    y, x = as_array(y, f"metric ({arm})"), as_array(x, f"covariate ({arm})")
    if y.size != x.size:
        raise DataError(
            f"CUPED needs one covariate value per unit; {arm} has {y.size} metric values and "
            f"{x.size} covariate values"
        )
    return y, x


def cuped_theta(y_t, x_t, y_c, x_c) -> float:
    """The within-arm pooled slope of ``y`` on ``x`` (0 when ``x`` is constant in each arm)."""
    y_t, x_t = _pair(y_t, x_t, "variant")
    y_c, x_c = _pair(y_c, x_c, "control")
    sxy = ((x_t - x_t.mean()) * (y_t - y_t.mean())).sum() + (
        (x_c - x_c.mean()) * (y_c - y_c.mean())).sum()
    sxx = ((x_t - x_t.mean()) ** 2).sum() + ((x_c - x_c.mean()) ** 2).sum()
    return float(sxy / sxx) if sxx > 0 else 0.0


def cuped_test(y_t, x_t, y_c, x_c, alpha: float = 0.05) -> CupedResult:
    """Welch's test on CUPED-adjusted values.

    Parameters
    ----------
    y_t, x_t : array-like
        Metric and pre-period covariate per unit in the variant.
    y_c, x_c : array-like
        The same in control.
    alpha : float
        Two-sided level.
    """
    y_t, x_t = _pair(y_t, x_t, "variant")
    y_c, x_c = _pair(y_c, x_c, "control")
    theta = cuped_theta(y_t, x_t, y_c, x_c)
    centre = np.concatenate([x_t, x_c]).mean()
    a_t, a_c = y_t - theta * (x_t - centre), y_c - theta * (x_c - centre)
    res = welch_test(a_t, a_c, alpha)

    def within(u: np.ndarray, v: np.ndarray) -> float:
        return float(((u - u.mean()) ** 2).sum() + ((v - v.mean()) ** 2).sum())

    raw = within(y_t, y_c)
    vr = 1 - within(a_t, a_c) / raw if raw > 0 else 0.0
    res = TestResult(**{**res.to_dict(), "method": "cuped-welch"})
    return CupedResult(result=res, theta=theta, variance_reduction=float(vr))
