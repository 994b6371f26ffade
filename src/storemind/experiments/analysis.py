"""Fixed-horizon comparisons of two arms: means (Welch), proportions (z), relative lift and
ratio metrics (delta method).

Every function works from per-arm summary statistics (vectorised over numpy arrays, so a
simulation can test thousands of experiments at once) and has a wrapper that takes raw values.
Arm ``t`` is the treatment (variant), arm ``c`` the control; differences are ``t - c``.

Definitions
-----------
Welch: ``diff = mean_t - mean_c``, ``se = sqrt(var_t/n_t + var_c/n_c)`` with sample variances
(ddof=1), Welch-Satterthwaite degrees of freedom
``df = se**4 / ((var_t/n_t)**2/(n_t-1) + (var_c/n_c)**2/(n_c-1))``, interval
``diff +- t_{1-alpha/2, df} * se``, p-value ``2 * P(T_df > |diff/se|)``.

Proportions: the z statistic uses the pooled proportion under the null,
``z = diff / sqrt(p(1-p)(1/n_t + 1/n_c))``; the interval is Wald's with unpooled variances,
``diff +- z_{1-alpha/2} sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c)``.

Relative lift (delta method): ``lift = mean_t/mean_c - 1``,
``se^2 = v_t/mean_c^2 + mean_t^2 v_c/mean_c^4`` where ``v = var/n`` is each mean's variance.

Ratio metric ``R = sum(y)/sum(x)`` over the randomisation units of one arm (e.g. revenue per
session, units = users): ``var(R) = (var_y - 2 R cov_xy + R^2 var_x) / (n mean_x^2)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from storemind.errors import DataError

__all__ = [
    "TestResult",
    "welch_from_stats",
    "welch_test",
    "proportion_test",
    "relative_lift_from_stats",
    "ratio_stats",
    "ratio_test",
    "as_array",
]


@dataclass(frozen=True)
class TestResult:
    """One comparison of a variant with control.

    ``diff`` and its interval are absolute (variant minus control); ``lift`` and its interval
    are relative (variant / control - 1, delta method). ``df`` is None for z tests.
    """

    method: str
    n_t: int
    n_c: int
    mean_t: float
    mean_c: float
    diff: float
    se: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    lift: float
    lift_se: float
    lift_ci_low: float
    lift_ci_high: float
    alpha: float
    df: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha)


def as_array(values: Any, name: str) -> np.ndarray:
    """A 1-D float array without missing values, or a DataError naming ``name``."""
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise DataError(f"{name}: expected at least one value, received an empty array")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{name}: expected finite numbers, received {int(bad.sum())} missing/infinite "
            f"values (first at index {int(np.flatnonzero(bad)[0])})"
        )
    return arr


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1); received {alpha!r}")


def welch_from_stats(mean_t, var_t, n_t, mean_c, var_c, n_c, alpha: float = 0.05) -> dict:
    """Welch's unequal-variance t test from summary statistics (arrays broadcast).

    Returns a dict of arrays: diff, se, df, statistic, p_value, ci_low, ci_high.
    """
    _check_alpha(alpha)
    mean_t, var_t, n_t, mean_c, var_c, n_c = (
        np.asarray(a, dtype=float) for a in (mean_t, var_t, n_t, mean_c, var_c, n_c)
    )
    vt, vc = var_t / n_t, var_c / n_c
    se = np.sqrt(vt + vc)
    diff = mean_t - mean_c
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (vt + vc) ** 2 / (vt**2 / (n_t - 1) + vc**2 / (n_c - 1))
        stat = diff / se
    p = 2 * stats.t.sf(np.abs(stat), df)
    q = stats.t.ppf(1 - alpha / 2, df)
    return {"diff": diff, "se": se, "df": df, "statistic": stat, "p_value": p,
            "ci_low": diff - q * se, "ci_high": diff + q * se}


def relative_lift_from_stats(mean_t, v_t, mean_c, v_c, alpha: float = 0.05) -> dict:
    """Relative lift ``mean_t/mean_c - 1`` with its delta-method standard error and interval.

    ``v_t`` and ``v_c`` are the variances of the two means (``var/n``), not of the values.
    """
    _check_alpha(alpha)
    mean_t, v_t, mean_c, v_c = (np.asarray(a, dtype=float) for a in (mean_t, v_t, mean_c, v_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = mean_t / mean_c - 1
        se = np.sqrt(v_t / mean_c**2 + mean_t**2 * v_c / mean_c**4)
    z = stats.norm.ppf(1 - alpha / 2)
    return {"lift": lift, "lift_se": se, "lift_ci_low": lift - z * se,
            "lift_ci_high": lift + z * se}


def _f(x) -> float:
    return float(np.asarray(x))


def welch_test(y_t, y_c, alpha: float = 0.05) -> TestResult:
    """Welch's t test of ``mean(y_t) - mean(y_c)`` with relative lift (delta method).

    Parameters
    ----------
    y_t, y_c : array-like
        The metric per randomisation unit in the variant and in control (at least 2 each).
    alpha : float
        Two-sided level; intervals cover ``1 - alpha``.
    """
    y_t, y_c = as_array(y_t, "y_t"), as_array(y_c, "y_c")
    if y_t.size < 2 or y_c.size < 2:
        raise DataError(
            f"Welch's test needs at least 2 units per arm; received {y_t.size} and {y_c.size}"
        )
    m_t, m_c = y_t.mean(), y_c.mean()
    s_t, s_c = y_t.var(ddof=1), y_c.var(ddof=1)
    w = welch_from_stats(m_t, s_t, y_t.size, m_c, s_c, y_c.size, alpha)
    lift = relative_lift_from_stats(m_t, s_t / y_t.size, m_c, s_c / y_c.size, alpha)
    return TestResult(
        method="welch", n_t=int(y_t.size), n_c=int(y_c.size), mean_t=float(m_t),
        mean_c=float(m_c), diff=_f(w["diff"]), se=_f(w["se"]), statistic=_f(w["statistic"]),
        p_value=_f(w["p_value"]), ci_low=_f(w["ci_low"]), ci_high=_f(w["ci_high"]),
        lift=_f(lift["lift"]), lift_se=_f(lift["lift_se"]),
        lift_ci_low=_f(lift["lift_ci_low"]), lift_ci_high=_f(lift["lift_ci_high"]),
        alpha=alpha, df=_f(w["df"]),
    )


def proportion_test(x_t: int, n_t: int, x_c: int, n_c: int, alpha: float = 0.05) -> TestResult:
    """Two-proportion z test (pooled under the null) with a Wald interval (unpooled).

    Parameters
    ----------
    x_t, n_t : int
        Successes and units in the variant.
    x_c, n_c : int
        Successes and units in control.
    """
    _check_alpha(alpha)
    for name, x, n in (("variant", x_t, n_t), ("control", x_c, n_c)):
        if n < 1 or x < 0 or x > n:
            raise DataError(
                f"{name}: expected 0 <= successes <= units and units >= 1; "
                f"received successes={x}, units={n}"
            )
    p_t, p_c = x_t / n_t, x_c / n_c
    pooled = (x_t + x_c) / (n_t + n_c)
    diff = p_t - p_c
    se0 = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
    z = diff / se0 if se0 > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(z)))
    v_t, v_c = p_t * (1 - p_t) / n_t, p_c * (1 - p_c) / n_c
    se = float(np.sqrt(v_t + v_c))
    q = stats.norm.ppf(1 - alpha / 2)
    lift = relative_lift_from_stats(p_t, v_t, p_c, v_c, alpha)
    return TestResult(
        method="z-proportions", n_t=int(n_t), n_c=int(n_c), mean_t=p_t, mean_c=p_c,
        diff=diff, se=se, statistic=float(z), p_value=p, ci_low=diff - q * se,
        ci_high=diff + q * se, lift=_f(lift["lift"]), lift_se=_f(lift["lift_se"]),
        lift_ci_low=_f(lift["lift_ci_low"]), lift_ci_high=_f(lift["lift_ci_high"]),
        alpha=alpha,
    )


def ratio_stats(y, x) -> tuple[float, float, int]:
    """The ratio ``sum(y)/sum(x)`` of one arm and its delta-method variance; returns
    (ratio, variance of the ratio, units)."""
    y, x = as_array(y, "numerator"), as_array(x, "denominator")
    if y.size != x.size:
        raise DataError(
            f"a ratio metric needs one numerator and one denominator per unit; received "
            f"{y.size} numerators and {x.size} denominators"
        )
    n = y.size
    if n < 2:
        raise DataError(f"a ratio metric needs at least 2 units per arm; received {n}")
    mx, my = x.mean(), y.mean()
    if mx == 0:
        raise DataError("ratio metric: the denominator sums to 0 in an arm (e.g. no sessions)")
    r = my / mx
    cov = np.cov(y, x, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]) / (n * mx**2)
    return float(r), float(var), n


def ratio_test(y_t, x_t, y_c, x_c, alpha: float = 0.05) -> TestResult:
    """Difference of two ratio metrics (e.g. revenue per session), delta method, z interval.

    ``y`` is the numerator and ``x`` the denominator per randomisation unit (user), so units
    stay independent even though sessions of one user are not.
    """
    _check_alpha(alpha)
    r_t, v_t, n_t = ratio_stats(y_t, x_t)
    r_c, v_c, n_c = ratio_stats(y_c, x_c)
    diff = r_t - r_c
    se = float(np.sqrt(v_t + v_c))
    z = diff / se if se > 0 else 0.0
    q = stats.norm.ppf(1 - alpha / 2)
    lift = relative_lift_from_stats(r_t, v_t, r_c, v_c, alpha)
    return TestResult(
        method="delta-ratio", n_t=n_t, n_c=n_c, mean_t=r_t, mean_c=r_c, diff=diff, se=se,
        statistic=float(z), p_value=float(2 * stats.norm.sf(abs(z))), ci_low=diff - q * se,
        ci_high=diff + q * se, lift=_f(lift["lift"]), lift_se=_f(lift["lift_se"]),
        lift_ci_low=_f(lift["lift_ci_low"]), lift_ci_high=_f(lift["lift_ci_high"]),
        alpha=alpha,
    )
