"""Marketing end to end on a simulated store: train, plan (Python, HTTP JSON and CSV),
insights and the dashboard page; and the plan's true profit against the planted effects."""
from __future__ import annotations

import io
import json
import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from storemind.api import create_app
from storemind.config import Settings
from storemind.datasets import simulate
from storemind.errors import DataError
from storemind.marketing import Offer, pipeline, plan_campaign, plan_value
from storemind.registry import Registry
from storemind.store import Store

KEY = {"X-API-Key": "k"}
OFFERS = [Offer("discount", cost=2.0, margin=40.0), Offer("free_shipping", cost=1.0, margin=45.0)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("marketing")
    store = Store(tmp / "store.duckdb")
    truth = simulate(store, n_users=3000, n_items=600, n_days=120, seed=0, progress=False)
    settings = Settings(home=tmp / "home", api_keys="k")
    registry = Registry(settings.models_path)
    t0 = time.perf_counter()
    version = pipeline.train(store, registry, settings)
    seconds = time.perf_counter() - t0
    yield {"store": store, "truth": truth, "settings": settings, "registry": registry,
           "version": version, "seconds": seconds}
    store.close()


def test_train_registers_a_model_quickly(world):
    v = world["version"]
    assert world["seconds"] < 60
    assert v.meta["params"]["learner"] in {"t", "x", "dr"}
    assert v.meta["params"]["treatments"] == ["discount", "free_shipping"]
    for arm in ("discount", "free_shipping"):
        assert f"holdout_qini_{arm}" in v.metrics
    assert (v.path / "insights.json").is_file()


def test_plan_beats_random_under_the_planted_effects(world):
    frame = pipeline.plan(world["store"], world["registry"], world["settings"], budget=400.0,
                          offers=OFFERS, holdout=0.1)
    assert frame.user_id.is_unique and (frame.group == "holdout").sum() > 0
    assert frame.loc[frame.group == "treatment", "cost"].sum() <= 400.0
    truth = world["truth"].uplift.set_index("user_id")
    true_u = truth[["uplift_discount", "uplift_free_shipping"]].set_axis(
        ["discount", "free_shipping"], axis=1)
    ours = frame[frame.user_id.isin(true_u.index)]
    value = plan_value(ours, true_u, OFFERS)
    oracle = plan_value(plan_campaign(true_u, OFFERS, 400.0, holdout=0.1), true_u, OFFERS)
    rand = true_u.sample(frac=1.0, random_state=0)
    rand_plan = plan_campaign(pd.DataFrame(1.0, index=rand.index, columns=rand.columns)
                              .assign(free_shipping=0.0), OFFERS, 400.0, holdout=0.1)
    random_value = plan_value(rand_plan, true_u, OFFERS)
    assert value > random_value
    assert oracle > value


def test_http_plan_json_and_csv_and_insights(world):
    client = TestClient(create_app(world["settings"], world["store"]))
    body = {"budget": 100.0, "offers": [o.__dict__ for o in OFFERS], "holdout": 0.2}
    r = client.post("/v1/campaigns/plan", json=body, headers=KEY)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["spent"] <= 100.0 and d["targeted"] > 0 and d["holdout"] > 0
    assert {"user_id", "offer", "group", "expected_profit"} <= d["rows"][0].keys()
    r = client.post("/v1/campaigns/plan", json={**body, "format": "csv"}, headers=KEY)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    csv = pd.read_csv(io.StringIO(r.text))
    assert len(csv) == d["targeted"] + d["holdout"]
    bad = client.post("/v1/campaigns/plan", json={**body, "offers": [
        {"name": "sms", "cost": 1, "margin": 2}]}, headers=KEY)
    assert bad.status_code == 422 and "sms" in bad.text
    assert client.post("/v1/campaigns/plan", json=body).status_code in (401, 403)
    ins = client.get("/v1/marketing/insights").json()
    assert ins and "insight" in ins[0]
    html = client.get("/dashboard/marketing")
    assert html.status_code == 200 and 'id="marketing-qini"' in html.text
    assert "marketing-insights" in html.text
    # every compared learner's curves, and a plan for the default budget
    for name in ("T-learner", "X-learner", "DR-learner"):
        assert name in html.text
    assert 'id="marketing-plan"' in html.text and "Most profitable targets" in html.text
    small = client.get("/dashboard/marketing", params={"budget": "3"})
    rows = small.text.split('id="marketing-plan-rows"')[1].split("</table>")[0]
    assert 1 <= rows.count("<tr><td>") <= 3  # cost 1 per offer: at most 3 customers
    for bad, msg in (("-5", "budget must be a number &gt;= 0"),
                     ("lots", "budget must be a number; got")):
        r = client.get("/dashboard/marketing", params={"budget": bad})
        assert r.status_code == 200 and 'id="marketing-plan-error"' in r.text
        assert msg in r.text, r.text[-2000:]
    # a model saved before every learner's curves were kept still renders its own
    path = world["version"].path / "curves.json"
    saved = path.read_text()
    try:
        old = json.loads(saved)
        path.write_text(json.dumps(old["models"][old["best"]]))
        r = client.get("/dashboard/marketing")
        assert r.status_code == 200 and 'id="marketing-qini"' in r.text
    finally:
        path.write_text(saved)


def test_store_without_campaign_says_so(tmp_path):
    s = Store(tmp_path / "s.duckdb")
    with pytest.raises(DataError, match="exposures"):
        pipeline.train(s, Registry(tmp_path / "m"), Settings(home=tmp_path))
    s.close()
