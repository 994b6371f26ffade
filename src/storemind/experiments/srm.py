"""Sample-ratio mismatch: do the arms hold the share of units the design promised?

Pearson's chi-square goodness-of-fit test of the observed units per arm against
``total * weight / sum(weights)``; a p-value below ``alpha`` (0.001 by default, as is usual
because a mismatch means the randomisation or logging is broken) flags the experiment.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from storemind.errors import DataError

__all__ = ["SRMResult", "srm_test"]


@dataclass(frozen=True)
class SRMResult:
    """Observed and expected units per arm, the chi-square statistic and whether it flags."""

    observed: dict[str, int]
    expected: dict[str, float]
    statistic: float
    p_value: float
    alpha: float
    flagged: bool
    message: str = field(default="")


def srm_test(
    observed: Mapping[str, int], weights: Mapping[str, float] | None = None,
    alpha: float = 0.001,
) -> SRMResult:
    """Chi-square test for sample-ratio mismatch.

    Parameters
    ----------
    observed : mapping
        Units per arm, e.g. ``{"control": 10021, "treatment": 9876}``.
    weights : mapping, optional
        The designed traffic weight of each arm (any scale); equal weights if omitted. Every
        arm in ``observed`` must have a weight; a weighted arm with no units counts as 0.
    alpha : float
        Flag when the p-value is below it.
    """
    if weights is None:
        weights = {arm: 1.0 for arm in observed}
    missing = sorted(set(observed) - set(weights))
    if missing:
        raise DataError(
            f"sample-ratio check: arms {missing} were observed but have no designed weight; "
            f"designed arms are {sorted(weights)}"
        )
    arms = list(weights)
    obs = np.array([float(observed.get(a, 0)) for a in arms])
    w = np.array([float(weights[a]) for a in arms])
    if len(arms) < 2 or (w <= 0).any() or (obs < 0).any():
        raise DataError(
            f"sample-ratio check needs at least 2 arms with positive weights and non-negative "
            f"counts; received weights={dict(weights)}, observed={dict(observed)}"
        )
    total = obs.sum()
    if total == 0:
        raise DataError("sample-ratio check: no units observed in any arm")
    exp = total * w / w.sum()
    stat, p = stats.chisquare(obs, exp)
    flagged = bool(p < alpha)
    msg = (
        f"SAMPLE RATIO MISMATCH (chi2={stat:.2f}, p={p:.2g} < {alpha}): the arms do not hold "
        "their designed shares; do not trust these results until the cause is found"
        if flagged else ""
    )
    return SRMResult(
        observed={a: int(o) for a, o in zip(arms, obs, strict=True)},
        expected={a: float(e) for a, e in zip(arms, exp, strict=True)},
        statistic=float(stat), p_value=float(p), alpha=alpha, flagged=flagged, message=msg,
    )
