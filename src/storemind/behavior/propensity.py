"""Purchase propensity: P(at least one purchase in the next N days), for every active user
(buyers and browsers), LightGBM calibrated on the latest training snapshot (or on a validation
split)."""
from __future__ import annotations

from storemind.behavior._gbm import CalibratedGBM

__all__ = ["PurchasePropensity"]


class PurchasePropensity(CalibratedGBM):
    """Probability of a purchase in the next ``horizon_days``.

    Fit on :func:`storemind.behavior.snapshot` with ``population="active"`` and label
    ``purchased``; see :class:`~storemind.behavior._gbm.CalibratedGBM` for the parameters.
    """
