"""Splits and metrics shared by every capability: pure functions, no models, no store.

* splits: :func:`temporal_split`, :func:`leave_last_out`, :func:`per_user_temporal_split`
* ranking (full ranking, top-k lists): :func:`ndcg_at_k` (and :func:`ndcg_from_ranks`),
  :func:`recall_at_k`, :func:`precision_at_k`, :func:`hit_rate_at_k`, :func:`mrr_at_k`,
  :func:`map_at_k`, :func:`catalogue_coverage`, :func:`popularity_bias`; over given
  candidate lists (learning to rank): :func:`grouped_ndcg`
* classification (with sample weights): :func:`roc_auc`, :func:`pr_auc`, :func:`log_loss`,
  :func:`brier`
* regression and forecasts: :func:`mae`, :func:`rmse`, :func:`mase`, :func:`wape`, :func:`wmae`
* uplift (scikit-uplift's definitions): :func:`qini_curve`, :func:`uplift_curve`,
  :func:`perfect_qini_curve`, :func:`perfect_uplift_curve`, :func:`qini_coefficient`,
  :func:`auuc`, :func:`uplift_at_k`

Exact definitions: ``docs/evaluation.md``.
"""
from __future__ import annotations

from storemind.evaluation.classification import brier, log_loss, pr_auc, roc_auc
from storemind.evaluation.ranking import (
    catalogue_coverage,
    grouped_ndcg,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    ndcg_from_ranks,
    popularity_bias,
    precision_at_k,
    recall_at_k,
)
from storemind.evaluation.regression import mae, mase, rmse, wape, wmae
from storemind.evaluation.splits import leave_last_out, per_user_temporal_split, temporal_split
from storemind.evaluation.uplift import (
    auuc,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_curve,
)

__all__ = [
    "temporal_split",
    "leave_last_out",
    "per_user_temporal_split",
    "ndcg_at_k",
    "ndcg_from_ranks",
    "grouped_ndcg",
    "recall_at_k",
    "precision_at_k",
    "hit_rate_at_k",
    "mrr_at_k",
    "map_at_k",
    "catalogue_coverage",
    "popularity_bias",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "mae",
    "rmse",
    "mase",
    "wape",
    "wmae",
    "qini_curve",
    "uplift_curve",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "qini_coefficient",
    "auuc",
    "uplift_at_k",
]
