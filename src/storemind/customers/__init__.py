"""Customers: who they are and what they are worth (profiles, segments, lifetime value)."""
from __future__ import annotations

from storemind.customers._features import browse_price_index, category_shares, profiles, rfm
from storemind.customers._summary import rfm_summary
from storemind.customers.bgnbd import BGNBD
from storemind.customers.clusters import BehaviorClusters
from storemind.customers.gamma_gamma import GammaGamma, customer_lifetime_value
from storemind.customers.segments import SEGMENT_ADVICE, SEGMENTS, RFMSegmenter

__all__ = ["BGNBD", "GammaGamma", "customer_lifetime_value", "rfm", "rfm_summary", "profiles",
           "category_shares", "browse_price_index", "RFMSegmenter", "SEGMENTS",
           "SEGMENT_ADVICE", "BehaviorClusters"]
