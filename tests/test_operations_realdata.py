"""Minimum quality on real data: Walmart weekly sales (stores 1-2 x departments 1-20, 38
series, the last 13 weeks held out; and every series), and the operations benchmark's Online
Retail sample of daily demand."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from storemind.datasets import read_walmart
from storemind.operations import DemandForecaster, rolling_origin, score_backtest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from operations import retail_sample  # noqa: E402


def _frame(data_dir) -> pd.DataFrame:
    s = read_walmart(data_dir)["sales"]
    s = s[s.location_id.isin(["1", "2"]) & s.item_id.isin([str(d) for d in range(1, 21)])]
    return pd.DataFrame({"series_id": s.location_id + "/" + s.item_id, "ts": s.ts,
                         "y": s.revenue, "promo": s.promo.fillna(0.0),
                         "is_holiday": s.is_holiday.astype(float), "group": s.item_id})


def _run(models, **gbm_params):
    def fit(train, future):
        return DemandForecaster(freq="W", season_length=52, horizon=13, models=models,
                                covariates=("promo", "is_holiday"),
                                gbm_params={"objective": "l1", "n_estimators": 100,
                                            "origin_step": 2, **gbm_params},
                                random_state=0).fit(train, future).forecast()
    return fit


def test_walmart_ours_beats_seasonal_naive(data_dir):
    f = _frame(data_dir)
    assert f.series_id.nunique() == 38
    naive = score_backtest(rolling_origin(f, _run(("seasonal_naive",)), 1, 13,
                                          ("is_holiday",)), f, 52, 5.0)
    ours = score_backtest(rolling_origin(f, _run(("seasonal_naive", "gbm")), 1, 13,
                                         ("is_holiday",)), f, 52, 5.0)
    # measured 2026-11-28 with the code of this test (python /tmp/ops_rd.py, same settings):
    # seasonal naive WMAE 2465.6, MASE 1.032; ours WMAE 1969.2, MASE 0.871
    assert abs(naive["wmae"] - 2465.6) < 1.0
    assert ours["wmae"] < 2070  # 1969 + 5%
    assert ours["mase"] < 0.92
    assert ours["wmae"] < 0.85 * naive["wmae"]


def test_walmart_low_rank_history_on_every_series(data_dir):
    """All 3,331 store x department series, the last 13 weeks held out: seasonal naive on the
    department's low-rank history beats plain seasonal naive, and the whole forecaster with
    it stays at its measured error."""
    s = read_walmart(data_dir)["sales"]
    f = pd.DataFrame({"series_id": s.location_id + "/" + s.item_id, "ts": s.ts,
                      "y": s.revenue, "promo": s.promo.fillna(0.0),
                      "is_holiday": s.is_holiday.astype(float), "group": s.item_id})

    def score(models):
        fit = _run(models, max_rows=100_000)
        return score_backtest(rolling_origin(f, fit, 1, 13, ("is_holiday",)), f, 52, 5.0)

    naive, low = score(("seasonal_naive",)), score(("lowrank_naive",))
    ours = score(("seasonal_naive", "lowrank_naive", "gbm"))
    # measured 2026-11-29 by this test's score() (printing instead of asserting):
    # seasonal naive WMAE 1703.0; low-rank seasonal naive 1613.8; ours 1300.1 (seasonal naive +
    # LightGBM without the low-rank features: 1313.4)
    assert abs(naive["wmae"] - 1703.0) < 1.0
    assert abs(low["wmae"] - 1613.8) < 2.0
    assert ours["wmae"] < 1365  # 1300 + 5%


def test_online_retail_choice_by_absolute_or_scaled_error(data_dir):
    """The two model-choice criteria on intermittent daily demand, 2 origins x 14 days: the
    default (summed absolute error) wins WAPE, the scaled one (as MASE) wins MASE."""
    rs, _ = retail_sample(300, data_dir)  # the operations benchmark's sample
    assert rs.series_id.nunique() == 300

    def score(criterion: str) -> dict:
        def fit(train, future):
            return DemandForecaster(
                freq="D", season_length=7, horizon=14, covariates=("price",),
                models=("seasonal_naive", "croston", "adida", "gbm"), criterion=criterion,
                gbm_params={"objective": "tweedie", "n_estimators": 100, "max_rows": 50_000},
                n_jobs=2, random_state=0).fit(train, future).forecast()
        return score_backtest(rolling_origin(rs, fit, 2, 14), rs, 7)

    absolute, scaled = score("absolute"), score("scaled")
    # measured 2026-11-29 by `python benchmarks/operations.py --parts retail` (same sample and
    # settings; benchmarks/results/operations.md): absolute MASE 2.283, WAPE 0.930; scaled
    # MASE 1.916, WAPE 1.015; the best statsforecast model, ADIDA, MASE 1.897
    assert absolute["wape"] < 0.96 and scaled["mase"] < 1.97  # measured + 3%
    assert scaled["mase"] < 0.9 * absolute["mase"]
    assert absolute["wape"] < scaled["wape"]


def test_online_retail_inventory_recent_level_beats_naive_order_2x(data_dir):
    """The inventory benchmark's held-out replay: the policy with its demand level from the
    last 90 days, daily review and about 3 days per order, at the service level the benchmark
    chose on its 3 validation periods (0.8), against the naive rule ordering 2 x lead-time
    demand: at least its fill rate with at least 15% less stock."""
    from operations import HOLD, RETAIL_GBM, RETAIL_MODELS, replay_period

    rs, last = retail_sample(300, data_dir)
    res = replay_period(rs, last - pd.Timedelta(days=HOLD - 1), RETAIL_MODELS, RETAIL_GBM)
    ours, naive = res[("recent", 0.8, "all")], res[("naive", 2.0, "all")]
    # measured 2026-11-29 by `python benchmarks/operations.py --parts retail`
    # (benchmarks/results/operations.md, section 3): ours fill 0.768 with 42.0 units on
    # average, 882 orders; naive fill 0.741 with 52.5 units, 389 orders
    assert abs(naive["fill_rate"] - 0.741) < 0.001
    assert abs(ours["fill_rate"] - 0.768) < 0.01
    assert ours["fill_rate"] >= naive["fill_rate"]
    assert ours["avg_inventory_units"] <= 0.85 * naive["avg_inventory_units"]
    assert ours["orders"] > 2 * naive["orders"]  # the price: more, smaller orders
