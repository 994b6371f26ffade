"""Train, evaluate and read back the customers capability.

``train`` fits BG/NBD and Gamma-Gamma on every sale order, scores each customer (profile,
R/F/M scores, RFM segment, behavioural cluster, expected purchases, P(alive), CLV), recomputes
segments monthly for the segment history, and registers it all as one version of
``customers``. The CLV model is evaluated first on a time split: fitted on the orders before
``cutoff = last order - holdout_days``, it predicts each customer's purchases in the holdout.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from storemind.customers._scoring import (
    btyd_columns,
    cluster_features,
    customers_of,
    sale_orders,
    score_frame,
    segment_history,
)
from storemind.customers._summary import rfm_summary
from storemind.customers.bgnbd import BGNBD
from storemind.customers.clusters import BehaviorClusters
from storemind.customers.segments import SEGMENT_ADVICE, SEGMENTS, RFMSegmenter
from storemind.errors import DataError, NotFoundError

__all__ = ["train", "evaluate", "export_segments", "load_scores", "load_clusters",
           "load_history", "HORIZON_DAYS", "DISCOUNT_RATE", "CLV_MONTHS"]

HORIZON_DAYS = 90
DISCOUNT_RATE = 0.01  # per month
CLV_MONTHS = 12


def _holdout_days(orders: pd.DataFrame, wanted: int) -> int:
    span = (orders.ts.max() - orders.ts.min()).days
    return int(max(7, min(wanted, span // 3)))


def evaluate(store: Any, settings: Any = None, *, holdout_days: int = HORIZON_DAYS
             ) -> dict[str, float]:
    """BG/NBD on a time split: mean absolute error of predicted vs actual purchases per
    customer in the last ``holdout_days`` (shortened to a third of the data's span), against
    a naive forecast (each customer's calibration purchase rate)."""
    orders = sale_orders(store)
    days = _holdout_days(orders, holdout_days)
    end = orders.ts.max().normalize()
    cutoff = end - pd.Timedelta(days=days)
    s = rfm_summary(orders, value_col="total", calibration_end=cutoff, holdout_end=end)
    if len(s) < 10:
        raise DataError(f"CLV evaluation needs at least 10 customers before {cutoff.date()}; "
                        f"got {len(s)}")
    t0 = time.perf_counter()
    bg = BGNBD().fit(s.frequency, s.recency, s["T"])
    fit_s = time.perf_counter() - t0
    pred = bg.predict(days / 7.0, s.frequency, s.recency, s["T"])
    actual = s.frequency_holdout.to_numpy()
    naive = (s.frequency + 1) / np.maximum(s["T"], 1.0) * days / 7.0
    return {
        "holdout_days": float(days),
        "holdout_customers": float(len(s)),
        "purchases_mae": float(np.mean(np.abs(pred - actual))),
        "purchases_mae_naive": float(np.mean(np.abs(naive - actual))),
        "purchases_predicted": float(pred.sum()),
        "purchases_actual": float(actual.sum()),
        "bgnbd_fit_seconds": fit_s,
    }


def train(store: Any, registry: Any, settings: Any = None, *,
          horizon_days: int = HORIZON_DAYS, discount_rate: float = DISCOUNT_RATE,
          months: int = CLV_MONTHS, random_state: int | None = None) -> Any:
    """Fit and register the customers models; returns the new ``ModelVersion``."""
    seed = random_state if random_state is not None else getattr(settings, "seed", 0)
    metrics = evaluate(store, settings, holdout_days=horizon_days)
    orders = sale_orders(store)
    btyd, bg, gg = btyd_columns(orders, months=months, discount_rate=discount_rate,
                                horizon_days=horizon_days)
    prof = customers_of(store)
    seg = RFMSegmenter().fit(prof.recency_days, prof.frequency, prof.monetary)
    feats = cluster_features(store, prof)
    clusters = None
    if len(feats) >= 20:
        clusters = BehaviorClusters(random_state=seed).fit(feats)
    scores = score_frame(prof, btyd, seg, clusters, feats)
    names = clusters.describe() if clusters is not None else pd.DataFrame(
        columns=["cluster", "name", "size", "share", "description"])
    sizes, moves = segment_history(store)
    metrics.update({
        "customers": float(len(scores)),
        "clusters": float(clusters.k_ if clusters is not None else 0),
        "silhouette": float(clusters.silhouettes_[1].max()) if clusters is not None else 0.0,
        "clv_total": float(scores.clv.sum()),
    })

    def write(folder: Path) -> None:
        bg.save(folder / "bgnbd")
        if gg is not None:
            gg.save(folder / "gamma_gamma")
        seg.save(folder / "rfm")
        if clusters is not None:
            clusters.save(folder / "clusters")
        scores.to_parquet(folder / "customers.parquet", index=False)
        names.to_csv(folder / "clusters.csv", index=False)
        sizes.to_csv(folder / "segment_sizes.csv", index=False)
        moves.to_csv(folder / "segment_moves.csv", index=False)

    params = {"horizon_days": horizon_days, "discount_rate": discount_rate, "months": months,
              "bgnbd": bg.r_alpha_a_b, "gamma_gamma": gg.p_q_v if gg is not None else None,
              "cluster_features": list(feats.columns), "random_state": seed}
    return registry.register("customers", write, params=params, metrics=metrics,
                             data={"rows": int(len(orders)), "customers": int(len(scores))})


# -- reading a registered version ----------------------------------------------------------
_CACHE: dict[tuple[str, str], Any] = {}


def _version(registry: Any) -> Any:
    try:
        return registry.get("customers")
    except NotFoundError:
        raise NotFoundError("customers are not trained yet; run `storemind train customers`") \
            from None


def _cached(mv: Any, name: str, read: Any) -> Any:
    key = (str(mv.path), name)
    if key not in _CACHE:
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = read(mv.path)
    return _CACHE[key]


def load_scores(registry: Any) -> pd.DataFrame:
    """The scored customers of the current version (one row per customer)."""
    mv = _version(registry)
    return _cached(mv, "scores", lambda p: pd.read_parquet(p / "customers.parquet"))


def load_clusters(registry: Any) -> pd.DataFrame:
    """Cluster names, sizes and descriptions of the current version."""
    mv = _version(registry)
    return _cached(mv, "clusters", lambda p: pd.read_csv(p / "clusters.csv"))


def load_history(registry: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(segment sizes over time, moves between the last two snapshots)."""
    mv = _version(registry)
    return _cached(mv, "history", lambda p: (
        pd.read_csv(p / "segment_sizes.csv", parse_dates=["as_of"]),
        pd.read_csv(p / "segment_moves.csv")))


def segment_table(registry: Any) -> pd.DataFrame:
    """Per RFM segment: customers, share, mean recency/frequency/spend, total CLV, advice."""
    s = load_scores(registry)
    g = s.groupby("segment").agg(customers=("user_id", "size"),
                                 recency_days=("recency_days", "mean"),
                                 frequency=("frequency", "mean"),
                                 monetary=("monetary", "mean"),
                                 clv=("clv", "sum"), p_alive=("p_alive", "mean"))
    g = g.reindex([x for x in SEGMENTS if x in g.index])
    g["share"] = g.customers / g.customers.sum()
    g["advice"] = [SEGMENT_ADVICE[x] for x in g.index]
    return g.reset_index()


def export_segments(store: Any, registry: Any, path: str | Path, fmt: str = "csv") -> Path:
    """Write every customer's segment, cluster and value to ``path`` (``fmt``: csv, parquet
    or json lines). Columns: user_id, segment, R, F, M, cluster, cluster_name, recency_days,
    frequency, monetary, expected_purchases, p_alive, clv. Returns the path."""
    if fmt not in ("csv", "parquet", "jsonl"):
        raise DataError(f"format must be csv, parquet or jsonl; got {fmt!r}")
    s = load_scores(registry)
    names = load_clusters(registry).set_index("cluster")["name"]
    out = s[["user_id", "segment", "R", "F", "M", "cluster", "recency_days", "frequency",
             "monetary", "expected_purchases", "p_alive", "clv"]].copy()
    out.insert(6, "cluster_name", out.cluster.map(names).fillna(""))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        out.to_csv(path, index=False)
    elif fmt == "parquet":
        out.to_parquet(path, index=False)
    else:
        out.to_json(path, orient="records", lines=True, date_format="iso")
    return path


def profile_of(registry: Any, user_id: str) -> dict[str, Any] | None:
    """One customer's scored row as a dict, or None when unknown."""
    s = load_scores(registry)
    idx = _cached(_version(registry), "index",
                  lambda p: pd.Index(s["user_id"].astype(str)))
    pos = idx.get_indexer([str(user_id)])[0]
    if pos < 0:
        return None
    row = s.iloc[pos].to_dict()
    names = load_clusters(registry).set_index("cluster")
    c = row.get("cluster", -1)
    row["cluster_name"] = str(names["name"].get(c, "")) if c is not None else ""
    row["cluster_description"] = str(names["description"].get(c, "")) if c is not None else ""
    return row


def history_of(store: Any, user_id: str, limit: int = 50) -> pd.DataFrame:
    """The customer's latest orders (order_id, ts, total, kind, channel), newest first."""
    o = store.table("orders")
    expr = o.filter(o.user_id == str(user_id)).order_by(o.ts.desc()).limit(limit).select(
        "order_id", "ts", "total", "kind", "channel")
    return store.execute(expr)


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, (np.generic,)):
            v = v.item()
        if isinstance(v, float) and not np.isfinite(v):
            v = None
        if isinstance(v, pd.Timestamp):
            v = None if pd.isna(v) else v.isoformat()
        elif v is pd.NaT or (not isinstance(v, (str, list, dict)) and v is not None
                             and pd.isna(v)):
            v = None
        out[k] = v
    return json.loads(json.dumps(out, default=str))
