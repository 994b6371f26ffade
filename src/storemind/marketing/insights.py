"""Which segments respond to which offer, in plain language."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["segment_insights", "campaign_segments"]


def campaign_segments(X: pd.DataFrame) -> np.ndarray:
    """A readable segment per customer from the uplift features.

    With order history (``days_since_order``, ``orders``, ``order_spend``): the RFM segments
    of :class:`storemind.customers.RFMSegmenter` (customers with no orders before the campaign
    are "No orders yet"). With Hillstrom's columns (``recency`` in months, ``history`` spend,
    ``mens``/``womens``): the same RFM segments with frequency = the number of the two lines
    bought. Otherwise everyone is in "All customers".
    """
    from storemind.customers import RFMSegmenter

    if {"days_since_order", "orders", "order_spend"} <= set(X.columns):
        has = X["orders"].to_numpy(dtype=float) > 0
        out = np.full(len(X), "No orders yet", dtype=object)
        if has.sum() >= 5:
            r = X["days_since_order"].to_numpy(dtype=float)[has]
            f = X["orders"].to_numpy(dtype=float)[has]
            m = X["order_spend"].to_numpy(dtype=float)[has]
            out[has] = RFMSegmenter().fit(r, f, m).predict(r, f, m)
        return out.astype(str)
    if {"recency", "history", "mens", "womens"} <= set(X.columns):
        r = X["recency"].to_numpy(dtype=float) * 30.0
        f = X["mens"].to_numpy(dtype=float) + X["womens"].to_numpy(dtype=float)
        m = X["history"].to_numpy(dtype=float)
        return RFMSegmenter().fit(r, f, m).predict(r, f, m)
    return np.full(len(X), "All customers")


def segment_insights(segments: Any, uplift: np.ndarray, treatments: list[str], *,
                     outcome: str = "conversion", min_effect: float = 0.005,
                     min_customers: int = 20) -> pd.DataFrame:
    """Mean predicted uplift of each offer per segment, the best offer and a sentence.

    Parameters
    ----------
    segments : array-like of str
        The segment of each customer.
    uplift : ndarray of shape (n, n_treatments)
        Predicted uplift per customer and offer (e.g. ``model.predict_uplift(X)``).
    treatments : list of str
        The offers, in the column order of ``uplift``.
    outcome : str
        How the outcome is called in the sentences.
    min_effect : float
        A segment "responds" to an offer when its mean uplift is above this (0.005 = half a
        percentage point); otherwise the sentence says no offer is worth sending.
    min_customers : int
        Segments with fewer customers are left out.

    Returns
    -------
    DataFrame
        One row per segment, largest best effect first: ``segment``, ``customers``,
        ``uplift_<offer>`` per offer, ``best_offer`` (or ``none``) and ``insight``.
    """
    seg = np.asarray(segments, dtype=object).astype(str)
    u = np.asarray(uplift, dtype=float).reshape(len(seg), -1)
    if u.shape[1] != len(treatments):
        raise DataError(f"uplift has {u.shape[1]} columns but {len(treatments)} treatments")
    rows = []
    for name in sorted(set(seg)):
        m = seg == name
        if m.sum() < min_customers:
            continue
        means = u[m].mean(axis=0)
        best = int(means.argmax())
        row = {"segment": name, "customers": int(m.sum())}
        row.update({f"uplift_{t}": float(v) for t, v in zip(treatments, means, strict=True)})
        others = ", ".join(f"{t} {100 * v:+.1f}" for j, (t, v)
                           in enumerate(zip(treatments, means, strict=True)) if j != best)
        if means[best] > min_effect:
            row["best_offer"] = treatments[best]
            row["insight"] = (f"{name} ({m.sum()} customers) respond most to {treatments[best]}: "
                              f"{100 * means[best]:+.1f} points of {outcome}"
                              + (f" (other offers: {others})." if others else "."))
        else:
            row["best_offer"] = "none"
            row["insight"] = (f"{name} ({m.sum()} customers) barely respond: no offer moves "
                              f"{outcome} by more than {100 * min_effect:.1f} points "
                              f"(best: {treatments[best]} {100 * means[best]:+.1f}).")
        row["_best"] = float(means[best])
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["segment", "customers",
                                     *[f"uplift_{t}" for t in treatments],
                                     "best_offer", "insight"])
    out = pd.DataFrame(rows).sort_values("_best", ascending=False).drop(columns="_best")
    return out.reset_index(drop=True)
