"""The operations pipeline on a small simulated store: train, reorder plan, alerts, the HTTP
routes and the dashboard page."""
from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.config import Settings
from storemind.datasets import simulate
from storemind.errors import DataError
from storemind.operations.pipeline import alerts, reorder_plan, train
from storemind.registry import Registry
from storemind.store import Store

MODELS = ("seasonal_naive", "croston")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ops")
    store = Store(tmp / "store.duckdb")
    simulate(store, n_users=600, n_items=80, n_days=70, seed=3, campaign=False, progress=False)
    settings = Settings(home=tmp / "home", api_keys="k")
    registry = Registry(settings.models_path)
    version = train(store, registry, settings, models=MODELS)
    client = TestClient(create_app(settings, store))
    yield store, registry, settings, version, client
    store.close()


def test_train_registers_forecaster_policy_and_metrics(world):
    _, registry, _, mv, _ = world
    assert registry.current_version("operations") == mv.version
    for name in ("forecaster", "forecast.parquet", "policy.parquet",
                 "holdout_forecast.parquet"):
        assert (mv.path / name).exists(), name
    m = mv.metrics
    assert 0 < m["holdout_wape"] < 3 and 0 < m["replay_fill_rate"] <= 1
    assert set(mv.params["chosen"]) == {"smooth", "intermittent"}
    assert mv.params["criterion"] == "absolute"


def test_train_with_the_scaled_choice_a_fill_rate_and_a_bad_criterion(world, tmp_path):
    store, _, settings, _, _ = world
    registry = Registry(tmp_path / "models")
    mv = train(store, registry, settings, models=MODELS, criterion="scaled", fill_rate=0.97)
    assert mv.params["criterion"] == "scaled" and mv.metrics["holdout_mase"] > 0
    assert mv.params["fill_rate"] == 0.97 and 0 < mv.metrics["replay_fill_rate"] <= 1
    plan = reorder_plan(store, registry, settings)  # the plan follows the fill-rate policy
    stored = pd.read_parquet(mv.path / "policy.parquet").set_index("series_id")
    known = plan[plan.item_id.isin(stored.index)].set_index("item_id")
    assert len(known) and (known.reorder_point == stored.reorder_point.reindex(known.index)).all()
    with pytest.raises(DataError, match="criterion must be 'absolute' or 'scaled'"):
        train(store, registry, settings, models=MODELS, criterion="wape")
    assert [v.version for v in registry.versions("operations")] == [mv.version]  # kept


def test_train_with_the_recent_demand_level_and_short_orders(world, tmp_path):
    """The policy the inventory benchmark found (``demand_level="recent"``, daily review,
    about 3 days of demand per order) through the pipeline: recorded, stored, and its daily
    mean is each product's mean over its last 90 days."""
    import numpy as np

    from storemind.operations._grid import check_demand_frame, to_grid
    from storemind.operations.pipeline import load_demand

    store, _, settings, _, _ = world
    registry = Registry(tmp_path / "models")
    mv = train(store, registry, settings, models=MODELS, review_period=1, order_cycle=3,
               demand_level="recent")
    assert mv.params["demand_level"] == "recent" and mv.params["order_cycle_days"] == 3
    assert 0 < mv.metrics["replay_fill_rate"] <= 1
    pol = pd.read_parquet(mv.path / "policy.parquet").set_index("series_id")
    assert (pol.order_cycle_days == 3).all()
    grid = to_grid(check_demand_frame(load_demand(store)[0]), "D")
    Z = np.clip(grid.Y[:, -90:], 0, None)
    recent = pd.Series(np.nanmean(Z, 1), index=grid.ids)
    np.testing.assert_allclose(pol.daily_mean.reindex(grid.ids), recent, rtol=1e-9)
    with pytest.raises(DataError, match="demand_level"):
        train(store, registry, settings, models=MODELS, demand_level="yesterday")
    assert [v.version for v in registry.versions("operations")] == [mv.version]  # kept


def test_reorder_plan_has_reasons_and_consistent_quantities(world):
    store, registry, settings, _, _ = world
    plan = reorder_plan(store, registry, settings)
    assert len(plan) == 80  # every catalogue item, new ones by category fallback
    orders = plan[plan.order_now]
    assert (orders.order_qty == orders.order_up_to - orders.on_hand).all()
    assert (orders.on_hand <= orders.reorder_point).all()
    assert plan.reason.str.len().min() > 20
    assert orders.reason.str.startswith("order ").all()


def test_alerts_list_and_bad_store(world, tmp_path):
    store, registry, settings, _, _ = world
    a = alerts(store, registry, settings, stuck_after_hours={"shipped": 1.0})
    assert (a.kind == "stuck").sum() > 0  # the simulator leaves recent orders 'shipped'
    assert a.reason.str.len().min() > 10
    empty = Store(tmp_path / "e.duckdb")
    with pytest.raises(DataError, match="demand history"):
        train(empty, registry, settings)
    empty.close()


def test_http_routes(world):
    _, _, _, _, client = world
    r = client.get("/v1/operations/reorder-plan", params={"only_orders": True, "limit": 5})
    assert r.status_code == 200
    rows = r.json()
    assert rows and all(row["order_now"] and row["reason"] for row in rows)
    r = client.get("/v1/operations/alerts")
    assert r.status_code == 200 and isinstance(r.json(), list)
    item = rows[0]["item_id"]
    r = client.get(f"/v1/operations/forecast/{item}")
    assert r.status_code == 200 and len(r.json()["forecast"]) == 14
    assert client.get("/v1/operations/forecast/nope").status_code == 404


def test_dashboard_page(world):
    _, _, _, _, client = world
    html = client.get("/dashboard/operations").text
    assert 'id="operations-forecast"' in html and 'id="operations-plan"' in html
    assert 'id="operations-alerts"' in html
    assert "service level 0.95; review every 7 d; orders cover 7 d; demand level from forecast" \
        in html
    r = client.get("/dashboard/operations", params={"item": "I000001"})
    assert r.status_code == 200


def test_demand_excludes_returns(world):
    from storemind.operations import daily_demand

    store = world[0]
    d = daily_demand(store)
    lines = store.frame("order_items")
    assert d.y.sum() == pd.to_numeric(lines.quantity).sum()  # the simulator has only sales
