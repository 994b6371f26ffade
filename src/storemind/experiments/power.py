"""Power and sample size for a two-arm test (normal approximation).

With ``n_c`` control units and ``n_t = ratio * n_c`` variant units, a true difference ``delta``,
standard deviations ``sd_null`` (of the difference estimate, scaled to ``n_c = 1``) under the
null and ``sd_alt`` under the alternative, the two-sided power is

    Phi(-z_{1-alpha/2} sd_null/sd_alt + |delta| sqrt(n_c)/sd_alt)
      + Phi(-z_{1-alpha/2} sd_null/sd_alt - |delta| sqrt(n_c)/sd_alt)

(both tails, as statsmodels' ``normal_power_het``). Means: ``sd_null = sd_alt =
sd sqrt(1 + 1/ratio)``. Proportions: ``sd_null`` uses the pooled proportion
``(p_c + ratio p_t)/(1 + ratio)``, ``sd_alt = sqrt(p_c(1-p_c) + p_t(1-p_t)/ratio)`` (Fleiss).
Sample sizes solve power = target for ``n_c`` (root finding), rounded up.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from storemind.errors import DataError

__all__ = ["power_means", "power_proportions", "sample_size_means", "sample_size_proportions"]


def _check(alpha: float, ratio: float) -> None:
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1); received {alpha!r}")
    if not ratio > 0:
        raise DataError(f"ratio (variant units per control unit) must be > 0; received {ratio!r}")


def _power(delta: float, n_c, sd_null: float, sd_alt: float, alpha: float):
    crit = stats.norm.isf(alpha / 2)
    shift = abs(delta) * np.sqrt(np.asarray(n_c, dtype=float)) / sd_alt
    k = crit * sd_null / sd_alt
    return stats.norm.sf(k - shift) + stats.norm.cdf(-k - shift)


def _means_sd(sd: float, ratio: float) -> float:
    if not sd > 0:
        raise DataError(f"sd must be > 0; received {sd!r}")
    return sd * math.sqrt(1 + 1 / ratio)


def _prop_sds(p_c: float, mde: float, ratio: float) -> tuple[float, float]:
    p_t = p_c + mde
    if not (0 < p_c < 1 and 0 < p_t < 1):
        raise DataError(
            f"proportions must lie in (0, 1); received baseline {p_c!r} and baseline + mde "
            f"{p_t!r}"
        )
    pooled = (p_c + ratio * p_t) / (1 + ratio)
    sd_null = math.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
    sd_alt = math.sqrt(p_c * (1 - p_c) + p_t * (1 - p_t) / ratio)
    return sd_null, sd_alt


def power_means(mde: float, sd: float, n_control, *, ratio: float = 1.0,
                alpha: float = 0.05):
    """Power of Welch's/z test to detect an absolute difference ``mde`` in means."""
    _check(alpha, ratio)
    s = _means_sd(sd, ratio)
    return _power(mde, n_control, s, s, alpha)


def power_proportions(baseline: float, mde: float, n_control, *, ratio: float = 1.0,
                      alpha: float = 0.05):
    """Power of the two-proportion z test to detect ``baseline -> baseline + mde``."""
    _check(alpha, ratio)
    sd_null, sd_alt = _prop_sds(baseline, mde, ratio)
    return _power(mde, n_control, sd_null, sd_alt, alpha)


def _solve(fn, power: float) -> int:
    if not 0 < power < 1:
        raise DataError(f"power must be in (0, 1); received {power!r}")
    hi = 2.0
    while fn(hi) < power:
        hi *= 2
        if hi > 1e13:
            raise DataError("the effect is too small to detect with any realistic sample size")
    n = optimize.brentq(lambda n: fn(n) - power, 1e-9, hi, xtol=1e-10, rtol=1e-12)
    return int(math.ceil(n - 1e-9))


def sample_size_means(mde: float, sd: float, *, power: float = 0.8, ratio: float = 1.0,
                      alpha: float = 0.05) -> int:
    """Control units needed to detect an absolute difference ``mde`` in means (variant:
    ``ratio`` times as many). ``sd`` is the metric's standard deviation per unit."""
    if mde == 0:
        raise DataError("mde must be non-zero")
    return _solve(lambda n: float(power_means(mde, sd, n, ratio=ratio, alpha=alpha)), power)


def sample_size_proportions(baseline: float, mde: float, *, power: float = 0.8,
                            ratio: float = 1.0, alpha: float = 0.05,
                            relative: bool = False) -> int:
    """Control units needed to detect a change ``mde`` of a rate from ``baseline``.

    ``relative=True`` reads ``mde`` as a relative lift (0.05 = +5 %).
    """
    if mde == 0:
        raise DataError("mde must be non-zero")
    delta = baseline * mde if relative else mde
    return _solve(
        lambda n: float(power_proportions(baseline, delta, n, ratio=ratio, alpha=alpha)), power
    )
