"""Behaviour: churn risk, purchase propensity, next category and conversion funnels."""
from __future__ import annotations

from storemind.behavior._features import FEATURES, sequences, snapshot
from storemind.behavior._gbm import reliability_table
from storemind.behavior.churn import ChurnModel
from storemind.behavior.funnels import STEPS, funnel
from storemind.behavior.next_category import NextCategory
from storemind.behavior.propensity import PurchasePropensity
from storemind.behavior.sequence import SequenceChurn

__all__ = ["ChurnModel", "PurchasePropensity", "SequenceChurn", "NextCategory", "FEATURES",
           "STEPS", "funnel", "reliability_table", "sequences", "snapshot"]
