"""Stock levels, the randomised campaign's outcomes and truth, and the FAQ table."""
from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pandas as pd

from storemind.datasets import _sim_text as txt
from storemind.datasets._sim_sessions import DAY_S, Counters, Purchases, ids, to_ts
from storemind.datasets._sim_world import ARMS, CUSTOMER_TYPES, UserChunk, World

__all__ = ["stock_batches", "campaign_frame", "exposures", "questions_frame", "CAMPAIGN_ID"]

CAMPAIGN_ID = "CMP0001"


def stock_batches(world: World, demand: np.ndarray, items_truth: pd.DataFrame,
                  max_rows: int) -> Iterator[pd.DataFrame]:
    """Replay a reorder-point policy over the daily demand; yield stock snapshots in batches.

    Snapshots are daily when ``n_items * n_days <= 1e6``, weekly otherwise. Each item is
    reordered (``order_quantity``) when on hand plus on order falls to its ``reorder_point``;
    the order arrives ``lead_time_days`` later. Sales are never refused: a stock-out shows as
    ``on_hand == 0``. The policy is written into ``items_truth``.
    """
    n_days, n_items = demand.shape
    created = world.item_created_day
    lead = items_truth["lead_time_days"].to_numpy().astype(int)
    active_days = np.clip(n_days - np.maximum(created, 0), 1, None)
    mu = demand.sum(0) / active_days
    rop = np.ceil(mu * (lead + 7))
    qty = np.maximum(5.0, np.ceil(mu * 30))
    items_truth["mean_daily_demand"] = mu
    items_truth["reorder_point"] = rop
    items_truth["order_quantity"] = qty
    step = 1 if n_items * n_days <= 1_000_000 else 7
    on_hand = rop + qty
    on_order = np.zeros(n_items)
    ring = np.zeros((int(lead.max()) + 1, n_items))
    cost = items_truth["unit_cost"].to_numpy()
    rows: list[pd.DataFrame] = []
    n_rows = 0
    for d in range(n_days):
        arrive = ring[d % len(ring)].copy()
        ring[d % len(ring)] = 0
        on_hand += arrive
        on_order -= arrive
        if d % step == 0:
            live = np.flatnonzero(created <= d)
            rows.append(pd.DataFrame({
                "item_id": world.item_ids[live],
                "ts": pd.Series(np.full(len(live), world.start + np.timedelta64(d, "D"))),
                "on_hand": on_hand[live], "lead_time_days": lead[live].astype(float),
                "unit_cost": cost[live],
            }))
            n_rows += len(live)
            if n_rows >= max_rows:
                yield pd.concat(rows, ignore_index=True)
                rows, n_rows = [], 0
        on_hand = np.maximum(on_hand - demand[d], 0)
        reorder = (on_hand + on_order <= rop) & (created <= d)
        on_order[reorder] += qty[reorder]
        np.add.at(ring, ((d + lead[reorder]) % len(ring), np.flatnonzero(reorder)), qty[reorder])
    if rows:
        yield pd.concat(rows, ignore_index=True)


def campaign_frame(world: World, days: tuple[int, int]) -> pd.DataFrame:
    d0, d1 = days
    effects = {t["name"]: t["effect"] for t in CUSTOMER_TYPES}
    return pd.DataFrame({
        "campaign_id": [CAMPAIGN_ID], "name": ["Spring offer test"],
        "start_ts": [pd.Timestamp(world.start + np.timedelta64(d0, "D"))],
        "end_ts": [pd.Timestamp(world.start + np.timedelta64(d1, "D"))],
        "arms": [json.dumps(list(ARMS))],
        "description": ["Randomised test: 10% discount vs free shipping vs control, assigned "
                        f"uniformly to customers active on day {d0}; planted effects on the "
                        f"purchase rate per customer type: {json.dumps(effects)}"],
    })


def _window_exposure(world: World, u: UserChunk, days: tuple[int, int]) -> np.ndarray:
    """Season-weighted active days of each user inside the window (fading churners count 1/2)."""
    cum = world.season_cum
    d0, d1 = days
    lo = np.clip(np.maximum(u.active_from, d0), 0, world.n_days)
    hi = np.clip(np.minimum(u.active_to, d1), 0, world.n_days)
    full = np.where(hi > lo, cum[hi] - cum[np.minimum(lo, hi)], 0.0)
    f_lo = np.clip(np.maximum(lo, u.churn_day - 30), 0, world.n_days)
    faded = np.where((u.churn_day >= 0) & (hi > f_lo), cum[hi] - cum[np.minimum(f_lo, hi)], 0.0)
    return full - 0.5 * faded


def exposures(world: World, u: UserChunk, days: tuple[int, int], facts: dict[str, np.ndarray],
              p: Purchases, counters: Counters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chunk's exposures (with observed outcomes) and each exposed user's true uplift."""
    d0, d1 = days
    exp_users = np.flatnonzero(u.arm >= 0)
    n = len(u.ids)
    in_win = (facts["day"] >= d0) & (facts["day"] < d1)
    visited = np.bincount(facts["user"][in_win], minlength=n) > 0
    converted = np.bincount(facts["user"][in_win & facts["buy"]], minlength=n) > 0
    p_day = p.ts // DAY_S
    p_win = (p_day >= d0) & (p_day < d1)
    spend = np.bincount(p.user[p_win], weights=(p.qty * p.unit_price)[p_win], minlength=n)
    arm = u.arm[exp_users]
    frame = pd.DataFrame({
        "exposure_id": ids("X", counters.exposure, len(exp_users)),
        "campaign_id": CAMPAIGN_ID, "user_id": u.ids[exp_users],
        "arm": np.array(ARMS, dtype=object)[arm],
        "ts": to_ts(world, np.full(len(exp_users), d0 * DAY_S)),
        "propensity": 1.0 / len(ARMS),
        "visited": visited[exp_users].astype(float),
        "converted": converted[exp_users].astype(float),
        "spend": np.round(spend[exp_users], 2),
    })
    counters.exposure += len(exp_users)
    # P(no purchase session in the window) = exp(-rate * buy * exposure * (1 + effect))
    lam = (u.rate * u.buy * _window_exposure(world, u, days))[exp_users]
    typ = u.type_idx[exp_users]
    base = 1 - np.exp(-lam)
    truth = {"user_id": u.ids[exp_users],
             "type": np.array([t["name"] for t in CUSTOMER_TYPES], dtype=object)[typ],
             "arm": frame["arm"].to_numpy(), "baseline_conversion": base}
    for k, name in enumerate(ARMS[1:], start=1):
        truth[f"uplift_{name}"] = np.exp(-lam) - np.exp(-lam * (1 + world.type_effect[typ, k]))
    own = np.zeros(len(exp_users))
    for k, name in enumerate(ARMS[1:], start=1):
        own = np.where(arm == k, truth[f"uplift_{name}"], own)
    truth["uplift"] = own
    return frame, pd.DataFrame(truth)


def questions_frame() -> pd.DataFrame:
    """The FAQ: each entry once as written (split 'train') and once paraphrased ('test')."""
    rows = []
    for k, (intent, question, paraphrase, answer) in enumerate(txt.FAQ, start=1):
        rows.append((f"FAQ{k:03d}", question, answer, intent, "faq", None, "train"))
        rows.append((f"FAQ{k:03d}P", paraphrase, answer, intent, "faq_paraphrase", None, "test"))
    return pd.DataFrame(rows, columns=["question_id", "question", "answer", "intent", "source",
                                       "item_id", "split"])

