"""Behaviour: snapshots and labels, funnels, next category, the GRU, the pipeline, the API and
the dashboard page, and minimum churn quality on Online Retail."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from storemind.behavior import (
    FEATURES,
    ChurnModel,
    NextCategory,
    SequenceChurn,
    funnel,
    pipeline,
    reliability_table,
    snapshot,
)
from storemind.errors import DataError
from storemind.registry import Registry
from storemind.store import Store


def _events(store: Store) -> None:
    store.ingest("items", pd.DataFrame({"item_id": ["a", "b"], "category": ["Books", "Toys"],
                                        "price": [10.0, 20.0]}))
    rows = [  # session, user, item, type, day
        ("s1", "u1", "a", "view", 1), ("s1", "u1", "a", "cart", 1),
        ("s1", "u1", "a", "purchase", 1), ("s2", "u1", "b", "view", 3),
        ("s3", "u2", "a", "view", 9), ("s3", "u2", "a", "cart", 9),
        ("s4", "u2", "b", "view", 10), ("s4", "u2", "b", "view", 10),
    ]
    store.ingest("events", pd.DataFrame({
        "session_id": [r[0] for r in rows], "user_id": [r[1] for r in rows],
        "item_id": [r[2] for r in rows], "event_type": [r[3] for r in rows],
        "ts": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=r[4], hours=i)
               for i, r in enumerate(rows)]}))
    store.ingest("orders", pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "user_id": ["u1", "u2", "u1"], "total": [10.0, 5, 7],
        "ts": pd.to_datetime(["2024-01-02", "2024-01-05", "2024-02-20"]), "kind": "sale"}))


def test_funnel_counts_sessions_per_step(store: Store) -> None:
    _events(store)
    total = funnel(store, "all").iloc[0]
    assert (total.views, total.carts, total.purchases) == (4, 2, 1)
    assert total.view_to_cart == 0.5 and total.cart_to_purchase == 0.5
    by_cat = funnel(store, "category").set_index("group")
    assert by_cat.loc["Books", ["views", "carts", "purchases"]].tolist() == [2, 2, 1]
    assert by_cat.loc["Toys", ["views", "carts", "purchases"]].tolist() == [2, 0, 0]
    weeks = funnel(store, "week")
    assert weeks.views.sum() == 4 and list(weeks.group) == ["2024-01-01", "2024-01-08"]
    seg = funnel(store, "segment", segments=pd.DataFrame({"user_id": ["u1"],
                                                          "segment": ["Champions"]}))
    assert seg.set_index("group").loc["Champions", "purchases"] == 1
    with pytest.raises(DataError, match="segments"):
        funnel(store, "segment")
    with pytest.raises(DataError, match="must be one of"):
        funnel(store, "month")


def test_snapshot_uses_only_the_past_and_labels_the_future(store: Store) -> None:
    _events(store)
    f = snapshot(store, "2024-01-10", horizon_days=30)
    assert list(f.index) == ["u1", "u2"]  # buyers before the cutoff
    assert f.loc["u1", "churned"] == 0 or f.loc["u1", "purchased"] == 0
    assert f.loc["u1", "purchased"] == 0  # next order 2024-02-20 is 41 days later
    assert f.loc["u2", "churned"] == 1
    assert f.loc["u1", "recency_days"] == 8 and f.loc["u1", "frequency"] == 1
    assert f.loc["u2", "views_30"] == 0  # the view on 01-10 09:00 is after midnight cutoff
    g = snapshot(store, "2024-01-10", horizon_days=60)
    assert g.loc["u1", "purchased"] == 1
    active = snapshot(store, "2024-01-12", 30, population="active", label=False)
    assert "churned" not in active and set(active.index) == {"u1", "u2"}
    assert active.loc["u2", "views_30"] == 3
    assert set(FEATURES) <= set(f.columns)


def test_next_category_learns_a_repeating_habit() -> None:
    rng = np.random.default_rng(0)
    seqs = rng.integers(1, 6, (400, 10))
    nxt = seqs[:, -1]  # customers buy again in the category they touched last
    m = NextCategory().fit(seqs, nxt)
    assert np.mean(m.predict(seqs) == nxt) == 1.0
    assert m.predict_proba(seqs)[:, 0].max() == 0
    np.testing.assert_allclose(m.predict_proba(seqs).sum(1), 1.0)


def test_gru_and_gbm_learn_separable_churn_and_are_calibrated() -> None:
    rng = np.random.default_rng(0)
    n, L = 300, 6
    kind = rng.integers(1, 4, (n, L))
    churn = rng.uniform(size=n) < 0.4
    kind[churn, : L // 2] = 0  # churners have short, old histories
    age = np.where(churn[:, None], 3.0, 1.0) + rng.normal(0, 0.3, (n, L))
    seqs = {"kind": kind, "cat": np.zeros((n, L), int), "gap": np.zeros((n, L), np.float32),
            "age": age.astype(np.float32), "value": np.zeros((n, L), np.float32)}
    p = SequenceChurn(hidden=8, epochs=4, batch_size=32, learning_rate=0.01,
                      random_state=0).fit(seqs, churn).predict_proba(seqs)
    assert p[churn].mean() > 0.8 and p[~churn].mean() < 0.2
    X = pd.DataFrame({"short": (kind == 0).sum(1), "noise": rng.normal(size=n)})
    g = ChurnModel(n_estimators=50, calibration="platt", random_state=0).fit(X, churn)
    rel = reliability_table(churn, g.predict_proba(X), bins=5)
    assert rel.customers.sum() == n
    assert np.all(np.abs(rel.predicted - rel.observed) < 0.1)
    top = g.explain(X.head(3), top=1)
    assert [d[0]["feature"] for d in top] == ["short"] * 3


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from storemind.customers.pipeline import train as train_customers
    from storemind.datasets.simulate import simulate

    path = tmp_path_factory.mktemp("bsim") / "store.duckdb"
    store = Store(path)
    simulate(store, n_users=700, n_items=150, n_days=100, seed=5, progress=False)
    registry = Registry(path.parent / "models")
    train_customers(store, registry, None)
    version = pipeline.train(store, registry, None, sequence=False)  # GRU: tested above
    yield store, registry, version
    store.close()


def test_pipeline_metrics_and_scores(sim) -> None:
    store, registry, version = sim
    m = version.metrics
    assert m["horizon_days"] == 33 and m["test_rows"] > 100
    # measured on this fixture (2026-11-28): churn ROC-AUC 0.67, RFM logit 0.64
    assert m["churn_roc_auc"] > 0.6
    assert m["churn_brier"] < 0.25
    assert m["propensity_roc_auc"] > 0.6
    assert m["next_category_accuracy"] > m["next_category_accuracy_popular"]
    s = pipeline.load_scores(registry)
    assert s.user_id.is_unique and s.purchase_propensity.between(0, 1).all()
    assert s.churn_risk.dropna().between(0, 1).all()
    assert (version.path / "reliability.csv").is_file()


def test_api_and_dashboard(sim) -> None:
    from storemind.api import create_app
    from storemind.config import Settings

    store, registry, version = sim
    app = create_app(Settings(home=registry.root.parent), store,
                     capabilities=("customers", "behavior"))
    app.state.registry = registry
    client = TestClient(app)
    s = pipeline.load_scores(registry).dropna(subset=["churn_risk"])
    uid = s.user_id.iloc[0]
    body = client.get(f"/v1/customers/{uid}/churn").json()
    assert body["churn_risk"] == pytest.approx(s.churn_risk.iloc[0])
    assert len(body["drivers"]) == 4 and body["horizon_days"] == 33
    assert client.get("/v1/customers/nobody/churn").status_code == 404
    cust = client.get(f"/v1/customers/{uid}").json()
    assert cust["churn_source"] == "behavior" and cust["churn_risk"] == body["churn_risk"]
    rows = client.get("/v1/funnel", params={"by": "segment"}).json()
    assert sum(r["views"] for r in rows) == funnel(store, "all").views.iloc[0]
    assert client.get("/v1/funnel", params={"by": "month"}).status_code == 422
    html = client.get("/dashboard/behavior")
    assert html.status_code == 200 and 'id="funnel-week"' in html.text
    assert 'id="reliability"' in html.text


def test_churn_quality_on_online_retail_orders() -> None:
    from sklearn.linear_model import LogisticRegression

    from storemind.datasets import read_online_retail
    from storemind.evaluation import roc_auc

    store = Store(":memory:")
    store.ingest("orders", read_online_retail()["orders"])
    test_cut = pd.Timestamp("2011-09-10")
    tr = pd.concat([snapshot(store, test_cut - pd.Timedelta(days=90 + 30 * i), 90)
                    for i in range(3)])
    te = snapshot(store, test_cut, 90)
    F = list(FEATURES)
    p = ChurnModel(num_leaves=7, learning_rate=0.02, min_child_samples=40,
                   random_state=0).fit(tr[F], tr.churned).predict_proba(te[F])

    def x(f):
        return np.column_stack([np.log1p(f.recency_days), np.log1p(f.frequency),
                                np.log1p(f.monetary.clip(lower=0))])

    p_lr = LogisticRegression().fit(x(tr), tr.churned).predict_proba(x(te))[:, 1]
    # measured (orders only, this test's code, 2026-11-28): LightGBM 0.7390, RFM logit 0.7343
    assert len(te) == 3370
    assert roc_auc(te.churned, p) == pytest.approx(0.7390, abs=0.01)
    assert roc_auc(te.churned, p) > roc_auc(te.churned, p_lr)
    store.close()
