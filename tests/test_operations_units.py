"""Unit tests of operations: grid, seasonal naive, policy, replay, monitoring, forecaster."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.errors import DataError
from storemind.operations import (
    DemandForecaster,
    forecast_alerts,
    order_alerts,
    reorder_policy,
    replay_policy,
)
from storemind.operations._base import seasonal_naive
from storemind.operations._grid import check_demand_frame, to_grid


def test_grid_fills_gaps_with_zero_after_start_and_nan_before():
    f = pd.DataFrame({"series_id": ["a", "a", "b"], "ts": ["2024-01-01", "2024-01-04",
                                                        "2024-01-03"], "y": [1.0, 2.0, 5.0]})
    g = to_grid(check_demand_frame(f), "D")
    assert list(g.ids) == ["a", "b"]
    np.testing.assert_array_equal(g.Y[0], [1, 0, 0, 2])
    assert np.isnan(g.Y[1, :2]).all() and list(g.Y[1, 2:]) == [5, 0]


def test_bad_frames_say_what_is_wrong():
    with pytest.raises(DataError, match="missing"):
        check_demand_frame(pd.DataFrame({"series_id": ["a"], "y": [1]}))
    dup = pd.DataFrame({"series_id": ["a", "a"], "ts": ["2024-01-01"] * 2, "y": [1, 2]})
    with pytest.raises(DataError, match="more than one row"):
        check_demand_frame(dup)


def test_seasonal_naive_repeats_last_season_and_means_short_series():
    Y = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9], [np.nan] * 7 + [2, 4]])
    P = seasonal_naive(Y, 4, 3)
    np.testing.assert_array_equal(P[0], [7, 8, 9, 7])
    np.testing.assert_array_equal(P[1], [3, 3, 3, 3])


def _policy_frame(mean: float, cls: str, n_steps: int = 14) -> pd.DataFrame:
    return pd.DataFrame({"series_id": "a", "step": np.arange(1, n_steps + 1), "yhat": mean,
                         "lower": max(mean - 2, 0), "upper": mean + 2, "demand_class": cls})


def test_policy_normal_matches_closed_form():
    pol = reorder_policy(_policy_frame(10.0, "smooth"), lead_time=5.0, review_period=7,
                         service_level=0.95, level=0.9).iloc[0]
    sd_day = 4 / (2 * 1.6448536)
    assert pol.method == "normal"
    assert pol.reorder_point == np.ceil(50 + 1.6448536 * sd_day * np.sqrt(5))
    assert pol.order_up_to == np.ceil(120 + 1.6448536 * sd_day * np.sqrt(12))


def test_policy_slow_items_use_poisson_quantile():
    from scipy import stats

    pol = reorder_policy(_policy_frame(0.2, "intermittent"), lead_time=10.0,
                         review_period=7, service_level=0.95).iloc[0]
    assert pol.method == "poisson"
    assert pol.reorder_point == stats.poisson.ppf(0.95, 2.0)
    assert pol.order_up_to == stats.poisson.ppf(0.95, 3.4)


def test_expected_shortage_matches_simulation():
    from storemind.operations.policy import expected_shortage

    rng = np.random.default_rng(0)
    cases = [(20.0, 5.0, 1.0, False, 22.0, rng.normal(20, 5, 400_000)),
             (3.0, 0.0, 1.0, True, 4.0, rng.poisson(3.0, 400_000)),
             (3.0, 0.0, 2.5, True, 5.0, rng.negative_binomial(3.0 * 0.4 / 0.6, 0.4, 400_000)),
             (8.0, 0.0, 1.0, False, 5.0, np.full(10, 8.0))]  # no spread: the shortfall
    for mean, sd, vmr, discrete, x, draws in cases:
        got = expected_shortage(np.array([x]), np.array([mean]), np.array([sd]),
                                np.array([vmr]), np.array([discrete]))[0]
        assert got == pytest.approx(np.maximum(draws - x, 0).mean(), rel=0.01, abs=2e-3)


def test_fill_rate_target_holds_for_slow_and_fast_movers():
    """Poisson demand at 0.4, 3 and 20 a day, a perfect forecast, daily review, 7-day lead
    time and order cycle, replayed for 200 days: a fill-rate target gives about the same
    fill at every rate, at or above the target (on the high side: sales are lost, not
    backordered, and an order arrives before its L-th day's demand, so the replay is exposed
    for L - 1 days), more stock for a higher target, and less stock than a cycle service
    level of the same number."""
    from scipy import stats

    rng = np.random.default_rng(1)
    n, H, z = 300, 14, stats.norm.ppf(0.95)
    fills = {}
    for lam in (0.4, 3.0, 20.0):
        D = rng.poisson(lam, (n, 200)).astype(float)
        hist = rng.poisson(lam, (n, 120)).astype(float)
        fc = pd.DataFrame({"series_id": np.repeat(np.arange(n), H),
                           "step": np.tile(np.arange(1, H + 1), n), "yhat": lam,
                           "lower": max(lam - z * np.sqrt(lam), 0.0),
                           "upper": lam + z * np.sqrt(lam), "demand_class": "smooth"})
        for key, kw in (("fill 0.9", {"fill_rate": 0.9}), ("fill 0.98", {"fill_rate": 0.98}),
                        ("csl 0.9", {"service_level": 0.9})):
            pol = reorder_policy(fc, hist, series_ids=np.arange(n), lead_time=7.0,
                                 review_period=1, order_cycle=7, level=0.9, **kw)
            r = replay_policy(D, pol.reorder_point.to_numpy(), lead_time=np.full(n, 7),
                              order_up_to=pol.order_up_to.to_numpy(), review_period=1)
            fills[key, lam] = (r["fill_rate"], r["avg_inventory_units"])
    for target in (0.9, 0.98):
        got = [fills[f"fill {target}", lam][0] for lam in (0.4, 3.0, 20.0)]
        assert min(got) >= target and max(got) - min(got) < 0.015, got
    for lam in (0.4, 3.0, 20.0):
        assert fills["fill 0.98", lam][1] > fills["fill 0.9", lam][1]
        assert fills["fill 0.9", lam][1] < fills["csl 0.9", lam][1]  # less stock than CSL 0.9
    with pytest.raises(DataError, match="fill_rate"):
        reorder_policy(_policy_frame(1.0, "smooth"), fill_rate=1.0)


def test_fill_rate_target_with_over_dispersed_intermittent_demand():
    """Negative binomial daily demand (mean 0.5 and 2, variance 3 and 4 times the mean), the
    dispersion read from 180 days of history: replayed fills land near each target."""
    rng = np.random.default_rng(2)
    n, H = 300, 14
    for lam, vmr in ((0.5, 3.0), (2.0, 4.0)):
        p = 1 / vmr
        size = lam * p / (1 - p)
        D = rng.negative_binomial(size, p, (n, 200)).astype(float)
        hist = rng.negative_binomial(size, p, (n, 180)).astype(float)
        fc = pd.DataFrame({"series_id": np.repeat(np.arange(n), H),
                           "step": np.tile(np.arange(1, H + 1), n), "yhat": lam,
                           "lower": 0.0, "upper": 3 * lam, "demand_class": "intermittent"})
        for target in (0.9, 0.98):
            pol = reorder_policy(fc, hist, series_ids=np.arange(n), lead_time=7.0,
                                 review_period=1, order_cycle=7, fill_rate=target)
            assert (pol.method == "negative binomial").mean() > 0.9  # a few histories look Poisson
            r = replay_policy(D, pol.reorder_point.to_numpy(), lead_time=np.full(n, 7),
                              order_up_to=pol.order_up_to.to_numpy(), review_period=1)
            # measured (this seed): 0.927 / 0.978 at mean 0.5, 0.927 / 0.982 at mean 2
            assert target - 0.01 <= r["fill_rate"] <= target + 0.04, (lam, target, r)


def test_replay_known_answer():
    D = np.array([[2.0, 2, 2, 2, 2, 2]])
    r = replay_policy(D, np.array([2.0]), lead_time=np.array([1]), order_quantity=np.array([4.0]),
                      start_on_hand=np.array([4.0]))
    # day0 sell 2 (2 left, order 4 -> day1); day1 +4 sell 2 (4); day2 sell 2 (2, order -> day3)
    assert r["fill_rate"] == 1.0 and r["orders"] == 3.0
    r = replay_policy(D, np.array([0.0]), lead_time=np.array([2]), order_quantity=np.array([1.0]),
                      start_on_hand=np.array([3.0]))
    assert r["fill_rate"] == pytest.approx(5 / 12)


def test_order_alerts_stuck_and_unusual():
    ts = pd.date_range("2024-01-01", periods=10, freq="D")
    orders = pd.DataFrame({"order_id": [f"o{i}" for i in range(10)], "user_id": "u",
                           "ts": ts, "status": ["delivered"] * 8 + ["pending", "delivered"],
                           "total": [10.0] * 9 + [500.0]})
    lines = pd.DataFrame({"order_id": orders.order_id, "item_id": "i",
                          "quantity": [1.0] * 9 + [40.0]})
    a = order_alerts(orders, lines, now=ts[-1] + pd.Timedelta(hours=30))
    kinds = set(a.kind)
    assert kinds == {"stuck", "unusual_amount", "unusual_quantity"}
    stuck = a[a.kind == "stuck"].iloc[0]
    assert stuck.order_id == "o8" and "pending" in stuck.reason


def test_forecast_alerts_flag_far_outside_interval_only():
    fc = pd.DataFrame({"series_id": ["a", "b"], "ts": pd.Timestamp("2024-01-01"),
                       "yhat": 2.0, "lower": 1.0, "upper": 4.0})
    act = pd.DataFrame({"series_id": ["a", "b"], "ts": pd.Timestamp("2024-01-01"),
                        "y": [20.0, 5.0]})
    a = forecast_alerts(act, fc)
    assert list(a.item_id) == ["a"] and a.kind.iloc[0] == "demand_above_forecast"


def test_forecaster_picks_a_model_and_intervals_cover():
    rng = np.random.default_rng(1)
    days = pd.date_range("2024-01-01", periods=84, freq="D")
    frames = [pd.DataFrame({"series_id": f"s{k}", "ts": days,
                            "y": rng.poisson(5 + 5 * (days.dayofweek == 5)).astype(float)})
              for k in range(30)]
    f = DemandForecaster(horizon=7, models=("seasonal_naive", "croston"), n_windows=2,
                         random_state=0).fit(pd.concat(frames))
    out = f.forecast()
    assert len(out) == 30 * 7 and (out.lower <= out.yhat).all() and (out.yhat <= out.upper).all()
    assert f.choice_["smooth"]  # something was chosen for the smooth class
    sat = out[out.ts.dt.dayofweek == 5].yhat.mean()
    assert sat > out[out.ts.dt.dayofweek != 5].yhat.mean() + 2  # weekly season kept


def test_choice_criterion_weights_big_sellers_or_every_series_alike():
    """One big seller with a strong weekly peak (seasonal naive wins it by hundreds of units)
    and twenty small steady sellers (their mean, Croston, wins each by a little): the
    summed absolute error follows the big seller, the scaled error (as MASE) the many."""
    rng = np.random.default_rng(3)
    days = pd.date_range("2024-01-01", periods=84, freq="D")
    dow = days.dayofweek.to_numpy()
    frames = [pd.DataFrame({"series_id": "big", "ts": days,
                            "y": 1000.0 + 600.0 * (dow == 5) + rng.normal(0, 60, 84)})]
    frames += [pd.DataFrame({"series_id": f"s{k}", "ts": days,
                             "y": rng.poisson(20, 84).astype(float)}) for k in range(20)]
    frame = pd.concat(frames)
    chosen = {}
    for criterion in ("absolute", "scaled"):
        f = DemandForecaster(horizon=7, models=("seasonal_naive", "croston"), n_windows=2,
                             criterion=criterion, random_state=0).fit(frame)
        chosen[criterion] = f.choice_["smooth"]
    assert "seasonal_naive" in chosen["absolute"]
    assert chosen["scaled"] == ["croston"]
    with pytest.raises(DataError, match="criterion"):
        DemandForecaster(criterion="mase").fit(frame)


def _shared_pattern(n_series: int = 12, T: int = 60, season: int = 12, noise: float = 3.0,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    pattern = 20 + 8 * np.sin(2 * np.pi * t / season)
    sizes = rng.uniform(0.5, 2.0, n_series)[:, None]
    clean = sizes * pattern
    return clean, clean + rng.normal(0, noise, (n_series, T))


def test_low_rank_removes_noise_shared_by_a_group_and_keeps_nan():
    from storemind.operations._base import low_rank

    clean, noisy = _shared_pattern()
    noisy[0, :5] = np.nan
    smooth = low_rank(noisy, np.array(["g"] * 12), 1)
    assert np.isnan(smooth[0, :5]).all() and not np.isnan(smooth[0, 5:]).any()
    err_noisy = np.nanmean(np.abs(noisy - clean)[:, 5:])
    err_smooth = np.nanmean(np.abs(smooth - clean)[:, 5:])
    assert err_smooth < 0.6 * err_noisy
    assert low_rank(noisy, None, 0) is noisy
    # a group with no more series than the rank is left as it is
    groups = np.array(["a", "a"] + ["b"] * 10)
    np.testing.assert_array_equal(low_rank(noisy, groups, 3)[:2], noisy[:2])


def test_lowrank_naive_chooses_smoothing_only_when_it_helps():
    from storemind.operations._base import lowrank_naive

    clean, noisy = _shared_pattern()
    groups = np.array(["g"] * 12)
    P, rank = lowrank_naive(noisy, 12, 12, groups)
    naive = seasonal_naive(noisy, 12, 12)
    future = clean[:, :12]  # the pattern repeats each season
    assert rank > 0
    assert np.abs(P - future).mean() < np.abs(naive - future).mean()
    # exactly seasonal series with nothing in common: smoothing can only hurt, so rank 0
    rng = np.random.default_rng(1)
    exact = np.tile(rng.uniform(0, 50, (12, 12)), 5)
    P0, rank0 = lowrank_naive(exact, 12, 12, groups)
    assert rank0 == 0
    np.testing.assert_allclose(P0, seasonal_naive(exact, 12, 12))


def test_forecaster_uses_the_group_low_rank_history():
    from storemind.operations import GBMForecaster

    clean, noisy = _shared_pattern(n_series=16, T=72, noise=4.0)
    days = pd.date_range("2024-01-01", periods=72, freq="D")
    frame = pd.DataFrame({"series_id": np.repeat([f"s{k}" for k in range(16)], 72),
                          "ts": np.tile(days, 16), "y": np.clip(noisy, 0, None).ravel(),
                          "group": "dept"})
    f = DemandForecaster(horizon=12, season_length=12,
                         models=("seasonal_naive", "lowrank_naive"), random_state=0).fit(frame)
    assert f.rank_ > 0 and "lowrank_naive" in f.choice_["smooth"]
    g = GBMForecaster(horizon=12, season_length=12, covariates=(), n_estimators=20,
                      random_state=0).fit(frame)
    assert g.rank_ > 0 and "lag_season_lr" in g.features_
    plain = GBMForecaster(horizon=12, season_length=12, covariates=(), n_estimators=20,
                          lowrank=False, random_state=0).fit(frame)
    assert "lag_season_lr" not in plain.features_


def test_order_cycle_sets_the_order_up_to_level_and_is_checked():
    fc = _policy_frame(10.0, "smooth")
    weekly = reorder_policy(fc, lead_time=5.0, review_period=7, service_level=0.9).iloc[0]
    daily = reorder_policy(fc, lead_time=5.0, review_period=1, order_cycle=7,
                           service_level=0.9).iloc[0]
    plain = reorder_policy(fc, lead_time=5.0, review_period=1, service_level=0.9).iloc[0]
    assert daily.reorder_point == weekly.reorder_point == plain.reorder_point
    assert daily.order_up_to == weekly.order_up_to > plain.order_up_to
    assert daily.order_cycle_days == 7 and plain.order_cycle_days == 1
    with pytest.raises(DataError, match="order_cycle"):
        reorder_policy(fc, review_period=1, order_cycle=0.5)


def test_policy_can_take_its_demand_level_from_recent_history():
    """``demand_level="recent"``: the daily mean is the mean of the last ``recent_days``
    observed days (days before the first sale left out), the spread scales with it, and a
    product without history keeps its forecast."""
    H = 14
    fc = pd.concat([_policy_frame(10.0, "smooth").assign(series_id=s) for s in "abc"])
    hist = np.full((3, 120), np.nan)
    hist[0] = 20.0                     # 20 a day for 120 days
    hist[0, :60] = 0.0                 # ... but only the last 90 count: mean 20 * 60 / 90
    hist[1, -30:] = 5.0                # started 30 days ago: mean 5, not 5 * 30 / 90
    base = reorder_policy(fc, hist, series_ids=np.array(["a", "b", "x"]), lead_time=5.0,
                          review_period=7).set_index("series_id")
    pol = reorder_policy(fc, hist, series_ids=np.array(["a", "b", "x"]), lead_time=5.0,
                         review_period=7, demand_level="recent").set_index("series_id")
    assert pol.daily_mean["a"] == pytest.approx(20 * 60 / 90)
    assert pol.daily_mean["b"] == pytest.approx(5.0)
    assert pol.daily_mean["c"] == 10.0 and pol.loc["c"].equals(base.loc["c"])  # no history
    assert pol.demand_lead_time["a"] == pytest.approx(5 * 20 * 60 / 90)
    sd_day = 4 / (2 * 1.6448536) * (20 * 60 / 90) / 10  # the forecast's spread, rescaled
    assert pol.reorder_point["a"] == np.ceil(5 * 20 * 60 / 90 + 1.6448536 * sd_day * np.sqrt(5))
    assert pol.reorder_point["b"] < base.reorder_point["b"]
    assert len(fc) == 3 * H
    with pytest.raises(DataError, match="demand_level"):
        reorder_policy(fc, hist, demand_level="last week")
    with pytest.raises(DataError, match="needs the demand history"):
        reorder_policy(fc, demand_level="recent")
    with pytest.raises(DataError, match="recent_days"):
        reorder_policy(fc, hist, demand_level="recent", recent_days=0)
