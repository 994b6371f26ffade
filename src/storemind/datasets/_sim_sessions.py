"""Sessions of one chunk of users: view -> cart -> purchase funnel, orders, payments, ratings.

All arrays are per session, per event or per order line of the chunk; nothing outlives the chunk
except the ``Counters`` (running id numbers) and the demand the caller accumulates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from storemind.datasets._sim_world import ARMS, N_STAPLES, UserChunk, World

__all__ = ["Counters", "Purchases", "generate_sessions", "ids", "to_ts"]

DAY_S = 86_400.0


@dataclass
class Counters:
    """Running id numbers, so ids are unique and the same for a seed whatever the batching."""

    event: int = 0
    session: int = 0
    order: int = 0
    payment: int = 0
    fraud_user: int = 0
    exposure: int = 0
    extra: dict = field(default_factory=dict)


def ids(prefix: str, start: int, n: int, width: int = 9) -> np.ndarray:
    return np.array([f"{prefix}{k:0{width}d}" for k in range(start + 1, start + n + 1)],
                    dtype=object)


def to_ts(world: World, seconds: np.ndarray) -> pd.Series:
    ms = np.round(np.asarray(seconds, dtype=float) * 1000).astype("int64")
    return pd.Series(world.start + ms.astype("timedelta64[ms]"))


def draw_cat(rng: np.random.Generator, taste: np.ndarray) -> np.ndarray:
    return (taste.cumsum(1) < rng.random((len(taste), 1))).sum(1).clip(0, taste.shape[1] - 1)


@dataclass
class Purchases:
    """Order lines of a chunk, before they become orders, order_items and payments."""

    user: np.ndarray  # chunk-local user index
    order: np.ndarray  # chunk-local order index (one per purchase session)
    item: np.ndarray
    qty: np.ndarray
    unit_price: np.ndarray
    ts: np.ndarray  # seconds since start


def _sessions(rng: np.random.Generator, world: World, u: UserChunk,
              campaign_days: tuple[int, int] | None) -> dict[str, np.ndarray]:
    cum = world.season_cum
    a, e = u.active_from, np.maximum(u.active_to, u.active_from)
    a_c, e_c = np.minimum(a, world.n_days), np.minimum(e, world.n_days)
    n_sess = rng.poisson(u.rate * (cum[e_c] - cum[a_c]))
    su = np.repeat(np.arange(len(a)), n_sess)
    lo, hi = cum[a_c[su]], cum[e_c[su]]
    day = np.searchsorted(cum, lo + rng.random(len(su)) * (hi - lo), side="right") - 1
    day = np.clip(day, a_c[su], np.maximum(e_c[su] - 1, a_c[su]))
    # churners fade out: half of the sessions in their last 30 days do not happen
    fading = (u.churn_day[su] >= 0) & (day >= u.churn_day[su] - 30)
    keep = ~(fading & (rng.random(len(su)) < 0.5))
    su, day = su[keep], day[keep]
    hour = np.where(rng.random(len(su)) < 0.7, rng.normal(20, 2.5, len(su)),
                    rng.normal(12.5, 3, len(su))) % 24
    t0 = day * DAY_S + np.clip(hour, 0.25, 22.5) * 3600
    order = np.lexsort((t0, su))
    su, day, t0 = su[order], day[order], t0[order]
    boost = np.zeros(len(su))
    if campaign_days is not None:
        d0, d1 = campaign_days
        arm = u.arm[su]
        in_window = (arm > 0) & (day >= d0) & (day < d1)
        boost = np.where(in_window, world.type_effect[u.type_idx[su], np.maximum(arm, 0)], 0.0)
    buy = rng.random(len(su)) < u.buy[su] * (1 + boost)
    return dict(user=su, day=day, t0=t0, buy=buy)


def generate_sessions(rng: np.random.Generator, world: World, u: UserChunk,
                      campaign_days: tuple[int, int] | None, counters: Counters
                      ) -> tuple[pd.DataFrame, Purchases, dict[str, np.ndarray]]:
    """Events of all sessions of the chunk; the purchases; per-session facts for the caller."""
    s = _sessions(rng, world, u, campaign_days)
    su, day, t0, buy = s["user"], s["day"], s["t0"], s["buy"]
    n_s = len(su)
    typ = u.type_idx[su]
    gap = np.clip(rng.exponential(40, n_s) + 5, 5, 120)
    nv = np.minimum(1 + rng.poisson(2.0, n_s), 15)
    nb = buy * (1 + rng.binomial(2, 0.15, n_s))

    # browsing views, chosen by taste, price sensitivity, style and popularity of the period
    vs = np.repeat(np.arange(n_s), nv)
    v_pos = np.arange(len(vs)) - np.repeat(np.cumsum(nv) - nv, nv)
    v_item = world.draw_items(rng, typ[vs], day[vs], draw_cat(rng, u.taste[su[vs]]))
    v_ts = t0[vs] + v_pos * gap[vs]

    # purchased items: a staple again (repeat purchase) or a new choice
    bs = np.repeat(np.arange(n_s), nb)
    b_pos = np.arange(len(bs)) - np.repeat(np.cumsum(nb) - nb, nb)
    staple = rng.random(len(bs)) < world.type_repeat[typ[bs]]
    fresh = world.draw_items(rng, typ[bs], day[bs], draw_cat(rng, u.taste[su[bs]]))
    b_item = np.where(staple, u.staples[su[bs], rng.integers(0, N_STAPLES, len(bs))], fresh)
    bv_ts = t0[bs] + (nv[bs] + 2 * b_pos) * gap[bs]
    bc_ts = bv_ts + gap[bs]
    bp_ts = t0[bs] + (nv[bs] + 2 * nb[bs] + 1) * gap[bs] + b_pos
    price = world.item_price[b_item]
    if campaign_days is not None:  # the discount arm pays 10% less during the campaign
        d0, d1 = campaign_days
        disc = (u.arm[su[bs]] == ARMS.index("discount")) & (day[bs] >= d0) & (day[bs] < d1)
        price = np.where(disc, np.round(price * 0.9, 2), price)
    qty = 1 + (rng.random(len(bs)) < 0.12) + (rng.random(len(bs)) < 0.05)
    qty = qty + (world.categories.index("Grocery") == world.item_cat[b_item]) * rng.integers(
        0, 3, len(bs))

    # abandoned carts: the first browsed item of some sessions goes to the cart and stays there
    aband = rng.random(n_s) < np.where(buy, 0.15, 0.3)
    first_view = np.cumsum(nv) - nv
    a_sess = np.flatnonzero(aband)
    a_item = v_item[first_view[a_sess]]
    a_ts = t0[a_sess] + (nv[a_sess] - 0.5) * gap[a_sess]

    # searches open some sessions; the query names what the first view is
    srch = np.flatnonzero(rng.random(n_s) < 0.3)
    q_item = v_item[first_view[srch]]
    queries = world.item_noun[q_item]

    # some purchases are rated a few days later, while the customer is still active
    rated = np.flatnonzero(rng.random(len(bs)) < 0.12)
    r_ts = bp_ts[rated] + rng.uniform(1, 10, len(rated)) * DAY_S
    ok = r_ts < u.active_to[su[bs[rated]]] * DAY_S
    rated, r_ts = rated[ok], r_ts[ok]
    aff = world.affinity(typ[bs[rated]], b_item[rated])
    stars = np.clip(np.round(3.6 + 0.7 * aff + rng.normal(0, 0.8, len(rated))), 1, 5)

    sess_ids = ids("S", counters.session, n_s)
    counters.session += n_s
    nan = np.nan
    parts = [
        (vs, v_item, "view", np.full(len(vs), nan), v_ts),
        (bs, b_item, "view", np.full(len(bs), nan), bv_ts),
        (bs, b_item, "cart", price, bc_ts),
        (a_sess, a_item, "cart", world.item_price[a_item], a_ts),
        (bs, b_item, "purchase", np.round(price * qty, 2), bp_ts),
        (bs[rated], b_item[rated], "rating", stars, r_ts),
    ]
    sess = np.concatenate([p[0] for p in parts] + [srch])
    item = np.concatenate([p[1] for p in parts] + [np.full(len(srch), -1)])
    etype = np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts]
                           + [np.full(len(srch), "search", dtype=object)])
    value = np.concatenate([p[3] for p in parts] + [np.full(len(srch), nan)])
    ts = np.concatenate([p[4] for p in parts] + [t0[srch] - 15])
    query = np.concatenate([np.full(len(sess) - len(srch), None, dtype=object), queries])
    order = np.lexsort((ts, sess))
    sess, item, etype, value, ts, query = (x[order] for x in (sess, item, etype, value, ts, query))
    item_ids = np.where(item >= 0, world.item_ids[np.maximum(item, 0)], None)
    events = pd.DataFrame({
        "event_id": ids("E", counters.event, len(sess), 10),
        "user_id": u.ids[su[sess]], "item_id": item_ids, "session_id": sess_ids[sess],
        "event_type": etype, "value": value, "ts": to_ts(world, ts), "query": query,
    })
    counters.event += len(sess)

    order_of_session = np.cumsum(buy) - 1
    purchases = Purchases(user=su[bs], order=order_of_session[bs], item=b_item,
                          qty=qty.astype(float), unit_price=price, ts=bp_ts)
    facts = dict(user=su, day=day, buy=buy)
    return events, purchases, facts
