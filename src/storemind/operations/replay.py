"""Replay a held-out demand period against an inventory policy (lost sales).

Each day: orders due arrive, demand is served from stock (what cannot be served is lost),
then -- on review days -- the position (on hand + on order) is compared with the reorder point
and an order is placed, arriving ``lead_time`` days later. Two order rules:

* ``"order_up_to"``: order up to ``order_up_to`` (the (s, S) policy of :mod:`.policy`);
* ``"fixed"``: order ``order_quantity`` (the (s, Q) rule of a simple shop).
"""
from __future__ import annotations

import numpy as np

from storemind.errors import DataError

__all__ = ["replay_policy"]


def replay_policy(demand: np.ndarray, reorder_point: np.ndarray, *, lead_time: np.ndarray,
                  order_up_to: np.ndarray | None = None,
                  order_quantity: np.ndarray | None = None, review_period: int = 1,
                  start_on_hand: np.ndarray | None = None,
                  unit_cost: np.ndarray | None = None) -> dict[str, float]:
    """Simulate ``demand`` (n_items, n_days) and return fill rate (units served / units
    demanded), stock-out share (item-days with lost sales over item-days with demand),
    average inventory (units per item-day, and value when ``unit_cost`` is given) and orders
    placed.

    Give exactly one of ``order_up_to`` (order up to S) and ``order_quantity`` (order Q).
    ``start_on_hand`` defaults to ``order_up_to`` or ``reorder_point + order_quantity``.
    """
    D = np.nan_to_num(np.asarray(demand, float))
    if D.ndim != 2:
        raise DataError(f"demand must be (n_items, n_days); got shape {D.shape}")
    n, T = D.shape
    s = np.asarray(reorder_point, float)
    L = np.maximum(np.round(np.asarray(lead_time, float)).astype(int), 0)
    if (order_up_to is None) == (order_quantity is None):
        raise DataError("give exactly one of order_up_to and order_quantity")
    up = None if order_up_to is None else np.asarray(order_up_to, float)
    q = None if order_quantity is None else np.asarray(order_quantity, float)
    on = (np.asarray(start_on_hand, float).copy() if start_on_hand is not None
          else (up.copy() if up is not None else s + q))
    pipeline = np.zeros((n, T + int(L.max()) + 2))
    served = lost_days = inv = orders = 0.0
    inv_value = 0.0
    cost = np.ones(n) if unit_cost is None else np.asarray(unit_cost, float)
    rows = np.arange(n)
    for d in range(T):
        on += pipeline[:, d]
        sold = np.minimum(on, D[:, d])
        served += sold.sum()
        lost_days += ((D[:, d] - sold) > 1e-9).sum()
        on -= sold
        inv += on.sum()
        inv_value += (on * cost).sum()
        if d % max(int(review_period), 1) == 0:
            position = on + pipeline[:, d + 1:].sum(1)
            due = position <= s
            amount = (np.maximum(up - position, 0) if up is not None else q) * due
            amount = np.ceil(amount)
            place = amount > 0
            pipeline[rows[place], d + np.maximum(L[place], 1)] += amount[place]
            orders += place.sum()
    total = D.sum()
    demand_days = (D > 0).sum()
    return {
        "fill_rate": float(served / total) if total > 0 else 1.0,
        "stockout_share": float(lost_days / demand_days) if demand_days else 0.0,
        "avg_inventory_units": float(inv / (n * T)),
        "avg_inventory_value": float(inv_value / (n * T)),
        "orders": float(orders),
    }
