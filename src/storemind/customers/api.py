"""HTTP routes of the customers capability: one customer's profile, and the segments."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from storemind.customers import pipeline
from storemind.errors import UnknownIdError

__all__ = ["router", "CustomerOut", "SegmentOut"]

router = APIRouter(tags=["customers"])


class CustomerOut(BaseModel):
    """A customer's profile, segment, lifetime value and churn risk."""

    user_id: str
    profile: dict[str, Any] = Field(description="Recency, frequency, spend, tenure, basket, "
                                    "affinities, price index, return rate, channel, device.")
    segment: str | None = Field(None, description="RFM segment (None without purchases).")
    rfm_scores: dict[str, int] | None = None
    cluster: str | None = Field(None, description="Behavioural cluster name.")
    cluster_description: str | None = None
    expected_purchases: float = Field(0.0, description="BG/NBD, next horizon_days days.")
    horizon_days: int
    p_alive: float | None = None
    clv: float = Field(0.0, description="Discounted 12-month value (BG/NBD x Gamma-Gamma).")
    churn_risk: float | None = Field(None, description="P(no purchase in the horizon): the "
                                     "behaviour model's when trained, else 1 - P(alive).")
    churn_source: str | None = None
    model_version: str


class SegmentOut(BaseModel):
    segment: str
    customers: int
    share: float
    recency_days: float
    frequency: float
    monetary: float
    clv: float
    p_alive: float
    advice: str


_PROFILE = ("first_ts", "last_ts", "recency_days", "tenure_days", "frequency", "monetary",
            "avg_order_value", "basket_size", "lines_per_order", "returns", "return_rate",
            "price_index", "top_category", "top_category_share", "top_brand",
            "top_brand_share", "channel", "device", "country", "sessions", "views", "carts")


def _behavior_churn(request: Request, user_id: str) -> float | None:
    try:
        from storemind.behavior.pipeline import churn_of
    except ImportError:
        return None
    try:
        return churn_of(request.app.state.registry, user_id)
    except Exception:  # behaviour not trained: fall back to BG/NBD
        return None


@router.get("/customers/{user_id}", response_model=CustomerOut)
def get_customer(user_id: str, request: Request) -> CustomerOut:
    """Profile, RFM segment, cluster, lifetime value and churn risk of one customer."""
    registry = request.app.state.registry
    row = pipeline.profile_of(registry, user_id)
    mv = registry.get("customers")
    horizon = int(mv.params.get("horizon_days", pipeline.HORIZON_DAYS))
    if row is None:
        store = request.app.state.store
        u = store.table("users")
        known = int(store.execute(u.filter(u.user_id == user_id).count()))
        if not known:
            raise UnknownIdError(f"unknown customer {user_id!r}: not in the users table nor "
                                 f"among the {mv.metrics.get('customers', 0):.0f} scored buyers")
        return CustomerOut(user_id=user_id, profile={"frequency": 0}, horizon_days=horizon,
                           model_version=mv.version)
    row = pipeline._jsonable(row)
    churn = _behavior_churn(request, user_id)
    return CustomerOut(
        user_id=user_id,
        profile={k: row.get(k) for k in _PROFILE if k in row},
        segment=row["segment"],
        rfm_scores={k: int(row[k]) for k in ("R", "F", "M")},
        cluster=row.get("cluster_name") or None,
        cluster_description=row.get("cluster_description") or None,
        expected_purchases=float(row["expected_purchases"]),
        horizon_days=horizon,
        p_alive=row["p_alive"],
        clv=float(row["clv"]),
        churn_risk=churn if churn is not None else row["churn_risk_btyd"],
        churn_source="behavior" if churn is not None else "bgnbd",
        model_version=mv.version,
    )


@router.get("/segments", response_model=list[SegmentOut])
def get_segments(request: Request) -> list[SegmentOut]:
    """Every RFM segment with its size, mean recency/frequency/spend, total CLV and advice."""
    table = pipeline.segment_table(request.app.state.registry)
    return [SegmentOut(**r) for r in table.to_dict("records")]
