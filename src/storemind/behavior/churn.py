"""Churn risk: P(no purchase in the next N days), LightGBM on profile and behaviour features,
calibrated on a validation split."""
from __future__ import annotations

from storemind.behavior._gbm import CalibratedGBM

__all__ = ["ChurnModel"]


class ChurnModel(CalibratedGBM):
    """Probability that a customer makes no purchase in the next ``horizon_days``.

    Fit on a snapshot from :func:`storemind.behavior.snapshot` (features at a cutoff, label
    ``churned``); see :class:`~storemind.behavior._gbm.CalibratedGBM` for the parameters.
    ``predict_proba(X)`` gives calibrated churn probabilities; ``explain(X)`` the features
    that drive each one.
    """
