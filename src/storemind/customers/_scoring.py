"""Customer-level scoring shared by the pipeline, the API and the dashboard: features for the
clusters, lifetime value columns, and segment sizes and movements over time."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from storemind.customers._features import browse_price_index, category_shares, profiles, rfm
from storemind.customers._summary import rfm_summary
from storemind.customers.bgnbd import BGNBD
from storemind.customers.gamma_gamma import GammaGamma, customer_lifetime_value
from storemind.customers.segments import RFMSegmenter
from storemind.errors import DataError

__all__ = ["cluster_features", "sale_orders", "btyd_columns", "segment_history",
           "segment_moves"]

PROFILE_NUMERIC = ("frequency", "monetary", "avg_order_value", "basket_size", "price_index",
                   "return_rate")


def sale_orders(store: Any) -> pd.DataFrame:
    """Sale orders of known customers: user_id, ts, total. A clear error when there are none."""
    o = store.table("orders")
    expr = o.filter(o.user_id.notnull() & (o.kind.isnull() | (o.kind == "sale"))).select(
        "user_id", "ts", "total")
    frame = store.execute(expr)
    if frame.empty:
        raise DataError("customers need sale orders with a user_id in the `orders` table; it "
                        "has none (load a dataset, ingest orders, or run `storemind demo`)")
    frame["total"] = frame["total"].fillna(0.0)
    return frame


def cluster_features(store: Any, prof: pd.DataFrame, as_of: Any = None,
                     top_categories: int = 12) -> pd.DataFrame:
    """Features the behavioural clusters use, indexed by user_id for the customers in
    ``prof``: category shares of browsing and buying and the browse price index where the
    store has them, else the profile's spend and basket columns."""
    idx = pd.Index(prof["user_id"], name="user_id")
    parts = []
    shares = store.execute(category_shares(store, as_of, top=top_categories))
    if not shares.empty and shares["category"].nunique() > 1:
        wide = shares.pivot(index="user_id", columns="category", values="share").fillna(0.0)
        wide.columns = [f"share_{c}" for c in wide.columns]
        parts.append(wide.reindex(idx).fillna(0.0))
        bpi = store.execute(browse_price_index(store, as_of)).set_index("user_id")
        if not bpi.empty:
            parts.append(bpi.reindex(idx))
    if not parts:
        cols = [c for c in PROFILE_NUMERIC if c in prof.columns]
        parts.append(prof.set_index("user_id")[cols].reindex(idx))
    out = pd.concat(parts, axis=1)
    return out.loc[:, out.notna().any()]


def btyd_columns(orders: pd.DataFrame, *, months: int = 12, discount_rate: float = 0.01,
                 horizon_days: int = 90, as_of: Any = None
                 ) -> tuple[pd.DataFrame, BGNBD, GammaGamma | None]:
    """Fit BG/NBD (and Gamma-Gamma where possible) on all orders up to ``as_of`` and return per
    customer ``expected_purchases`` (next ``horizon_days``), ``p_alive`` and ``clv``."""
    summ = rfm_summary(orders, value_col="total", calibration_end=as_of, unit="W")
    bg = BGNBD().fit(summ.frequency, summ.recency, summ["T"])
    out = pd.DataFrame(index=summ.index)
    out["expected_purchases"] = bg.predict(horizon_days / 7.0, summ.frequency, summ.recency,
                                           summ["T"])
    out["p_alive"] = bg.probability_alive(summ.frequency, summ.recency, summ["T"])
    gg = None
    try:
        gg = GammaGamma().fit(summ.frequency, summ.monetary_value)
        out["clv"] = customer_lifetime_value(
            bg, gg, summ.frequency, summ.recency, summ["T"], summ.monetary_value,
            months=months, discount_rate=discount_rate)
    except DataError:  # too few repeat buyers: value at the mean first-order spend
        first = orders.groupby("user_id")["total"].mean().reindex(summ.index).fillna(0.0)
        cum = bg.predict(months * 30 / 7.0, summ.frequency, summ.recency, summ["T"])
        out["clv"] = cum * first.to_numpy()
    out.index.name = "user_id"
    return out, bg, gg


def _segments_at(store: Any, as_of: pd.Timestamp) -> pd.DataFrame:
    r = store.execute(rfm(store, as_of.to_pydatetime()))
    if len(r) < 5:
        return pd.DataFrame(columns=["user_id", "segment", "monetary"])
    seg = RFMSegmenter().fit(r.recency_days, r.frequency, r.monetary)
    r["segment"] = seg.predict(r.recency_days, r.frequency, r.monetary)
    return r[["user_id", "segment", "monetary"]]


def segment_history(store: Any, *, periods: int = 6, freq_days: int = 30,
                    end: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segments recomputed every ``freq_days`` days for the last ``periods`` snapshots.

    Returns ``(sizes, moves)``: sizes has one row per snapshot and segment (``as_of``,
    ``segment``, ``customers``, ``value`` = their spend to date); moves counts customers by
    (``from_segment``, ``to_segment``) between the last two snapshots."""
    lo, hi = store.time_range("orders")
    if hi is None:
        raise DataError("no orders to segment")
    end = pd.Timestamp(end) if end is not None else hi + pd.Timedelta(seconds=1)
    stamps = [end - pd.Timedelta(days=freq_days * i) for i in range(periods)][::-1]
    stamps = [s for s in stamps if s > lo] or [end]
    frames = []
    for s in stamps:
        f = _segments_at(store, s)
        f["as_of"] = s.normalize()
        frames.append(f)
    sizes = (pd.concat(frames).groupby(["as_of", "segment"], as_index=False)
             .agg(customers=("user_id", "size"), value=("monetary", "sum")))
    moves = segment_moves(frames[-2] if len(frames) > 1 else frames[-1], frames[-1])
    return sizes, moves


def segment_moves(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Customers per (from_segment, to_segment); new customers come from ``"(new)"``."""
    m = after[["user_id", "segment"]].merge(before[["user_id", "segment"]], on="user_id",
                                            how="left", suffixes=("", "_before"))
    m["segment_before"] = m["segment_before"].fillna("(new)")
    out = (m.groupby(["segment_before", "segment"]).size().rename("customers").reset_index()
           .rename(columns={"segment_before": "from_segment", "segment": "to_segment"}))
    return out.sort_values("customers", ascending=False, ignore_index=True)


def score_frame(prof: pd.DataFrame, btyd: pd.DataFrame, seg: RFMSegmenter,
                clusters: Any, feats: pd.DataFrame) -> pd.DataFrame:
    """Profile + R/F/M scores + segment + cluster + BG/NBD columns, one row per customer."""
    out = prof.copy()
    sc = seg.scores(out.recency_days, out.frequency, out.monetary)
    for c in ("R", "F", "M"):
        out[c] = sc[c].to_numpy()
    out["segment"] = seg.predict(out.recency_days, out.frequency, out.monetary)
    if clusters is not None:
        out["cluster"] = clusters.predict(feats.reindex(out.user_id))
    else:
        out["cluster"] = -1
    out = out.merge(btyd.reset_index(), on="user_id", how="left")
    for c in ("expected_purchases", "clv"):
        out[c] = out[c].fillna(0.0)
    out["p_alive"] = out["p_alive"].fillna(1.0)
    out["churn_risk_btyd"] = 1.0 - out["p_alive"]
    for c in ("first_ts", "last_ts"):
        out[c] = pd.to_datetime(out[c])
    return out.replace([np.inf, -np.inf], np.nan)


def customers_of(store: Any, as_of: Any = None) -> pd.DataFrame:
    """The profile frame of every buyer (see :func:`profiles`)."""
    return store.execute(profiles(store, as_of))
