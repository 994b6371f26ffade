"""The synthetic store: determinism, valid tables, funnel, fraud, churn, campaign, batching."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.datasets.simulate import GroundTruth, simulate
from storemind.errors import DataError
from storemind.store import TABLES, Store

SMALL = dict(n_users=1500, n_items=200, n_days=60, progress=False)


@pytest.fixture(scope="module")
def filled():
    """One small simulated store, ingested in many batches."""
    store = Store(":memory:")
    truth = simulate(store, seed=3, batch_events=5_000, **SMALL)
    yield store, truth
    store.close()


def test_every_table_is_filled_and_valid(filled):
    store, truth = filled
    assert isinstance(truth, GroundTruth)
    counts = store.counts()
    for table in TABLES:
        if table == "sales":  # aggregated demand comes from public datasets, not the simulator
            continue
        assert counts[table] > 0, table
        assert counts[table] == truth.counts[table], table
    assert counts["quarantine"] == 0
    assert sum(truth.quarantined.values()) == 0


def test_streams_in_batches(filled):
    store, truth = filled
    assert truth.batches["events"] > 1
    assert truth.batches["events"] == -(-truth.counts["events"] // 5_000)
    assert truth.batches["stock"] > 1


def test_same_seed_same_tables_whatever_the_batching(filled):
    _, truth = filled
    again = simulate(None, seed=3, batch_events=50_000, **SMALL)
    assert again.counts == truth.counts
    assert again.checksums == truth.checksums
    pd.testing.assert_frame_equal(again.users, truth.users)
    pd.testing.assert_frame_equal(again.uplift, truth.uplift)
    other = simulate(None, seed=4, batch_events=50_000, **SMALL)
    assert other.checksums["events"] != truth.checksums["events"]
    assert other.checksums["items"] != truth.checksums["items"]


def test_funnel_shape(filled):
    store, _ = filled
    e = store.table("events")
    by_type = store.execute(e.group_by("event_type").aggregate(n=e.count()))
    n = dict(zip(by_type["event_type"], by_type["n"], strict=True))
    assert n["view"] > n["cart"] > n["purchase"] > 0
    assert n["search"] > 0 and n["rating"] > 0
    assert n["purchase"] == store.count("order_items")  # one purchase event per order line


def test_catalogue_is_readable_and_has_cold_start_items(filled):
    store, truth = filled
    items = store.frame("items")
    assert items["title"].str.contains(" ").all()
    assert items["category"].nunique() >= 8
    assert (items["price"] > 0).all()
    late = items["created_at"] > pd.Timestamp("2024-01-01")
    assert late.sum() == truth.items["cold_start"].sum() > 0
    # no event touches an item before it exists
    ev = store.frame("events", ["item_id", "ts"]).dropna()
    first = ev.groupby("item_id")["ts"].min()
    created = items.set_index("item_id")["created_at"].reindex(first.index)
    assert (first >= created).all()


def test_churned_users_go_quiet(filled):
    store, truth = filled
    ev = store.frame("events", ["user_id", "ts"])
    last = ev.groupby("user_id")["ts"].max()
    churn = truth.users.set_index("user_id")["churn_ts"].dropna()
    assert len(churn) > 0.2 * SMALL["n_users"]
    joined = pd.concat([last, churn], axis=1, join="inner")
    assert len(joined) > 0
    assert (joined["ts"] < joined["churn_ts"]).all()


def test_fraud_patterns_are_planted_and_labelled(filled):
    store, truth = filled
    pay = store.frame("payments")
    labelled = set(pay.loc[pay["is_fraud"] == 1, "payment_id"])
    assert labelled == set(truth.fraud_patterns)
    patterns = truth.fraud.set_index("payment_id")["pattern"]
    assert set(patterns) == {"card_testing", "account_takeover", "new_account_high_value"}
    pay = pay.set_index("payment_id")
    # card testing: many tiny payments on one card within minutes
    ct = pay.loc[patterns.index[patterns == "card_testing"]]
    per_card = ct.groupby("card_id")["ts"].agg(["count", "min", "max"])
    assert (per_card["count"] >= 8).all()
    assert ((per_card["max"] - per_card["min"]) < pd.Timedelta(minutes=30)).all()
    assert ct["amount"].max() <= 5
    # account takeover: an old account, a device and a country it never used
    legit = pay[pay["is_fraud"] == 0]
    ato = pay.loc[patterns.index[patterns == "account_takeover"]]
    users = store.frame("users").set_index("user_id")
    for _pid, row in ato.iterrows():
        own = legit[legit["user_id"] == row["user_id"]]
        assert row["device_id"] not in set(own["device_id"])
        assert row["country"] != users.loc[row["user_id"], "country"]
        assert row["ts"] - users.loc[row["user_id"], "signup_ts"] > pd.Timedelta(days=59)
    assert ato["amount"].median() > 3 * legit["amount"].median()
    # new accounts: a large first order within the hour of signing up
    new = pay.loc[patterns.index[patterns == "new_account_high_value"]]
    age = new["ts"] - users.loc[new["user_id"], "signup_ts"].to_numpy()
    assert (age < pd.Timedelta(hours=1)).all()
    assert new["amount"].median() > 3 * legit["amount"].median()


def test_stock_follows_a_reorder_policy(filled):
    store, truth = filled
    stock = store.frame("stock")
    assert (stock["on_hand"] >= 0).all()
    assert stock["lead_time_days"].min() >= 1
    # replenishment happens: some item's stock goes up from one day to the next
    s = stock.sort_values(["item_id", "ts"])
    assert (s.groupby("item_id")["on_hand"].diff() > 0).any()
    assert {"reorder_point", "order_quantity", "mean_daily_demand"} <= set(truth.items.columns)


def test_faq_and_campaign_tables(filled):
    store, truth = filled
    q = store.frame("questions")
    assert len(q) >= 48 and q["intent"].nunique() >= 24 and q["answer"].notna().all()
    exp = store.frame("exposures")
    assert set(exp["arm"]) == {"control", "discount", "free_shipping"}
    assert len(exp) == len(truth.uplift)
    assert (truth.uplift.loc[truth.uplift["arm"] == "control", "uplift"] == 0).all()
    assert truth.campaign["campaign_id"] == store.frame("campaigns")["campaign_id"].iloc[0]


def test_campaign_effect_is_recoverable():
    """Bargain hunters respond to the discount: the observed lift matches the planted one."""
    store = Store(":memory:")
    try:
        sim = simulate(store, seed=11, n_users=12_000, n_items=200, n_days=56, progress=False)
        exp = store.frame("exposures").merge(sim.uplift[["user_id", "type"]], on="user_id")
    finally:
        store.close()
    bh = exp[exp["type"] == "bargain_hunter"]
    rate = bh.groupby("arm")["converted"].mean()
    observed = rate["discount"] - rate["control"]
    planted = sim.uplift.loc[sim.uplift["type"] == "bargain_hunter", "uplift_discount"].mean()
    n_arm = bh.groupby("arm").size().min()
    se = np.sqrt(2 * 0.25 / n_arm)
    assert planted > 0.15
    assert observed > 0
    assert abs(observed - planted) < 3 * se, (observed, planted, se)
    # home makers do not respond to anything
    hm = exp[exp["type"] == "home_maker"].groupby("arm")["converted"].mean()
    assert abs(hm["discount"] - hm["control"]) < 3 * se


def test_bad_arguments_are_refused():
    with pytest.raises(DataError, match="n_users"):
        simulate(None, n_users=0, progress=False)
    with pytest.raises(DataError, match="fraud_rate"):
        simulate(None, fraud_rate=1.5, progress=False)


def test_docs_example_runs(capsys):
    """The first Python block of docs/simulator.md runs as written."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "simulator.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/simulator.md", "exec"), {})
    out = capsys.readouterr().out
    assert "simulated store" in out and "bargain_hunter" in out
