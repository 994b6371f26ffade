"""HTTP routes of the marketing capability: campaign plans and segment insights."""
from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from storemind._web import RegistryDep, SettingsDep, StoreDep

__all__ = ["router", "PlanIn", "PlanOut", "OfferIn"]

router = APIRouter(tags=["marketing"])


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="A treatment arm of the trained campaign.")
    cost: float = Field(ge=0, description="Cost of sending the offer to one customer.")
    margin: float = Field(description="Profit of one incremental conversion under the offer.")


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: float = Field(ge=0, description="Most the campaign may spend on offers.")
    offers: list[OfferIn] | None = Field(
        None, max_length=100,
        description="Default: one per treatment arm, cost 1, margin 30% of the campaign's "
                    "mean spend per converting customer.")
    holdout: float = Field(0.1, ge=0, lt=1, description="Random share kept back to measure.")
    method: Literal["greedy", "lp"] = "greedy"
    customers: list[str] | None = Field(None, max_length=1_000_000)
    format: Literal["json", "csv"] = "json"


class PlanRow(BaseModel):
    user_id: str
    offer: str
    group: str
    expected_uplift: float
    expected_profit: float
    cost: float


class PlanOut(BaseModel):
    model_version: str
    learner: str
    budget: float
    spent: float
    targeted: int
    holdout: int
    expected_incremental_profit: float
    rows: list[PlanRow]


@router.post("/campaigns/plan", response_model=PlanOut,
             responses={200: {"content": {"text/csv": {}}}})
def campaign_plan(body: PlanIn, store: StoreDep, registry: RegistryDep,
                  settings: SettingsDep) -> Any:
    """Who gets which offer, within the budget, with a random holdout; JSON or CSV."""
    from storemind.marketing.pipeline import plan

    offers = None if body.offers is None else [o.model_dump() for o in body.offers]
    frame = plan(store, registry, settings, budget=body.budget, offers=offers,
                 holdout=body.holdout, method=body.method, customers=body.customers)
    if body.format == "csv":
        return PlainTextResponse(frame.to_csv(index=False), media_type="text/csv")
    mv = registry.get("marketing")
    treated = frame[frame.group == "treatment"]
    return PlanOut(model_version=mv.version, learner=str(mv.meta["params"]["learner"]),
                   budget=body.budget, spent=float(treated.cost.sum()),
                   targeted=int(len(treated)), holdout=int((frame.group == "holdout").sum()),
                   expected_incremental_profit=float(treated.expected_profit.sum()),
                   rows=frame.to_dict("records"))


@router.get("/marketing/insights")
def insights(registry: RegistryDep) -> list[dict[str, Any]]:
    """Which segments respond to which offer (from the current model), in plain language."""
    mv = registry.get("marketing")
    return json.loads((mv.path / "insights.json").read_text())
