"""Budgeted campaign plans: who gets which offer, with a random holdout for measurement.

Each customer i and offer j has an expected incremental profit

    profit_ij = uplift_ij * margin_j - cost_j

(``uplift_ij`` the predicted change in the customer's conversion probability under offer j,
``margin_j`` the profit of one extra conversion after the offer's own per-conversion cost,
``cost_j`` the cost of sending the offer). A plan gives each customer at most one offer and
keeps the total cost within the budget. Two solvers:

- ``"greedy"`` (default): candidates with positive profit, best profit per unit of cost first
  (profit first when the cost is 0), each taken when the customer has no offer yet and it fits
  the remaining budget;
- ``"lp"``: the LP relaxation of this multiple-choice knapsack solved exactly with HiGHS
  (``scipy.optimize.linprog``); fractional assignments (at most a couple) are dropped, so the
  plan stays feasible and is within one offer's profit of the relaxation's optimum.

Then a random ``holdout`` share of the selected customers is kept back (group ``holdout``:
they receive nothing, and their offers' cost is not spent) so that
:mod:`storemind.experiments` can measure the campaign afterwards: treatment vs holdout among
the same targeted customers.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["Offer", "plan_campaign", "plan_value", "PLAN_COLUMNS"]

PLAN_COLUMNS = ["user_id", "offer", "group", "expected_uplift", "expected_profit", "cost"]


@dataclass(frozen=True)
class Offer:
    """An offer the campaign can send.

    Parameters
    ----------
    name : str
        Must match a column of the uplift table (a treatment arm of the uplift model).
    cost : float
        Cost of sending the offer to one customer (>= 0).
    margin : float
        Profit of one incremental conversion under this offer, net of the offer's cost per
        conversion (e.g. the margin of an average order minus the discount given).
    """

    name: str
    cost: float
    margin: float


def _check(uplift: pd.DataFrame, offers: Sequence[Offer], budget: float, holdout: float
           ) -> list[Offer]:
    if not isinstance(uplift, pd.DataFrame):
        raise DataError(f"uplift must be a DataFrame (index user_id, one column per offer); "
                        f"got {type(uplift).__name__}")
    offers = [o if isinstance(o, Offer) else Offer(**o) for o in offers]
    if not offers:
        raise DataError("offers: expected at least one offer; got none")
    names = [o.name for o in offers]
    missing = [n for n in names if n not in uplift.columns]
    if missing:
        raise DataError(f"offer(s) {missing} have no uplift column; the uplift table has "
                        f"{list(uplift.columns)}")
    if len(set(names)) != len(names):
        raise DataError(f"offer names must be unique; got {names}")
    for o in offers:
        if not (np.isfinite(o.cost) and o.cost >= 0 and np.isfinite(o.margin)):
            raise DataError(f"offer {o.name!r}: cost must be >= 0 and margin finite; got "
                            f"cost={o.cost}, margin={o.margin}")
    if not np.isfinite(budget) or budget < 0:
        raise DataError(f"budget must be a number >= 0; got {budget}")
    if not 0 <= holdout < 1:
        raise DataError(f"holdout must be in [0, 1); got {holdout}")
    if uplift.index.has_duplicates:
        raise DataError("uplift: one row per customer expected; the index has duplicates")
    return offers


def _greedy(profit: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    n, m = profit.shape
    i, j = np.nonzero(profit > 0)
    p, c = profit[i, j], cost[j]
    key = np.where(c > 0, p / np.where(c > 0, c, 1), np.inf)
    order = np.lexsort((-p, -key))
    choice = np.full(n, -1)
    left = float(budget)
    for r in order:
        if choice[i[r]] < 0 and c[r] <= left + 1e-9:
            choice[i[r]] = j[r]
            left -= c[r]
    return choice


def _lp(profit: np.ndarray, cost: np.ndarray, budget: float) -> np.ndarray:
    from scipy import sparse
    from scipy.optimize import linprog

    n, m = profit.shape
    i, j = np.nonzero(profit > 0)
    choice = np.full(n, -1)
    if i.size == 0:
        return choice
    k = i.size
    users, row = np.unique(i, return_inverse=True)
    A_user = sparse.csr_matrix((np.ones(k), (row, np.arange(k))), shape=(users.size, k))
    A = sparse.vstack([A_user, sparse.csr_matrix(cost[j][None, :])]).tocsr()
    b = np.r_[np.ones(users.size), budget]
    res = linprog(-profit[i, j], A_ub=A, b_ub=b, bounds=(0, 1), method="highs")
    if res.status != 0:
        raise DataError(f"the LP solver failed: {res.message}")
    take = res.x > 1 - 1e-6
    choice[i[take]] = j[take]
    return choice


def plan_campaign(uplift: pd.DataFrame, offers: Sequence[Offer | dict[str, Any]],
                  budget: float, *, holdout: float = 0.1, method: str = "greedy",
                  random_state: int | None = 0) -> pd.DataFrame:
    """Choose who gets which offer to maximise expected incremental profit within ``budget``.

    Parameters
    ----------
    uplift : DataFrame
        Index: user ids; one column per offer with the predicted uplift (change in conversion
        probability) of that offer for that customer (e.g. from ``model.predict_uplift``).
    offers : sequence of Offer (or dicts with name, cost, margin)
    budget : float
        Most the campaign may spend on offers (holdout customers spend nothing).
    holdout : float, default 0.1
        Share of the selected customers kept back at random, for measuring the campaign.
    method : {"greedy", "lp"}
        The solver (see the module docstring).
    random_state : int, optional
        Seed of the holdout draw.

    Returns
    -------
    DataFrame
        One row per selected customer, best expected profit first: ``user_id``, ``offer``,
        ``group`` (``treatment`` or ``holdout``), ``expected_uplift``, ``expected_profit``
        (uplift * margin - cost) and ``cost`` (0 for the holdout, who receive nothing).
    """
    offers = _check(uplift, offers, budget, holdout)
    U = uplift[[o.name for o in offers]].to_numpy(dtype=float)
    if not np.isfinite(U).all():
        raise DataError("uplift: expected finite numbers; got NaN or infinite values")
    margin = np.array([o.margin for o in offers])
    cost = np.array([o.cost for o in offers])
    profit = U * margin - cost
    if method == "greedy":
        choice = _greedy(profit, cost, budget)
    elif method == "lp":
        choice = _lp(profit, cost, budget)
    else:
        raise DataError(f"method must be 'greedy' or 'lp'; got {method!r}")
    sel = np.flatnonzero(choice >= 0)
    j = choice[sel]
    plan = pd.DataFrame({
        "user_id": uplift.index.to_numpy()[sel].astype(str),
        "offer": np.array([o.name for o in offers], dtype=object)[j],
        "expected_uplift": U[sel, j], "expected_profit": profit[sel, j], "cost": cost[j]})
    rng = np.random.default_rng(random_state)
    n_hold = int(round(holdout * len(plan)))
    group = np.full(len(plan), "treatment", dtype=object)
    group[rng.choice(len(plan), size=n_hold, replace=False)] = "holdout"
    plan["group"] = group
    plan.loc[plan.group == "holdout", "cost"] = 0.0
    plan = plan.sort_values(["expected_profit", "user_id"], ascending=[False, True])
    return plan[PLAN_COLUMNS].reset_index(drop=True)


def plan_value(plan: pd.DataFrame, uplift: pd.DataFrame,
               offers: Sequence[Offer | dict[str, Any]]) -> float:
    """Incremental profit of the plan's treatment group under the given uplift table
    (e.g. the simulator's true effects): the sum of ``uplift * margin - cost`` over the
    customers who are sent an offer."""
    offers = [o if isinstance(o, Offer) else Offer(**o) for o in offers]
    by = {o.name: o for o in offers}
    treated = plan[plan["group"] == "treatment"]
    if treated.empty:
        return 0.0
    missing = sorted(set(treated["user_id"]) - set(uplift.index.astype(str)))
    if missing:
        raise DataError(f"{len(missing)} planned customers have no uplift row, e.g. {missing[0]}")
    table = uplift.copy()
    table.index = table.index.astype(str)
    u = np.array([table.at[uid, off] for uid, off in zip(treated["user_id"], treated["offer"],
                                                           strict=True)])
    m = treated["offer"].map(lambda o: by[o].margin).to_numpy(dtype=float)
    c = treated["offer"].map(lambda o: by[o].cost).to_numpy(dtype=float)
    return float((u * m - c).sum())
