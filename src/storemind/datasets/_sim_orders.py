"""Orders, order lines and payments of one chunk, with the planted fraud patterns.

Patterns (``GroundTruth.fraud.pattern``):

- ``card_testing``: a fresh account fires many small payments on one card within minutes;
- ``account_takeover``: an old account pays a large order from a new device, IP and country;
- ``new_account_high_value``: an account opened minutes earlier places a large first order.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from storemind.datasets import _sim_text as txt
from storemind.datasets._sim_sessions import DAY_S, Counters, Purchases, ids, to_ts
from storemind.datasets._sim_world import UserChunk, World

__all__ = ["build_orders", "plant_fraud"]

_APPROVED = json.dumps({"status": "approved"})
_DECLINED = json.dumps({"status": "declined"})


def _random_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    o = rng.integers(1, 255, (n, 4))
    return np.array([f"{a}.{b}.{c}.{d}" for a, b, c, d in o], dtype=object)


def build_orders(rng: np.random.Generator, world: World, u: UserChunk, p: Purchases,
                 counters: Counters) -> dict[str, pd.DataFrame]:
    """Legitimate orders (one per purchase session), their lines and one payment each."""
    n_orders = int(p.order.max()) + 1 if len(p.order) else 0
    line_total = p.qty * p.unit_price
    total = np.round(np.bincount(p.order, weights=line_total, minlength=n_orders), 2)
    o_ts = np.zeros(n_orders)
    np.maximum.at(o_ts, p.order, p.ts)
    o_user = np.zeros(n_orders, dtype=int)
    o_user[p.order] = p.user
    order_ids = ids("O", counters.order, n_orders)
    counters.order += n_orders
    recent = o_ts > (world.n_days - 4) * DAY_S
    status = np.where(recent, "shipped", "delivered").astype(object)
    channel = np.where((u.device_kind[o_user] == "mobile") & (rng.random(n_orders) < 0.6),
                       "app", "web").astype(object)
    orders = pd.DataFrame({
        "order_id": order_ids, "user_id": u.ids[o_user], "ts": to_ts(world, o_ts),
        "status": status, "total": total, "currency": "USD", "country": u.country[o_user],
        "channel": channel, "kind": "sale", "shipping_address": u.address[o_user],
    })
    first_line = np.searchsorted(p.order, np.arange(n_orders))
    lines = pd.DataFrame({
        "order_id": order_ids[p.order], "line_no": np.arange(len(p.order)) - first_line[p.order],
        "item_id": world.item_ids[p.item], "quantity": p.qty, "unit_price": p.unit_price,
    })
    method = u.method[o_user]
    payments = pd.DataFrame({
        "payment_id": ids("P", counters.payment, n_orders),
        "order_id": order_ids, "user_id": u.ids[o_user],
        "ts": to_ts(world, o_ts + rng.uniform(2, 20, n_orders)), "amount": total,
        "currency": "USD", "method": method,
        "card_id": np.where(method == "card", u.card_id[o_user], None),
        "device_id": u.device_id[o_user], "ip": u.ip[o_user], "country": u.country[o_user],
        "is_fraud": np.zeros(n_orders, dtype=int), "attributes": None,
    })
    counters.payment += n_orders
    return {"orders": orders, "order_items": lines, "payments": payments}


def _expensive(rng: np.random.Generator, world: World, day: np.ndarray) -> np.ndarray:
    """An item from the dearest fifth of the catalogue that exists on ``day``."""
    dear = np.flatnonzero(world.item_price >= np.quantile(world.item_price, 0.8))
    out = dear[rng.integers(0, len(dear), len(day))]
    late = world.item_created_day[out] > day
    out[late] = dear[np.argmin(world.item_created_day[dear])]
    return out


def plant_fraud(rng: np.random.Generator, world: World, u: UserChunk, n_legit: int,
                fraud_rate: float, counters: Counters) -> dict[str, pd.DataFrame]:
    """Fraudulent payments (with their orders, events and accounts) for one chunk."""
    n_days = world.n_days
    target = fraud_rate / max(1e-9, 1 - fraud_rate) * n_legit
    # every pattern shows up at least once per chunk of customers when fraud_rate > 0
    least = 1 if fraud_rate > 0 else 0
    n_burst = max(least, rng.poisson(0.4 * target / 12))
    old = np.maximum(u.active_from, u.signup_day + 60)
    victims = np.flatnonzero(old < u.active_to)
    n_ato = max(least, rng.poisson(0.3 * target)) if len(victims) else 0
    n_new = max(least, rng.poisson(0.3 * target))
    out: dict[str, list[pd.DataFrame]] = {k: [] for k in
                                          ("users", "events", "orders", "order_items", "payments")}
    truth = []

    # fresh fraud accounts: one per card-testing burst and per high-value first order
    n_acc = n_burst + n_new
    acc_ids = ids("F", counters.fraud_user, n_acc, 7)
    counters.fraud_user += n_acc
    acc_day = rng.integers(0, n_days, n_acc)
    acc_t = acc_day * DAY_S + rng.uniform(1, 20, n_acc) * 3600
    acc_country = np.array(txt.COUNTRIES, dtype=object)[rng.integers(0, len(txt.COUNTRIES), n_acc)]
    out["users"].append(pd.DataFrame({
        "user_id": acc_ids, "signup_ts": to_ts(world, acc_t), "country": acc_country,
        "device": np.array(txt.DEVICES, dtype=object)[rng.integers(0, 3, n_acc)],
        "source": "organic",
    }))
    acc_device = ids("DF", counters.fraud_user - n_acc, n_acc, 7)
    acc_ip = _random_ips(rng, n_acc)

    # card testing: 8-25 tiny payments on one new card, seconds apart, mostly declined
    sizes = rng.integers(8, 26, n_burst)
    bi = np.repeat(np.arange(n_burst), sizes)
    offs = np.concatenate([np.cumsum(rng.exponential(25, k) + 3) for k in sizes]) \
        if n_burst else np.zeros(0)
    n_ct = len(bi)
    pay_ct = pd.DataFrame({
        "payment_id": ids("P", counters.payment, n_ct), "order_id": None,
        "user_id": acc_ids[bi], "ts": to_ts(world, acc_t[bi] + 300 + offs),
        "amount": np.round(rng.uniform(0.5, 5.0, n_ct), 2), "currency": "USD", "method": "card",
        "card_id": ids("CT", counters.payment, n_burst, 9)[bi], "device_id": acc_device[bi],
        "ip": acc_ip[bi], "country": acc_country[bi], "is_fraud": 1,
        "attributes": np.where(rng.random(n_ct) < 0.75, _DECLINED, _APPROVED).astype(object),
    })
    counters.payment += n_ct
    out["payments"].append(pay_ct)
    truth.append(pd.DataFrame({"payment_id": pay_ct["payment_id"], "pattern": "card_testing",
                               "user_id": pay_ct["user_id"]}))

    # large orders: account takeovers of old customers, and new accounts buying big at once
    v = victims[rng.integers(0, len(victims), n_ato)] if n_ato else np.zeros(0, dtype=int)
    v_day = rng.integers(old[v], u.active_to[v]) if n_ato else np.zeros(0, dtype=int)
    n_big = n_ato + n_new
    new = np.arange(n_burst, n_acc)
    big_user = np.concatenate([u.ids[v], acc_ids[new]])
    big_day = np.concatenate([v_day, acc_day[new]])
    big_t = np.concatenate([v_day * DAY_S + rng.uniform(0.5, 22, n_ato) * 3600,
                            acc_t[new] + rng.uniform(300, 1800, n_new)])
    pattern = np.array(["account_takeover"] * n_ato + ["new_account_high_value"] * n_new,
                       dtype=object)
    n_lines = 1 + rng.binomial(2, 0.4, n_big)
    li = np.repeat(np.arange(n_big), n_lines)
    l_no = np.arange(len(li)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    item = _expensive(rng, world, big_day[li])
    qty = rng.integers(1, 4, len(li)).astype(float)
    price = world.item_price[item]
    total = np.round(np.bincount(li, weights=qty * price, minlength=n_big), 2)
    order_ids = ids("O", counters.order, n_big)
    counters.order += n_big
    ato_country = np.array(txt.FOREIGN_COUNTRIES, dtype=object)[
        rng.integers(0, len(txt.FOREIGN_COUNTRIES), n_ato)]
    pay_country = np.concatenate([ato_country, np.where(
        rng.random(n_new) < 0.5, acc_country[new],
        np.array(txt.FOREIGN_COUNTRIES, dtype=object)[rng.integers(0, 10, n_new)])])
    house, unit = rng.integers(1, 99, n_big), rng.integers(1, 50, n_big)
    addr = np.array([f"{k} Warehouse Road, Unit {j}" for k, j in zip(house, unit, strict=True)],
                    dtype=object)
    o_ts = big_t + (2 * n_lines + 1) * 30
    out["orders"].append(pd.DataFrame({
        "order_id": order_ids, "user_id": big_user, "ts": to_ts(world, o_ts),
        "status": "delivered", "total": total, "currency": "USD", "country": pay_country,
        "channel": "web", "kind": "sale", "shipping_address": addr,
    }))
    out["order_items"].append(pd.DataFrame({
        "order_id": order_ids[li], "line_no": l_no, "item_id": world.item_ids[item],
        "quantity": qty, "unit_price": price,
    }))
    stolen = ids("CS", counters.payment, n_ato, 9)
    card = np.concatenate([np.where(u.method[v] == "card", u.card_id[v], stolen),
                           ids("CN", counters.order - n_big, n_new)])
    big_pay = pd.DataFrame({
        "payment_id": ids("P", counters.payment, n_big), "order_id": order_ids,
        "user_id": big_user, "ts": to_ts(world, o_ts + rng.uniform(2, 20, n_big)),
        "amount": total, "currency": "USD", "method": "card", "card_id": card,
        "device_id": np.concatenate([ids("DX", counters.payment, n_ato, 9), acc_device[new]]),
        "ip": _random_ips(rng, n_big), "country": pay_country, "is_fraud": 1,
        "attributes": _APPROVED,
    })
    counters.payment += n_big
    out["payments"].append(big_pay)
    truth.append(pd.DataFrame({"payment_id": big_pay["payment_id"], "pattern": pattern,
                               "user_id": big_user}))
    # the fraudster's session: view, cart, purchase of each line
    sess = ids("SF", counters.order - n_big, n_big)
    t_line = big_t[li] + 60 * l_no
    n_l = len(li)
    ev = pd.DataFrame({
        "user_id": np.tile(big_user[li], 3), "item_id": np.tile(world.item_ids[item], 3),
        "session_id": np.tile(sess[li], 3),
        "event_type": np.repeat(np.array(["view", "cart", "purchase"], dtype=object), n_l),
        "value": np.concatenate([np.full(n_l, np.nan), price, np.round(price * qty, 2)]),
        "ts": to_ts(world, np.concatenate([t_line, t_line + 30, o_ts[li] - 1])),
        "query": None,
    })
    ev.insert(0, "event_id", ids("E", counters.event, len(ev), 10))
    counters.event += len(ev)
    out["events"].append(ev)
    frames = {k: pd.concat(v, ignore_index=True) for k, v in out.items()}
    frames["fraud_truth"] = pd.concat(truth, ignore_index=True)
    return frames
