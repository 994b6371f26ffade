"""HTTP routes of the behaviour capability: a customer's churn risk, and conversion funnels."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from storemind.behavior import pipeline
from storemind.behavior.funnels import funnel

__all__ = ["router", "ChurnOut", "FunnelRow"]

router = APIRouter(tags=["behavior"])


class Driver(BaseModel):
    feature: str
    value: Any = None
    contribution: float = Field(description="Log-odds; positive raises the churn risk.")


class ChurnOut(BaseModel):
    """Churn risk (P(no purchase in the next horizon_days)) and what drives it."""

    user_id: str
    horizon_days: int
    churn_risk: float | None = Field(None, description="None for users who never bought.")
    drivers: list[Driver] = []
    purchase_propensity: float | None = None
    next_category: str | None = None
    next_category_p: float | None = None
    model_version: str


class FunnelRow(BaseModel):
    group: str
    views: int
    carts: int
    purchases: int
    view_to_cart: float | None
    cart_to_purchase: float | None
    view_to_purchase: float | None


@router.get("/customers/{user_id}/churn", response_model=ChurnOut)
def get_churn(user_id: str, request: Request) -> ChurnOut:
    """Churn risk of one customer, the features that drive it, purchase propensity and the
    most likely next category (404 for an unknown id)."""
    return ChurnOut(**pipeline.customer_churn(request.app.state.registry, user_id))


@router.get("/funnel", response_model=list[FunnelRow])
def get_funnel(request: Request,
               by: Literal["week", "category", "segment", "all"] = Query("week")
               ) -> list[FunnelRow]:
    """View -> cart -> purchase conversion by week, category or RFM segment."""
    segments = None
    if by == "segment":
        from storemind.customers.pipeline import load_scores

        segments = load_scores(request.app.state.registry)[["user_id", "segment"]]
    frame = funnel(request.app.state.store, by, segments=segments)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [FunnelRow(**r) for r in rows]
