"""Behaviour: churn risk, purchase propensity, next category and conversion funnels."""
from __future__ import annotations

from storemind.behavior._features import (
    CHURN_MONOTONE,
    FEATURES,
    MODEL_FEATURES,
    sequences,
    snapshot,
    snapshot_sequences,
    snapshots,
)
from storemind.behavior._gbm import expected_calibration_error, reliability_table
from storemind.behavior._select import select_params
from storemind.behavior.churn import ChurnModel
from storemind.behavior.funnels import STEPS, funnel
from storemind.behavior.next_category import NextCategory
from storemind.behavior.propensity import PurchasePropensity
from storemind.behavior.sequence import SequenceChurn

__all__ = ["ChurnModel", "PurchasePropensity", "SequenceChurn", "NextCategory", "FEATURES",
           "MODEL_FEATURES", "CHURN_MONOTONE", "STEPS", "funnel", "reliability_table",
           "expected_calibration_error", "select_params", "sequences", "snapshot",
           "snapshot_sequences", "snapshots"]
