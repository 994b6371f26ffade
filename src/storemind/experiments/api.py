"""HTTP routes of the experiments capability (included under ``/v1`` by the app).

- ``GET /v1/experiments/{key}/assignment?user_id=...``: the user's variant (deterministic),
  logged as an exposure unless ``log=false``. Targeting reads the user's ``users`` row
  (country, device, source and its attributes); extra query parameters override them
  (``&country=NL``).
- ``GET /v1/experiments/{key}/results``: the analysis (``pipeline.analyze``) as JSON.
"""
from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from storemind.experiments.assignment import assign, load_experiment, log_exposure
from storemind.experiments.pipeline import analyze

__all__ = ["router"]

router = APIRouter(tags=["experiments"])


def _store(request: Request) -> Any:
    """The app's store (``app.state.store``); capabilities do not import the API package."""
    return request.app.state.store


StoreDep = Annotated[Any, Depends(_store)]

_RESERVED = {"user_id", "log"}


class AssignmentOut(BaseModel):
    """Where a user landed in an experiment."""

    key: str
    user_id: str
    variant: str | None = Field(description="null when the user is not in the experiment")
    in_experiment: bool
    reason: str = Field(description="assigned, not_targeted, outside_layer or outside_traffic")
    logged: bool = Field(description="a new exposure row was stored")


class ResultsOut(BaseModel):
    """The experiment's analysis: one row per (metric, variant) in ``results``."""

    key: str
    control: str
    variants: list[str]
    units: dict[str, int]
    alpha: float
    t_star: float
    trustworthy: bool
    srm: dict[str, Any]
    results: list[dict[str, Any]]
    notes: list[str]


def _user_attributes(store: Any, user_id: str) -> dict[str, Any]:
    users = store.table("users")
    rows = store.execute(users.filter(users.user_id == user_id).limit(1))
    if len(rows) == 0:
        return {}
    row = rows.iloc[0].to_dict()
    out: dict[str, Any] = {}
    if isinstance(row.get("attributes"), str):
        try:
            extra = json.loads(row["attributes"])
            if isinstance(extra, dict):
                out.update(extra)
        except json.JSONDecodeError:
            pass
    out.update({k: v for k, v in row.items()
                if k not in ("attributes", "user_id") and v is not None and v == v})
    return out


@router.get("/experiments/{key}/assignment", response_model=AssignmentOut)
def get_assignment(
    key: str,
    request: Request,
    store: StoreDep,
    user_id: Annotated[str, Query(min_length=1, max_length=256, description="The user's id")],
    log: Annotated[bool, Query(description="Store the exposure (first one per user)")] = True,
) -> AssignmentOut:
    """The variant of ``user_id`` in experiment ``key`` (same answer on every call)."""
    experiment = load_experiment(store, key)
    attributes: dict[str, Any] = {}
    if experiment.targeting:
        attributes = _user_attributes(store, user_id)
        attributes.update({k: v for k, v in request.query_params.items() if k not in _RESERVED})
    a = assign(experiment, user_id, attributes)
    logged = log_exposure(store, a) if log else False
    return AssignmentOut(key=key, user_id=user_id, variant=a.variant,
                         in_experiment=a.in_experiment, reason=a.reason, logged=logged)


@router.get("/experiments/{key}/results", response_model=ResultsOut)
def get_results(
    key: str,
    store: StoreDep,
    metrics: Annotated[list[str] | None, Query(
        description="Metric sources, e.g. converted, spend, spend/events.sessions")] = None,
    guardrails: Annotated[list[str] | None, Query(description="Guardrail metrics")] = None,
    covariate: Annotated[str | None, Query(description="CUPED covariate source")] = None,
    control: Annotated[str | None, Query(description="Control arm")] = None,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
) -> ResultsOut:
    """Welch / delta-method tests, CUPED, SRM, confidence sequences and BH q-values."""
    report = analyze(store, key, metrics or None, guardrails=guardrails or (),
                     covariate=covariate, control=control, alpha=alpha)
    return ResultsOut(**report.to_dict())
