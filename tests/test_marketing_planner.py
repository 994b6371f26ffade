"""Campaign planner: budget, one offer per customer, holdout, greedy vs LP, plan value."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.errors import DataError
from storemind.marketing import Offer, plan_campaign, plan_value


def _table(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"discount": rng.uniform(-0.05, 0.3, n),
                         "free_shipping": rng.uniform(-0.05, 0.2, n)},
                        index=[f"u{i}" for i in range(n)])


OFFERS = [Offer("discount", cost=3.0, margin=40.0), Offer("free_shipping", cost=1.0, margin=30.0)]


def test_known_small_answer():
    u = pd.DataFrame({"discount": [0.5, 0.1, 0.0], "free_shipping": [0.1, 0.2, 0.01]},
                     index=["a", "b", "c"])
    offers = [Offer("discount", cost=2.0, margin=10.0), Offer("free_shipping", cost=1.0,
                                                               margin=10.0)]
    # profits: a: 3.0 / 0.0, b: -1.0 / 1.0, c: -2.0 / -0.9 -> a gets discount, b free shipping
    plan = plan_campaign(u, offers, budget=10, holdout=0.0)
    assert dict(zip(plan.user_id, plan.offer, strict=True)) == {"a": "discount",
                                                                "b": "free_shipping"}
    assert plan.expected_profit.tolist() == pytest.approx([3.0, 1.0])
    tight = plan_campaign(u, offers, budget=1.5, holdout=0.0)  # only b's offer fits
    assert tight.user_id.tolist() == ["b"]


@pytest.mark.parametrize("method", ["greedy", "lp"])
def test_budget_one_offer_each_and_holdout(method):
    u = _table()
    plan = plan_campaign(u, OFFERS, budget=150.0, holdout=0.2, method=method, random_state=3)
    assert plan.user_id.is_unique
    assert set(plan.offer) <= {"discount", "free_shipping"}
    offer_cost = plan.offer.map({o.name: o.cost for o in OFFERS})
    assert offer_cost.sum() <= 150.0 + 1e-9  # the selection fits the budget
    assert plan.loc[plan.group == "treatment", "cost"].sum() <= 150.0
    assert (plan.loc[plan.group == "holdout", "cost"] == 0).all()
    assert (plan.group == "holdout").mean() == pytest.approx(0.2, abs=0.01)
    assert (plan.expected_profit > 0).all()
    again = plan_campaign(u, OFFERS, budget=150.0, holdout=0.2, method=method, random_state=3)
    pd.testing.assert_frame_equal(plan, again)


def test_lp_is_at_least_as_good_as_greedy_and_value_matches():
    u = _table(800, seed=1)
    g = plan_campaign(u, OFFERS, budget=200.0, holdout=0.0, method="greedy")
    lp = plan_campaign(u, OFFERS, budget=200.0, holdout=0.0, method="lp")
    vg, vl = plan_value(g, u, OFFERS), plan_value(lp, u, OFFERS)
    assert vg == pytest.approx(g.expected_profit.sum())
    assert vl >= vg - max(o.margin * 0.3 for o in OFFERS)  # within one offer of the optimum
    # the plan is far better than sending the cheapest offer to random customers
    rng = np.random.default_rng(0)
    rand = pd.DataFrame(rng.uniform(size=u.shape), index=u.index, columns=u.columns)
    vr = plan_value(plan_campaign(rand, OFFERS, 200.0, holdout=0.0), u, OFFERS)
    assert vg > 2 * vr


def test_bad_input():
    u = _table(20)
    with pytest.raises(DataError, match="no uplift column"):
        plan_campaign(u, [Offer("sms", 1.0, 5.0)], 10)
    with pytest.raises(DataError, match="budget"):
        plan_campaign(u, OFFERS, -1)
    with pytest.raises(DataError, match="holdout"):
        plan_campaign(u, OFFERS, 10, holdout=1.0)
    with pytest.raises(DataError, match="method"):
        plan_campaign(u, OFFERS, 10, method="magic")
    plan = plan_campaign(u, [{"name": "discount", "cost": 1.0, "margin": 50.0}], 5)
    assert len(plan) <= 5
