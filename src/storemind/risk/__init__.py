"""Risk control: fraud scores with reasons, declarative rules, real-time decisions and an
alert queue.

* features: :class:`FeatureState` (one code path offline and online), :func:`replay`,
  :func:`payment_records`
* models: :class:`FraudGBM` (LightGBM, class weights, calibrated, SHAP reasons),
  :class:`ECOD` (unsupervised), :class:`RiskScorer` (both, with thresholds and decisions)
* rules: :class:`RuleSet` (versioned YAML, hot-reloaded by :class:`LiveRisk`)
* thresholds: :func:`choose_threshold` (review budget, precision or recall target)
"""
from __future__ import annotations

from storemind.risk._features import FeatureState, payment_records, replay
from storemind.risk.ecod import ECOD
from storemind.risk.gbm import FraudGBM
from storemind.risk.online import LABELS, LiveRisk
from storemind.risk.rules import ACTIONS, DEFAULT_RULES_YAML, Rule, RuleSet
from storemind.risk.scorer import Decision, RiskScorer, fit_scorer
from storemind.risk.thresholds import choose_threshold, precision_recall_at

__all__ = [
    "FeatureState", "replay", "payment_records",
    "FraudGBM", "ECOD", "RiskScorer", "Decision", "fit_scorer",
    "Rule", "RuleSet", "ACTIONS", "DEFAULT_RULES_YAML",
    "LiveRisk", "LABELS",
    "choose_threshold", "precision_recall_at",
]
