"""Inventory policy per product from its forecast distribution: reorder point, order-up-to
level and the quantity to order now.

An (s, S) policy: every ``review_period`` days the position (on hand plus on order) is
compared with the reorder point ``s``, the demand quantile over the lead time; when it is at
or below, an order brings it up to ``S``, the quantile of demand over the lead time plus the
order cycle (the days of demand one order should cover: the review period unless
``order_cycle`` is longer). ``review_period=1`` with ``order_cycle=7`` is continuous review
ordering about a week of demand at a time; ``review_period=7`` alone is a weekly review. The
quantile is the target cycle service level: the chance that a cycle ends without a
stock-out.

With ``fill_rate`` instead, the target is the share of demand served from stock (the
"type 2" service level shops usually quote). The reorder point is then the smallest stock
whose expected shortage over the lead time, ``E[(D_L - s)+]``, is at most ``(1 - fill_rate)``
times the expected order (the demand of one order cycle), and the order-up-to level adds
that cycle's expected demand to it: the (s, Q) fill-rate rule (Silver, Pyke & Peterson,
*Inventory Management and Production Planning and Scheduling*, 3rd ed., section 7.7),
with the same normal or negative binomial demand as below.

Demand over ``P`` days (``P`` = lead time, or lead time + order cycle) has mean the sum of
the daily forecasts (their mean repeated beyond the horizon). With ``demand_level="recent"``
the daily mean is instead each product's mean over its last ``recent_days`` days of history
(days before its first sale not counted), flat over the horizon, and the forecast's spread
is scaled by the same ratio: steadier where demand comes in large, rare orders, whose
point forecasts (chosen for small absolute error) run below the mean a stock must cover
(``docs/decisions.md``, session 12). Its spread:

* **smooth** products: normal, with the per-day standard deviation read off the conformal
  interval (``(upper - lower) / (2 z)``) and days treated as independent;
* **slow or intermittent** products (intermittent class, or under one unit a day): negative
  binomial with the same mean and the history's variance-to-mean ratio over ``P``-day sums
  (Poisson when the history is not over-dispersed) -- no normal assumption, integer units.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from storemind.errors import DataError

__all__ = ["reorder_policy", "lead_time_quantile", "expected_shortage", "fill_rate_point",
           "dispersion"]


def dispersion(Y: np.ndarray, window: int, lookback: int = 182) -> np.ndarray:
    """Variance-to-mean ratio of ``window``-period demand sums over the last ``lookback``
    periods of each row of ``Y`` (NaN = not started); at least 1."""
    Z = Y[:, -lookback:]
    n, T = Z.shape
    w = max(1, min(int(window), max(T // 2, 1)))
    valid = ~np.isnan(Z)
    cs = np.hstack([np.zeros((n, 1)), np.cumsum(np.nan_to_num(Z), 1)])
    cn = np.hstack([np.zeros((n, 1)), np.cumsum(valid, 1)])
    S = cs[:, w:] - cs[:, :-w]
    full = (cn[:, w:] - cn[:, :-w]) == w
    cnt = full.sum(1)
    m = np.where(full, S, 0).sum(1) / np.maximum(cnt, 1)
    v = np.where(full, (S - m[:, None]) ** 2, 0).sum(1) / np.maximum(cnt - 1, 1)
    ratio = np.where((cnt >= 2) & (m > 0), v / np.maximum(m, 1e-12), 1.0)
    return np.maximum(ratio, 1.0)


def _recent_mean(hist: np.ndarray, days: int) -> np.ndarray:
    """Mean demand per row over its last ``days`` columns, NaN (not started) days left out;
    NaN where a row has none; negative days (returns) count as zero."""
    Z = hist[:, -days:]
    n = (~np.isnan(Z)).sum(1)
    total = np.nansum(np.clip(Z, 0, None), 1)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _by_window(hist: np.ndarray, days: np.ndarray) -> np.ndarray:
    w = np.maximum(np.round(days).astype(int), 1)
    out = np.ones(len(w))
    for v in np.unique(w):
        rows = w == v
        out[rows] = dispersion(hist[rows], int(v))
    return out


def lead_time_quantile(mean: np.ndarray, sd: np.ndarray, vmr: np.ndarray,
                       discrete: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of demand over a period: normal (``mean``, ``sd``) where not
    ``discrete``, else negative binomial with variance ``vmr * mean`` (Poisson at vmr 1)."""
    mean = np.maximum(np.asarray(mean, float), 0.0)
    out = np.maximum(mean + stats.norm.ppf(q) * np.asarray(sd, float), 0.0)
    d = np.asarray(discrete, bool) & (mean > 0)
    if d.any():
        mu = mean[d]
        over, size, p = _nb_params(mu, np.asarray(vmr, float)[d])
        out[d] = np.where(over, stats.nbinom.ppf(q, size, p), stats.poisson.ppf(q, mu))
    out[np.asarray(discrete, bool) & (mean <= 0)] = 0.0
    return out


def _nb_params(mean: np.ndarray, vmr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(over-dispersed?, size, p) of the negative binomial with this mean and variance
    ``vmr * mean``."""
    over = vmr > 1.0 + 1e-9
    p = 1.0 / np.where(over, vmr, 2.0)
    return over, np.maximum(mean * p / (1 - p), 1e-9), p


def _tail(mean: np.ndarray, vmr: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``P(D > k)`` per series (rows) and whole stock ``k`` (columns), for whole-unit demand
    with this mean and variance ``vmr * mean`` (negative binomial, Poisson at vmr 1)."""
    over, size, p = _nb_params(mean, vmr)
    return np.where(over[:, None], stats.nbinom.sf(k, size[:, None], p[:, None]),
                    stats.poisson.sf(k, mean[:, None]))


def expected_shortage(x: np.ndarray, mean: np.ndarray, sd: np.ndarray, vmr: np.ndarray,
                      discrete: np.ndarray) -> np.ndarray:
    """``E[(D - x)+]``, the expected units demand ``D`` exceeds stock ``x`` by: normal
    (``mean``, ``sd``) where not ``discrete``, else negative binomial with variance
    ``vmr * mean`` (Poisson at vmr 1), ``x`` rounded down to whole units there."""
    x, mean = np.asarray(x, float), np.maximum(np.asarray(mean, float), 0.0)
    sd, vmr = np.asarray(sd, float), np.asarray(vmr, float)
    disc = np.asarray(discrete, bool)
    out = np.maximum(mean - x, 0.0)  # no spread: the shortfall itself
    sm = ~disc & (sd > 0)
    if sm.any():
        z = (x[sm] - mean[sm]) / sd[sm]
        out[sm] = sd[sm] * (stats.norm.pdf(z) - z * stats.norm.sf(z))
    d = disc & (mean > 0)
    if d.any():
        # E[(D - x)+] = E[D] - sum_{k < x} P(D > k), over whole units
        xi = np.maximum(np.floor(x[d]).astype(int), 0)
        k = np.arange(int(xi.max()) + 1)[None, :]
        sf = _tail(mean[d], vmr[d], k)
        below = np.where(k < xi[:, None], sf, 0.0).sum(1)
        out[d] = np.maximum(mean[d] - below, 0.0)
    return out


def fill_rate_point(mean: np.ndarray, sd: np.ndarray, vmr: np.ndarray, discrete: np.ndarray,
                    allowed: np.ndarray) -> np.ndarray:
    """The smallest whole stock ``x >= 0`` whose :func:`expected_shortage` is at most
    ``allowed`` units, every series at once: for whole-unit demand read off the cumulative
    sums of ``P(D > k)`` (one pass), for normal demand by bisection."""
    mean = np.maximum(np.asarray(mean, float), 0.0)
    sd, vmr = np.asarray(sd, float), np.asarray(vmr, float)
    disc = np.asarray(discrete, bool)
    allowed = np.maximum(np.asarray(allowed, float), 1e-9)
    hi = np.ceil(mean + 10 * np.maximum(sd, np.sqrt(np.maximum(vmr, 1.0) * mean)) + 1)
    out = np.zeros(len(mean))
    d = disc & (mean > 0)  # (no demand: nothing to stock)
    if d.any():
        # E[(D - x)+] = E[D] - C[x] with C[x] = sum_{k < x} P(D > k), rising in x
        k = np.arange(int(hi[d].max()) + 1)[None, :]
        sf = _tail(mean[d], vmr[d], k)
        C = np.hstack([np.zeros((len(sf), 1)), np.cumsum(sf, 1)])
        enough = C >= (mean[d] - allowed[d])[:, None]
        out[d] = np.where(enough.any(1), enough.argmax(1), C.shape[1] - 1)
    c = ~disc
    if c.any():
        m, s_, a = mean[c], sd[c], allowed[c]
        no = np.zeros(len(m), bool)
        lo, up = np.zeros(len(m)), hi[c]  # shortage(up) <= a; shortage(lo) may exceed it
        ok_at_zero = expected_shortage(lo, m, s_, vmr[c], no) <= a
        while (todo := up - lo > 1).any():
            mid = np.floor((lo + up) / 2)
            ok = expected_shortage(mid, m, s_, vmr[c], no) <= a
            up = np.where(todo & ok, mid, up)
            lo = np.where(todo & ~ok, mid, lo)
        out[c] = np.where(ok_at_zero, 0.0, up)
    return out


def reorder_policy(forecast: pd.DataFrame, history: np.ndarray | None = None, *,
                   lead_time: float | pd.Series = 7.0, review_period: float = 7.0,
                   order_cycle: float | None = None,
                   service_level: float = 0.95, fill_rate: float | None = None,
                   level: float = 0.9, demand_level: str = "forecast",
                   recent_days: int = 90,
                   series_ids: np.ndarray | None = None) -> pd.DataFrame:
    """Policy per series from a :class:`DemandForecaster` forecast frame.

    Parameters
    ----------
    forecast : DataFrame
        ``series_id, step, yhat, lower, upper, demand_class`` (daily periods).
    history : ndarray, optional
        Daily demand history (n_series, T) in the order of ``series_ids``, for the
        over-dispersion of slow items (Poisson without it).
    lead_time : float or Series
        Days from order to arrival; a Series indexed by series id gives one per product
        (missing ones get its median, or 7).
    review_period : float
        Days between reviews (1 = daily review).
    order_cycle : float, optional
        Days of demand an order should cover beyond the lead time; at least (and by default)
        the review period.
    service_level : float
        Target probability of no stock-out within a cycle, e.g. 0.95.
    fill_rate : float, optional
        Instead of ``service_level``: the target share of demand served from stock, e.g.
        0.98 (see the module's docstring).
    level : float
        Coverage of the forecast's interval (to read its standard deviation).
    demand_level : {"forecast", "recent"}
        Where the daily mean demand comes from: the forecast, or the mean of the last
        ``recent_days`` days of ``history`` (needs ``history``; see the module's docstring).
    recent_days : int
        Days of history behind ``demand_level="recent"``.
    series_ids : ndarray, optional
        Row order of ``history``.

    Returns
    -------
    DataFrame
        One row per series: ``series_id, lead_time_days, review_period_days,
        order_cycle_days, daily_mean,
        demand_lead_time, demand_protection, method, reorder_point, order_up_to``.
    """
    if not 0 < service_level < 1:
        raise DataError(f"service_level must be in (0, 1); got {service_level}")
    if fill_rate is not None and not 0 < fill_rate < 1:
        raise DataError(f"fill_rate must be in (0, 1); got {fill_rate}")
    if review_period < 1:
        raise DataError(f"review_period must be at least 1 day; got {review_period}")
    if order_cycle is not None and not order_cycle >= 1:
        raise DataError(f"order_cycle must be at least 1 day; got {order_cycle}")
    if demand_level not in ("forecast", "recent"):
        raise DataError(f"demand_level must be 'forecast' or 'recent'; got {demand_level!r}")
    if demand_level == "recent" and history is None:
        raise DataError("demand_level='recent' needs the demand history")
    if int(recent_days) < 1:
        raise DataError(f"recent_days must be at least 1; got {recent_days}")
    cycle = max(float(review_period), float(order_cycle or 0))
    need = {"series_id", "step", "yhat", "lower", "upper", "demand_class"}
    if missing := need - set(forecast.columns):
        raise DataError(f"forecast frame lacks columns {sorted(missing)}")
    f = forecast.sort_values(["series_id", "step"])
    ids = f["series_id"].drop_duplicates().to_numpy()
    H = int(f["step"].max())
    n = len(ids)
    yhat = f["yhat"].to_numpy(float).reshape(n, H)
    z = stats.norm.ppf(0.5 + level / 2)
    sd = np.clip((f["upper"].to_numpy(float) - f["lower"].to_numpy(float)) / (2 * z), 0, None)
    sd = sd.reshape(n, H)
    cls = f["demand_class"].to_numpy().reshape(n, H)[:, 0]
    if isinstance(lead_time, pd.Series):
        lt = lead_time.reindex(ids).astype(float)
        lt = lt.fillna(lt.median() if lt.notna().any() else 7.0).to_numpy()
    else:
        lt = np.full(n, float(lead_time))
    lt = np.maximum(lt, 0.0)
    hist = None
    if history is not None:
        order = pd.Index(series_ids if series_ids is not None else ids).get_indexer(ids)
        hist = np.where(order[:, None] >= 0, history[np.clip(order, 0, None)], np.nan)
    if demand_level == "recent":
        recent = _recent_mean(hist, int(recent_days))
        known = np.isfinite(recent)  # a product without history keeps its forecast
        fmean = yhat.mean(1)
        ratio = np.where(fmean > 0, recent / np.maximum(fmean, 1e-12), 1.0)
        sd = np.where(known[:, None], sd * ratio[:, None], sd)
        yhat = np.where(known[:, None], np.nan_to_num(recent)[:, None], yhat)
    daily = yhat.mean(1)

    def over(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        full = np.minimum(np.floor(days).astype(int), H)
        steps = np.arange(H)[None, :]
        inside = steps < full[:, None]
        mean = (yhat * inside).sum(1) + np.maximum(days - full, 0) * daily
        var = (sd ** 2 * inside).sum(1) + np.maximum(days - full, 0) * (sd ** 2).mean(1)
        return mean, np.sqrt(var)

    m_l, s_l = over(lt)
    m_p, s_p = over(lt + cycle)
    discrete = (cls == "intermittent") | (daily < 1.0)
    if hist is not None:
        vmr_l, vmr_p = _by_window(hist, lt), _by_window(hist, lt + cycle)
    else:
        vmr_l = vmr_p = np.ones(n)
    if fill_rate is None:
        rop = lead_time_quantile(m_l, s_l, vmr_l, discrete, service_level)
        s_up = lead_time_quantile(m_p, s_p, vmr_p, discrete, service_level)
    else:  # the (s, Q) fill-rate rule: short at most (1 - fill rate) of one order's demand
        order = np.maximum(m_p - m_l, 0.0)
        rop = fill_rate_point(m_l, s_l, vmr_l, discrete, (1 - fill_rate) * order)
        s_up = rop + np.ceil(order)
    s_up = np.maximum(s_up, rop)
    method = np.where(discrete, np.where(vmr_p > 1 + 1e-9, "negative binomial", "poisson"),
                      "normal")
    return pd.DataFrame({
        "series_id": ids, "lead_time_days": lt, "review_period_days": float(review_period),
        "order_cycle_days": cycle,
        "daily_mean": daily, "demand_lead_time": m_l, "demand_protection": m_p,
        "method": method, "reorder_point": np.ceil(rop), "order_up_to": np.ceil(s_up),
    })
