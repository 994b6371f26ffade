"""Benjamini-Hochberg: false-discovery-rate control across several metrics or variants.

Sort the m p-values, ``p_(1) <= ... <= p_(m)``; the adjusted value (q-value) of ``p_(i)`` is
``min_{j >= i} min(1, m p_(j) / j)``; reject where ``q <= alpha``.
"""
from __future__ import annotations

import numpy as np

from storemind.errors import DataError

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """BH step-up procedure.

    Parameters
    ----------
    p_values : array-like
        One p-value per hypothesis, each in [0, 1].
    alpha : float
        The false discovery rate to control.

    Returns
    -------
    reject : ndarray of bool
    adjusted : ndarray of float
        The BH-adjusted p-values, in the input order.
    """
    p = np.asarray(p_values, dtype=float).ravel()
    if p.size == 0:
        return np.zeros(0, dtype=bool), np.zeros(0)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise DataError(f"p-values must be finite and in [0, 1]; received {p.tolist()}")
    if not 0 < alpha < 1:
        raise DataError(f"alpha must be in (0, 1); received {alpha!r}")
    m = p.size
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    adjusted = np.empty(m)
    adjusted[order] = q_sorted
    return adjusted <= alpha, adjusted
