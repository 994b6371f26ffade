"""Customers: who they are and what they are worth (profiles, segments, lifetime value)."""
from __future__ import annotations

from storemind.customers._features import rfm
from storemind.customers._summary import rfm_summary
from storemind.customers.bgnbd import BGNBD
from storemind.customers.gamma_gamma import GammaGamma, customer_lifetime_value

__all__ = ["BGNBD", "GammaGamma", "customer_lifetime_value", "rfm", "rfm_summary"]
