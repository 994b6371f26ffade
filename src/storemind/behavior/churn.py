"""Churn risk: P(no purchase in the next N days), LightGBM on profile and behaviour features,
calibrated on the latest training snapshot (or on a validation split)."""
from __future__ import annotations

from storemind.behavior._gbm import CalibratedGBM

__all__ = ["ChurnModel"]


class ChurnModel(CalibratedGBM):
    """Probability that a customer makes no purchase in the next ``horizon_days``.

    Fit on snapshots from :func:`storemind.behavior.snapshots` (features at several cutoffs,
    label ``churned``; pass ``cutoff=frame.cutoff`` with ``calibration="latest"``); see
    :class:`~storemind.behavior._gbm.CalibratedGBM` for the parameters.
    ``predict_proba(X)`` gives calibrated churn probabilities; ``explain(X)`` the features
    that drive each one.
    """
