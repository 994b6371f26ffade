"""HTTP routes of the operations capability: reorder plan, alerts and forecasts."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query

from storemind._web import RegistryDep, SettingsDep, StoreDep
from storemind.errors import UnknownIdError

__all__ = ["router"]

router = APIRouter(tags=["operations"])


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S")
    out = out.replace([np.inf, -np.inf], None).astype(object)
    return out.where(out.notna(), None).to_dict(orient="records")


@router.get("/operations/reorder-plan")
def reorder_plan(store: StoreDep, registry: RegistryDep, settings: SettingsDep,
                 only_orders: bool = Query(False, description="Only items to order today."),
                 limit: int = Query(500, ge=1, le=100_000)) -> list[dict[str, Any]]:
    """What to order today, how much and why: one row per item with its reorder point,
    order-up-to level, suggested quantity and a readable reason."""
    from storemind.operations.pipeline import reorder_plan as plan

    return _records(plan(store, registry, settings, only_orders=only_orders).head(limit))


@router.get("/operations/alerts")
def alerts(store: StoreDep, registry: RegistryDep, settings: SettingsDep,
           kind: str | None = Query(None, description="Only this kind of alert."),
           limit: int = Query(200, ge=1, le=100_000)) -> list[dict[str, Any]]:
    """Order alerts with reasons: stuck orders, unusual quantities or amounts, and product
    demand far outside the forecast interval; most severe and newest first."""
    from storemind.operations.pipeline import alerts as run

    a = run(store, registry, settings)
    if kind is not None:
        a = a[a["kind"] == kind]
    return _records(a.head(limit))


@router.get("/operations/forecast/{item_id}")
def forecast(item_id: str, registry: RegistryDep) -> dict[str, Any]:
    """The current forecast of one product (or item x location series) with its interval."""
    mv = registry.get("operations")
    fc = pd.read_parquet(mv.path / "forecast.parquet")
    rows = fc[fc["series_id"] == item_id]
    if rows.empty:
        raise UnknownIdError(f"no forecast for {item_id!r}; the model covers "
                             f"{fc['series_id'].nunique()} series")
    return {"item_id": item_id, "model_version": mv.version,
            "forecast": _records(rows.drop(columns="series_id"))}
