"""Recommendations: personalised top-N, similar items, bought together, filters and reasons.

Every model is a :class:`Recommender` fitted on :class:`Interactions` (events with dense
indices); ``recommend(users, k)`` returns item indices and scores, best first.
"""
from __future__ import annotations

from storemind.recommend._base import Recommender
from storemind.recommend._bundle import Bundle, load_bundle, save_bundle
from storemind.recommend._interactions import DEFAULT_WEIGHTS, EVENT_CODES, Interactions
from storemind.recommend.als import ALS
from storemind.recommend.bought_together import BoughtTogether
from storemind.recommend.bpr import BPR
from storemind.recommend.content import ContentRecommender
from storemind.recommend.ease import EASE
from storemind.recommend.hybrid import HybridRanker
from storemind.recommend.itemknn import ItemKNN
from storemind.recommend.popularity import Popularity
from storemind.recommend.sasrec import SASRec

__all__ = [
    "Interactions",
    "Recommender",
    "DEFAULT_WEIGHTS",
    "EVENT_CODES",
    "Popularity",
    "ItemKNN",
    "EASE",
    "ALS",
    "BPR",
    "BoughtTogether",
    "SASRec",
    "ContentRecommender",
    "HybridRanker",
    "Bundle",
    "save_bundle",
    "load_bundle",
]
