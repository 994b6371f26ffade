"""Marketing: who to target with which offer (uplift models), budgeted campaign plans with a
random holdout, click-through prediction for slots, and segment insights.

Uplift learners (LightGBM or regularised linear base models, several treatments against one
control, optional bagged intervals): :class:`SLearner`, :class:`TLearner`, :class:`XLearner`,
:class:`DRLearner`, :class:`ClassTransformation`, and :class:`AutoUplift`, which picks learner
and base model by inner cross-validated Qini. Evaluation on held-out folds: :func:`uplift_folds`,
:func:`uplift_metrics`, :func:`cross_validate_uplift`. Plans: :class:`Offer`,
:func:`plan_campaign`, :func:`plan_value`. Clicks: :class:`ClickModel`,
:func:`click_features`. Insights: :func:`segment_insights`, :func:`campaign_segments`.
"""
from __future__ import annotations

from storemind.marketing._features import click_features, customer_features, uplift_data
from storemind.marketing.auto import AUTO_CANDIDATES, DEFAULT_CANDIDATES, AutoUplift
from storemind.marketing.class_transformation import ClassTransformation
from storemind.marketing.ctr import ClickModel
from storemind.marketing.drlearner import DRLearner
from storemind.marketing.evaluate import cross_validate_uplift, uplift_folds, uplift_metrics
from storemind.marketing.insights import campaign_segments, segment_insights
from storemind.marketing.planner import Offer, plan_campaign, plan_value
from storemind.marketing.slearner import SLearner
from storemind.marketing.tlearner import TLearner
from storemind.marketing.xlearner import XLearner

__all__ = [
    "SLearner",
    "TLearner",
    "XLearner",
    "DRLearner",
    "ClassTransformation",
    "AutoUplift",
    "AUTO_CANDIDATES",
    "DEFAULT_CANDIDATES",
    "ClickModel",
    "uplift_folds",
    "uplift_metrics",
    "cross_validate_uplift",
    "Offer",
    "plan_campaign",
    "plan_value",
    "segment_insights",
    "campaign_segments",
    "uplift_data",
    "customer_features",
    "click_features",
    "LEARNERS",
]

#: The uplift learners by short name.
LEARNERS = {"s": SLearner, "t": TLearner, "x": XLearner, "dr": DRLearner,
            "class_transformation": ClassTransformation, "auto": AutoUplift}
