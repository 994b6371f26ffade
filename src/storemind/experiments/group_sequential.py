"""Group-sequential tests: Lan-DeMets alpha spending over planned looks.

When the number and timing of looks are planned (say, one look a day for 14 days), a
group-sequential test spends exactly ``alpha`` over those looks, where the always-valid
confidence sequence (:mod:`storemind.experiments.sequential`) protects against continuous
monitoring and is therefore conservative at a handful of looks.

Definitions. Look ``k`` has information ``I_k`` (units so far, or any quantity proportional to
``1/se^2``) and information fraction ``t_k = I_k / I_max`` with ``I_max`` the planned final
information. Under the null the z-statistics ``Z_1, ..., Z_K`` are jointly normal with
``corr(Z_j, Z_k) = sqrt(I_j / I_k)`` (independent increments of the score ``S_k = Z_k sqrt(I_k)``).
The Lan-DeMets spending function ``a(t)`` (Lan and DeMets 1983) says how much one-sided
type-I error may have been spent by fraction ``t``; with one-sided level ``a`` (``alpha / 2``
per side for a two-sided test):

- O'Brien-Fleming type: ``a(t) = 2 (1 - Phi( Phi^{-1}(1 - a/2) / sqrt(t) ))``
- Pocock type: ``a(t) = a log(1 + (e - 1) t)``

and ``a(t) = a`` for ``t >= 1``. The boundary ``c_k`` solves

    P( Z_k >= c_k, |Z_j| < c_j for j < k ) = a(t_k) - a(t_{k-1})

(two-sided: symmetric, the same amount on the lower side; one-sided: ``Z_j < c_j``). The
probabilities come from the recursive numerical integration of Armitage, McPherson and Rowe
(1969) as laid out by Jennison and Turnbull (2000, *Group Sequential Methods with Applications
to Clinical Trials*, ch. 19): the sub-density of ``Z_k`` on the continuation region is carried
from look to look on a grid (their grid of ``6r - 1`` points, Simpson's rule) by the normal
transition density of the independent increment. Boundaries depend on the *observed*
information at each look, so unequal daily traffic is handled; information beyond the plan
(``t > 1``) spends whatever is left at that look and nothing afterwards.

Following the convention of R's ``gsDesign`` (``sfLDOF``, ``sfLDPocock``) and ``ldbounds``,
two-sided ``alpha = 0.05`` spends ``0.025`` per side with the functions above; with five equally
spaced looks this gives the O'Brien-Fleming-type boundaries 4.877, 3.357, 2.680, 2.290, 2.031.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from storemind.errors import DataError

__all__ = [
    "alpha_spent",
    "spending_boundaries",
    "crossing_probabilities",
    "GroupSequentialResult",
    "group_sequential_test",
    "group_sequential_path",
]

Spending = Literal["obrien_fleming", "pocock"]
_SPENDING = ("obrien_fleming", "pocock")
_R = 18  # grid size parameter of Jennison & Turnbull (2000, sec. 19.2.1); gsDesign uses 18
_SQRT_2PI = np.sqrt(2 * np.pi)


def _sf(x):
    return special.ndtr(-np.asarray(x, dtype=float))


def _pdf(x):
    return np.exp(-0.5 * np.square(x)) / _SQRT_2PI


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1); received {alpha!r}")


def alpha_spent(t, alpha: float = 0.05, spending: Spending = "obrien_fleming",
                two_sided: bool = True) -> np.ndarray:
    """Cumulative type-I error spent by information fraction ``t`` (all sides together).

    Parameters
    ----------
    t : array-like
        Information fractions, ``>= 0``; values above 1 count as 1.
    alpha : float
        Overall level: two-sided (``alpha / 2`` per side) or one-sided.
    spending : {"obrien_fleming", "pocock"}
        Lan-DeMets spending function (see the module docstring for the formulas).
    two_sided : bool
        Whether ``alpha`` is split over two symmetric sides.

    Returns
    -------
    ndarray
        ``a(t)`` per side times the number of sides; equals ``alpha`` at ``t >= 1``.
    """
    _check_alpha(alpha)
    if spending not in _SPENDING:
        raise DataError(f"spending must be one of {_SPENDING}; received {spending!r}")
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    side = alpha / 2 if two_sided else alpha
    if spending == "obrien_fleming":
        with np.errstate(divide="ignore"):
            a = 2 * stats.norm.sf(stats.norm.isf(side / 2) / np.sqrt(t))
    else:
        a = side * np.log1p((np.e - 1) * t)
    return a * (2 if two_sided else 1)


def _check_info(info) -> np.ndarray:
    info = np.asarray(info, dtype=float)
    if info.ndim != 1 or info.size == 0:
        raise DataError(f"information fractions must be a non-empty 1-D sequence; received "
                        f"shape {info.shape}")
    if not np.all(np.isfinite(info)) or info[0] <= 0 or np.any(np.diff(info) <= 0):
        raise DataError("information (fractions or units per look) must be positive, finite "
                        f"and strictly increasing; received {info.tolist()}")
    return info


def _grid(mean: float, low: float, high: float, r: int = _R) -> tuple[np.ndarray, np.ndarray]:
    """Jennison-Turnbull grid around ``mean`` cut to ``(low, high)``, with Simpson weights."""
    i = np.arange(1, 6 * r)
    x = np.where(i < r, -3 - 4 * np.log(r / np.maximum(i, 1)),
                 np.where(i <= 5 * r, -3 + 3 * (i - r) / (2 * r),
                          3 + 4 * np.log(r / np.maximum(6 * r - i, 1)))) + mean
    x = np.unique(np.clip(x, low, high))
    if x.size < 2:
        return x, np.zeros_like(x)
    mid = (x[:-1] + x[1:]) / 2
    z = np.empty(2 * x.size - 1)
    z[0::2], z[1::2] = x, mid
    w = np.zeros_like(z)
    d = np.diff(x) / 6
    w[0:-1:2] += d
    w[1::2] += 4 * d
    w[2::2] += d
    return z, w


def _exit_prob(c: float, upper: bool, k: int, sq: np.ndarray, mean_k: float, prev) -> float:
    """P(Z_k beyond ``c`` (above, or below ``-c``) and no crossing before look ``k``).

    ``prev`` is None at the first look, else ``(wh, shift, sd)``: weighted sub-density of the
    previous look on its grid, the mean of the increment given each grid point, and its sd."""
    if prev is None:
        return float(_sf(c - mean_k) if upper else special.ndtr(-c - mean_k))
    wh, shift, sd = prev
    if upper:
        return float(wh @ _sf((c * sq[k] - shift) / sd))
    return float(wh @ special.ndtr((-c * sq[k] - shift) / sd))


def _recursion(info: np.ndarray, drift: float, upper_at, two_sided: bool):
    """Walk the looks; ``upper_at(k, exit_prob)`` returns look ``k``'s upper boundary given a
    function ``exit_prob(c)`` = P(cross above ``c`` at look k, no earlier crossing).
    Returns boundaries and per-look (upper, lower) crossing probabilities."""
    sq = np.sqrt(info)
    k_looks = info.size
    bounds = np.empty(k_looks)
    up = np.zeros(k_looks)
    lo = np.zeros(k_looks)
    z = w = h = None  # grid, weights, sub-density of the previous look
    prev = None
    for k in range(k_looks):
        mean_k = drift * sq[k]
        if k > 0:
            delta = info[k] - info[k - 1]
            prev = (w * h, z * sq[k - 1] + drift * delta, np.sqrt(delta))
        exit_up = partial(_exit_prob, upper=True, k=k, sq=sq, mean_k=mean_k, prev=prev)
        c = upper_at(k, exit_up)
        bounds[k] = c
        finite = bool(np.isfinite(c))
        up[k] = exit_up(c) if finite else 0.0
        if two_sided and finite:
            lo[k] = _exit_prob(c, False, k, sq, mean_k, prev)
        if k + 1 < k_looks:
            z_new, w_new = _grid(mean_k, -c if two_sided else -np.inf, c)
            if prev is None:
                h = _pdf(z_new - mean_k)
            else:
                wh, shift, sd = prev
                h = _pdf((z_new[:, None] * sq[k] - shift[None, :]) / sd) @ wh * sq[k] / sd
            z, w = z_new, w_new
    return bounds, up, lo


def spending_boundaries(info_fractions: Sequence[float] | np.ndarray, alpha: float = 0.05,
                        spending: Spending = "obrien_fleming", two_sided: bool = True,
                        ) -> np.ndarray:
    """Z-statistic boundaries of a Lan-DeMets group-sequential test.

    Parameters
    ----------
    info_fractions : sequence of float
        Information fraction at each look, strictly increasing (``n_k / n_planned``); values
        above 1 (more data than planned) spend the rest of ``alpha`` at the first such look and
        nothing after it (boundary ``inf``).
    alpha : float
        Overall type-I error (two-sided unless ``two_sided=False``).
    spending : {"obrien_fleming", "pocock"}
        Spending function.
    two_sided : bool
        Symmetric two-sided boundaries ``|Z_k| >= c_k`` or one-sided ``Z_k >= c_k``.

    Returns
    -------
    ndarray
        ``c_k`` per look (``inf`` where a look gets no alpha).

    Examples
    --------
    >>> spending_boundaries([0.2, 0.4, 0.6, 0.8, 1.0]).round(3)
    array([4.877, 3.357, 2.68 , 2.29 , 2.031])
    """
    info = _check_info(info_fractions)
    spent = alpha_spent(info, alpha, spending, two_sided) / (2 if two_sided else 1)
    target = np.diff(spent, prepend=0.0)

    def upper_at(k: int, exit_up) -> float:
        if target[k] <= 0:
            return np.inf
        f = lambda c: exit_up(c) - target[k]  # noqa: E731
        lo_c, hi_c = 0.0, 1.0
        while f(hi_c) > 0:
            hi_c *= 2
            if hi_c > 64:
                return np.inf
        if f(lo_c) < 0:  # even c = 0 spends less than allowed: cannot spend it all here
            return 0.0
        return float(optimize.brentq(f, lo_c, hi_c, xtol=1e-10, rtol=1e-12))

    bounds, _, _ = _recursion(info, 0.0, upper_at, two_sided)
    return bounds


def crossing_probabilities(boundaries, info_fractions, drift: float = 0.0,
                           two_sided: bool = True) -> pd.DataFrame:
    """Probability of first crossing each look's boundary, above and below.

    Parameters
    ----------
    boundaries : array-like
        ``c_k`` per look (as returned by :func:`spending_boundaries`).
    info_fractions : array-like
        Information fraction (or any quantity proportional to information) per look.
    drift : float
        Mean of the z-statistic at information fraction 1 (``0`` under the null); at look ``k``
        the mean is ``drift * sqrt(t_k)``. A fixed-horizon test with power ``1 - beta`` at
        two-sided level ``alpha`` has ``drift = z_{1-alpha/2} + z_{1-beta}``.
    two_sided : bool
        Whether the lower boundary ``-c_k`` stops the test too.

    Returns
    -------
    DataFrame
        Columns ``upper``, ``lower`` (first-crossing probabilities per look) and ``cumulative``
        (probability of having stopped by that look).
    """
    info = _check_info(info_fractions)
    b = np.asarray(boundaries, dtype=float)
    if b.shape != info.shape or np.any(np.isnan(b)) or np.any(b < 0):
        raise DataError(f"boundaries must be non-negative, one per look ({info.size}); "
                        f"received {b.tolist()}")
    if not np.isfinite(drift):
        raise DataError(f"drift must be finite; received {drift!r}")
    _, up, lo = _recursion(info, float(drift), lambda k, _f: float(b[k]), two_sided)
    return pd.DataFrame({"upper": up, "lower": lo, "cumulative": np.cumsum(up + lo)})


@dataclass(frozen=True)
class GroupSequentialResult:
    """A group-sequential test after the looks seen so far.

    ``first_crossing`` is the 0-based index of the first look whose ``|z|`` (one-sided: ``z``)
    reached its boundary, or ``None``; the test stops there and rejects the null.
    """

    n: np.ndarray
    info_fractions: np.ndarray
    z: np.ndarray
    boundaries: np.ndarray
    crossed: np.ndarray
    first_crossing: int | None
    alpha: float
    spending: str
    two_sided: bool
    alpha_spent: np.ndarray = field(repr=False)

    @property
    def significant(self) -> bool:
        return self.first_crossing is not None

    @property
    def nominal_alpha(self) -> np.ndarray:
        """The fixed-test level each boundary corresponds to on its own."""
        return stats.norm.sf(self.boundaries) * (2 if self.two_sided else 1)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"n": self.n, "info_fraction": self.info_fractions, "z": self.z,
                             "boundary": self.boundaries, "nominal_alpha": self.nominal_alpha,
                             "alpha_spent": self.alpha_spent, "crossed": self.crossed})

    def to_dict(self) -> dict[str, Any]:
        return {"first_crossing": self.first_crossing, "significant": self.significant,
                "alpha": self.alpha, "spending": self.spending, "two_sided": self.two_sided,
                "looks": self.to_frame().to_dict(orient="records")}


def group_sequential_test(z, n, planned_n: float | None = None, alpha: float = 0.05,
                          spending: Spending = "obrien_fleming", two_sided: bool = True,
                          ) -> GroupSequentialResult:
    """Test the z-statistics seen at each look against Lan-DeMets boundaries.

    Parameters
    ----------
    z : array-like
        The fixed-horizon z-statistic (``diff / se`` on all data so far) at each look.
    n : array-like
        Units so far (both arms) at each look, strictly increasing; the information fractions
        are ``n / planned_n``, so unequal growth between looks is taken into account.
    planned_n : float, optional
        Units planned at the final look; defaults to ``n[-1]`` (the last look is the final one).
        With fewer units than planned so far, only the alpha of the fractions reached is spent.
    alpha, spending, two_sided
        As in :func:`spending_boundaries`.

    Returns
    -------
    GroupSequentialResult
    """
    z = np.asarray(z, dtype=float)
    n = np.asarray(n, dtype=float)
    if z.shape != n.shape or z.ndim != 1:
        raise DataError(f"z and n must be 1-D with one value per look; received shapes "
                        f"{z.shape} and {n.shape}")
    n = _check_info(n)
    if np.any(~np.isfinite(z)):
        raise DataError(f"z must be finite at every look; received {z.tolist()}")
    planned = float(n[-1] if planned_n is None else planned_n)
    if not planned > 0:
        raise DataError(f"planned_n must be positive; received {planned_n!r}")
    t = n / planned
    b = spending_boundaries(t, alpha, spending, two_sided)
    crossed = (np.abs(z) if two_sided else z) >= b
    hits = np.flatnonzero(crossed)
    return GroupSequentialResult(
        n=n, info_fractions=t, z=z, boundaries=b, crossed=crossed,
        first_crossing=int(hits[0]) if hits.size else None, alpha=alpha, spending=spending,
        two_sided=two_sided, alpha_spent=alpha_spent(t, alpha, spending, two_sided))


def group_sequential_path(looks: pd.DataFrame, planned_n: float | None = None,
                          alpha: float = 0.05, spending: Spending = "obrien_fleming",
                          two_sided: bool = True) -> pd.DataFrame:
    """Boundaries for a table of looks, as :func:`~storemind.experiments.sequential_path` does.

    Parameters
    ----------
    looks : DataFrame
        One row per look (cumulative data so far) with columns ``n`` (units so far, both arms),
        ``diff`` and ``se``.

    Returns
    -------
    DataFrame
        ``looks`` plus ``z``, ``info_fraction``, ``boundary``, ``crossed`` and ``significant``
        (whether any look so far crossed).
    """
    missing = {"n", "diff", "se"} - set(looks.columns)
    if missing:
        raise DataError(f"group_sequential_path needs columns n, diff, se; missing "
                        f"{sorted(missing)}")
    se = looks["se"].to_numpy(dtype=float)
    if np.any(~(se > 0)):
        raise DataError(f"se must be positive at every look; received {se.tolist()}")
    res = group_sequential_test(looks["diff"].to_numpy(dtype=float) / se,
                                looks["n"].to_numpy(dtype=float), planned_n, alpha, spending,
                                two_sided)
    out = looks.copy()
    out["z"] = res.z
    out["info_fraction"] = res.info_fractions
    out["boundary"] = res.boundaries
    out["crossed"] = res.crossed
    out["significant"] = np.logical_or.accumulate(res.crossed)
    return out
