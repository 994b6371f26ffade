"""Order monitoring: rules and anomaly checks that feed an alert list with reasons.

* **stuck**: an order still in a status (``pending``, ``processing``, ``shipped``, ...) longer
  than that status's limit in hours;
* **unusual quantity**: an order line's quantity far above what the product usually sells in
  one line (robust z-score on the product's history: median and MAD);
* **unusual amount**: an order's total far above the customer's usual orders;
* **demand outside forecast**: a product's units sold in a day far outside the forecast's
  prediction interval (at least twice ``upper`` and 3 units above it, or 3 units and half
  of ``lower`` below it).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["order_alerts", "forecast_alerts", "STUCK_AFTER_HOURS", "ALERT_COLUMNS"]

#: default hours an order may stay in a status before it is reported as stuck
STUCK_AFTER_HOURS: dict[str, float] = {"pending": 24.0, "processing": 48.0, "paid": 48.0,
                                       "shipped": 240.0}
ALERT_COLUMNS = ["kind", "severity", "ts", "order_id", "user_id", "item_id", "value",
                 "expected", "reason"]
_SEVERITY = {"high": 0, "medium": 1, "low": 2}


def _robust_high(values: pd.Series, keys: pd.Series, z: float, min_history: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flags of values far above their key's median (MAD scale), the median and the bound."""
    g = values.groupby(keys)
    med = g.transform("median")
    mad = (values - med).abs().groupby(keys).transform("median")
    n = g.transform("size")
    scale = np.maximum(1.4826 * mad, 0.25 * med.abs()).replace(0, np.nan)
    bound = med + z * scale
    flag = (n >= min_history) & (values > bound) & (values >= 3 * med)
    return flag.fillna(False).to_numpy(), med.to_numpy(), bound.to_numpy()


def order_alerts(orders: pd.DataFrame, lines: pd.DataFrame | None = None, *,
                 now: pd.Timestamp | None = None,
                 stuck_after_hours: Mapping[str, float] | None = None, z: float = 5.0,
                 min_history: int = 5, recent_days: float = 7.0) -> pd.DataFrame:
    """Rule and anomaly alerts on orders (``order_id, user_id, ts, status, total``) and their
    lines (``order_id, item_id, quantity``). Anomalies are reported for orders of the last
    ``recent_days`` before ``now`` (default: the newest order); stuck orders at any age."""
    need = {"order_id", "ts"}
    if missing := need - set(orders.columns):
        raise DataError(f"orders frame lacks columns {sorted(missing)}")
    limits = dict(STUCK_AFTER_HOURS if stuck_after_hours is None else stuck_after_hours)
    if any(v <= 0 for v in limits.values()):
        raise DataError(f"stuck_after_hours must be positive hours; got {limits}")
    o = orders.copy()
    o["ts"] = pd.to_datetime(o["ts"])
    now = pd.Timestamp(now) if now is not None else o["ts"].max()
    out: list[pd.DataFrame] = []
    if "status" in o.columns and len(o):
        lim = o["status"].map(limits)
        age = (now - o["ts"]).dt.total_seconds() / 3600
        stuck = lim.notna() & (age > lim)
        s = o[stuck]
        if len(s):
            a, lm = age[stuck], lim[stuck]
            out.append(pd.DataFrame({
                "kind": "stuck", "severity": np.where(a > 2 * lm, "high", "medium"),
                "ts": s["ts"], "order_id": s["order_id"], "user_id": s.get("user_id"),
                "item_id": None, "value": a.round(1), "expected": lm,
                "reason": [f"order {oid} has been '{st}' for {h:.0f} h (limit {li:.0f} h)"
                           for oid, st, h, li in zip(s["order_id"], s["status"], a, lm,
                                                     strict=True)]}))
    recent = o["ts"] >= now - pd.Timedelta(days=recent_days)
    if "total" in o.columns and "user_id" in o.columns:
        known = o[o["user_id"].notna() & o["total"].notna()]
        flag, med, bound = _robust_high(known["total"].astype(float), known["user_id"], z,
                                        min_history)
        hit = flag & recent.loc[known.index].to_numpy()
        k = known[hit]
        if len(k):
            out.append(pd.DataFrame({
                "kind": "unusual_amount", "severity": "medium", "ts": k["ts"],
                "order_id": k["order_id"], "user_id": k["user_id"], "item_id": None,
                "value": k["total"], "expected": med[hit],
                "reason": [f"order total {t:,.2f} is far above customer {u}'s usual "
                           f"{m:,.2f} (bound {b:,.2f})" for t, u, m, b in
                           zip(k["total"], k["user_id"], med[hit], bound[hit], strict=True)]}))
    if lines is not None and len(lines):
        li = lines.merge(o[["order_id", "ts", "user_id"]], on="order_id", how="inner")
        flag, med, bound = _robust_high(li["quantity"].astype(float), li["item_id"], z,
                                        min_history)
        hit = flag & (li["ts"] >= now - pd.Timedelta(days=recent_days)).to_numpy()
        k = li[hit]
        if len(k):
            out.append(pd.DataFrame({
                "kind": "unusual_quantity", "severity": "medium", "ts": k["ts"],
                "order_id": k["order_id"], "user_id": k["user_id"], "item_id": k["item_id"],
                "value": k["quantity"], "expected": med[hit],
                "reason": [f"{q:g} units of {i} in one line; it usually sells {m:g} "
                           f"(bound {b:.1f})" for q, i, m, b in
                           zip(k["quantity"], k["item_id"], med[hit], bound[hit], strict=True)]}))
    return _finish(out)


def forecast_alerts(actual: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """Products whose units sold in a day (``series_id, ts, y``) fall far outside the
    forecast interval (``series_id, ts, yhat, lower, upper``)."""
    f = forecast.drop(columns=["y"], errors="ignore").merge(
        actual[["series_id", "ts", "y"]], on=["series_id", "ts"], how="left")
    f["y"] = f["y"].fillna(0.0)
    high = f["y"] >= np.maximum(2 * f["upper"], f["upper"] + 3)
    low = f["y"] < f["lower"] - np.maximum(3.0, 0.5 * f["lower"])
    hit = f[high | low]
    if hit.empty:
        return _finish([])
    up = (high[high | low]).to_numpy()
    return _finish([pd.DataFrame({
        "kind": np.where(up, "demand_above_forecast", "demand_below_forecast"),
        "severity": np.where(up, "medium", "low"), "ts": hit["ts"], "order_id": None,
        "user_id": None, "item_id": hit["series_id"], "value": hit["y"],
        "expected": hit["yhat"],
        "reason": [f"{y:g} units of {i} sold on {pd.Timestamp(t):%Y-%m-%d}; forecast "
                   f"{m:.1f} (interval {lo:.1f}-{hi:.1f})" for y, i, t, m, lo, hi in
                   zip(hit["y"], hit["series_id"], hit["ts"], hit["yhat"], hit["lower"],
                       hit["upper"], strict=True)]})])


def _finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    a = pd.concat(parts, ignore_index=True)[ALERT_COLUMNS]
    a["_s"] = a["severity"].map(_SEVERITY)
    a = a.sort_values(["_s", "ts"], ascending=[True, False]).drop(columns="_s")
    return a.reset_index(drop=True)
