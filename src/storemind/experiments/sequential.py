"""Always-valid inference: confidence sequences that may be looked at every day.

We use the two-sided normal-mixture boundary of Robbins, in the asymptotic form of
Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas ("Time-uniform central limit theory and
asymptotic confidence sequences", Annals of Statistics 2024; Howard et al. 2021). With ``N``
units so far and the fixed-horizon estimate ``diff`` with standard error ``se``, the
``1 - alpha`` confidence sequence is

    diff +- se * sqrt( (N rho^2 + 1) / (N rho^2) * 2 log( sqrt(N rho^2 + 1) / alpha ) )

and holds at all ``N`` at once (asymptotically), so stopping when it excludes 0 keeps the
false-positive rate below ``alpha`` however often one looks. ``rho^2`` sets the sample size
where the sequence is tightest; it must be fixed before the data are seen:
``rho^2 = (-2 log alpha + log(1 - 2 log alpha)) / t_star`` (Howard et al. 2021, eq. 3.10)
with ``t_star`` the planned number of units.

The matching always-valid p-value (mixture SPRT, Johari et al. 2017) is the running minimum of
``min(1, 1/Lambda_N)`` with ``Lambda_N = exp( N rho^2/(N rho^2 + 1) * z^2/2 ) /
sqrt(N rho^2 + 1)`` and ``z = diff/se``: it is below ``alpha`` exactly when the sequence
excludes 0.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = [
    "mixture_rho2",
    "cs_multiplier",
    "confidence_sequence",
    "always_valid_p",
    "SequentialResult",
    "sequential_path",
]


def mixture_rho2(t_star: float, alpha: float = 0.05) -> float:
    """The mixture precision that makes the sequence tightest at ``t_star`` units."""
    if not t_star > 0:
        raise DataError(f"t_star (planned units) must be positive; received {t_star!r}")
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1); received {alpha!r}")
    la = -2 * np.log(alpha)
    return float((la + np.log(1 + la)) / t_star)


def cs_multiplier(n, alpha: float = 0.05, t_star: float = 10_000) -> np.ndarray:
    """What multiplies the standard error in the confidence sequence at ``n`` units."""
    rho2 = mixture_rho2(t_star, alpha)
    n = np.asarray(n, dtype=float)
    a = n * rho2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((a + 1) / a * 2 * np.log(np.sqrt(a + 1) / alpha))


def confidence_sequence(diff, se, n, alpha: float = 0.05, t_star: float = 10_000):
    """The confidence sequence at ``n`` units: (low, high) arrays (broadcast)."""
    m = cs_multiplier(n, alpha, t_star) * np.asarray(se, dtype=float)
    diff = np.asarray(diff, dtype=float)
    return diff - m, diff + m


def always_valid_p(diff, se, n, alpha: float = 0.05, t_star: float = 10_000) -> np.ndarray:
    """The mixture-SPRT p-value at ``n`` units (not yet the running minimum over looks)."""
    rho2 = mixture_rho2(t_star, alpha)
    a = np.asarray(n, dtype=float) * rho2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.asarray(diff, dtype=float) / np.asarray(se, dtype=float)
    log_lambda = a / (a + 1) * z**2 / 2 - 0.5 * np.log(a + 1)
    return np.minimum(1.0, np.exp(-log_lambda))


@dataclass(frozen=True)
class SequentialResult:
    """The confidence sequence and always-valid p-value at the latest look."""

    n: int
    diff: float
    se: float
    cs_low: float
    cs_high: float
    p_value: float
    alpha: float
    t_star: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha)


def sequential_path(looks: pd.DataFrame, alpha: float = 0.05, t_star: float = 10_000,
                    ) -> pd.DataFrame:
    """Confidence sequence at each look, with the running intersection and running min p.

    Parameters
    ----------
    looks : DataFrame
        One row per look (e.g. per day, cumulative data so far) with columns ``n`` (units so
        far, both arms), ``diff`` and ``se`` (the fixed-horizon estimate at that look).

    Returns
    -------
    DataFrame
        ``looks`` plus ``cs_low``, ``cs_high`` (intersected with all earlier looks),
        ``p_value`` (running minimum) and ``significant``.
    """
    missing = {"n", "diff", "se"} - set(looks.columns)
    if missing:
        raise DataError(f"sequential_path needs columns n, diff, se; missing {sorted(missing)}")
    out = looks.copy()
    lo, hi = confidence_sequence(out["diff"], out["se"], out["n"], alpha, t_star)
    out["cs_low"] = np.maximum.accumulate(np.nan_to_num(lo, nan=-np.inf))
    out["cs_high"] = np.minimum.accumulate(np.nan_to_num(hi, nan=np.inf))
    p = always_valid_p(out["diff"], out["se"], out["n"], alpha, t_star)
    out["p_value"] = np.minimum.accumulate(np.nan_to_num(p, nan=1.0))
    out["significant"] = out["p_value"] < alpha
    return out
