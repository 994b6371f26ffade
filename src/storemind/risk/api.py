"""HTTP routes of the risk capability: real-time payment decisions, labels and the alert
queue."""
from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, BackgroundTasks, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from storemind._web import StoreTime, get_state
from storemind.errors import UnknownIdError
from storemind.risk.online import LABELS, LiveRisk

__all__ = ["router", "setup", "live_risk", "PaymentIn", "DecisionOut", "LabelIn"]

router = APIRouter(tags=["risk"])
_create_lock = threading.Lock()


class BasketLine(BaseModel):
    item_id: str | None = None
    quantity: float = Field(1.0, ge=0)
    unit_price: float | None = Field(None, ge=0)


class PaymentIn(BaseModel):
    """A payment to score: the ``payments`` columns, plus the order's shipping address and
    basket, and the customer's sign-up details when the store does not know the customer."""

    model_config = ConfigDict(extra="forbid")

    payment_id: str | None = Field(
        None, min_length=1, max_length=200,
        description="Without one, the payment gets an id from its content (returned in the "
        "answer), so a retried request gets the first decision.")
    ts: StoreTime
    amount: float = Field(ge=0)
    user_id: str | None = None
    order_id: str | None = None
    currency: str | None = None
    method: str | None = None
    card_id: str | None = None
    device_id: str | None = None
    ip: str | None = None
    country: str | None = None
    attributes: dict[str, Any] | None = None
    shipping_address: str | None = None
    items: list[BasketLine] | None = Field(None, max_length=1000)
    basket_lines: float | None = None
    basket_units: float | None = None
    basket_max_price: float | None = None
    signup_ts: StoreTime | None = None
    user_country: str | None = None
    user_source: str | None = None


class DecisionOut(BaseModel):
    payment_id: str
    action: str = Field(description="allow, review or block")
    score: float = Field(description="Calibrated fraud probability.")
    anomaly: float = Field(description="Percentile of the unsupervised detector's score.")
    reasons: list[str] = Field(description="Rule reason codes, then the top model features.")
    rule_hits: list[dict[str, str]]
    top_features: list[dict[str, Any]]
    thresholds: dict[str, float]
    model_version: str | None
    rules_version: str | None
    decided_at: str


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(description=f"One of {sorted(LABELS)}.")
    note: str = Field("", max_length=2000)


class LabelOut(BaseModel):
    payment_id: str
    label: str
    is_fraud: int
    labelled_at: str


def live_risk(request: Request) -> LiveRisk:
    """The app's :class:`LiveRisk`, created on first use."""
    live = get_state(request, "risk_live")
    if live is None:
        with _create_lock:
            live = get_state(request, "risk_live")
            if live is None:
                s = request.app.state
                live = LiveRisk(s.store, s.registry, s.settings.home)
                s.risk_live = live
    return live


def _to_payment(body: PaymentIn) -> dict[str, Any]:
    p = body.model_dump(exclude={"items"})  # times are naive UTC already (StoreTime)
    if body.items:
        p["basket_lines"] = float(len(body.items))
        p["basket_units"] = float(sum(i.quantity for i in body.items))
        prices = [i.unit_price for i in body.items if i.unit_price is not None]
        p["basket_max_price"] = max(prices) if prices else None
    return p


@router.post("/payments/score", response_model=DecisionOut)
def score_payment(body: PaymentIn, request: Request, tasks: BackgroundTasks) -> DecisionOut:
    """Decide on a payment in real time: fraud score, action (allow / review / block) and
    reasons. The payment joins the live history and is logged; re-posting a ``payment_id``
    (or, without one, the same payment) returns its first decision."""
    live = live_risk(request)
    row = live.score(_to_payment(body))
    if live.flush_due():
        tasks.add_task(live.flush)
    return DecisionOut(**{k: row[k] for k in DecisionOut.model_fields})


@router.get("/payments/{payment_id}/decision", response_model=DecisionOut)
def get_decision(payment_id: str, request: Request) -> DecisionOut:
    """The logged decision of a scored payment."""
    row = live_risk(request).decisions.get(payment_id)
    if row is None:
        raise UnknownIdError(f"no decision for payment {payment_id!r}; score it with "
                             "POST /v1/payments/score")
    return DecisionOut(**{k: row[k] for k in DecisionOut.model_fields})


@router.post("/payments/{payment_id}/label", response_model=LabelOut)
def label_payment(payment_id: str, body: LabelIn, request: Request) -> LabelOut:
    """Record a payment's outcome (fraud, chargeback or legitimate) for the next training."""
    row = live_risk(request).label(payment_id, body.label, body.note)
    return LabelOut(**{k: row[k] for k in LabelOut.model_fields})


@router.get("/risk/alerts")
def alerts(request: Request, limit: int = Query(100, ge=1, le=10_000),
           include_labelled: bool = False) -> list[dict[str, Any]]:
    """The alert queue: payments sent to review, highest score first, with their reasons."""
    return live_risk(request).alerts(limit, include_labelled)


@router.get("/risk/rules")
def rules(request: Request) -> dict[str, Any]:
    """The rules in force (hot-reloaded from ``STOREMIND_HOME/risk/rules.yaml``)."""
    live = live_risk(request)
    rs = live.current_rules()
    return {"version": rs.version, "digest": rs.digest, "path": str(live.rules_path),
            "error": live.rules_error,
            "rules": [{"name": r.name, "when": r.when, "action": r.action,
                       "reason": r.reason, "description": r.description} for r in rs.rules]}


def setup(app: FastAPI) -> None:
    """Nothing to do at start-up: the live state is built on the first request."""
    app.state.risk_live = None
