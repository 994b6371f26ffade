"""Why the inventory goal against the naive order-2x rule is missed: a study on earlier periods
-> benchmarks/results/operations_inventory_study.md.

The operations benchmark (section 3) chooses our service level on the 28 days before the
held-out 28 and replays the held-out days once. Against the naive rule ordering 2 x lead-time
demand the level chosen that way overshoots. This study asks whether that is bad luck in one
period or a property of the data, on more periods and more products:

* **periods**: the held-out 28 days (k=0) and the 7 periods of 28 days before it (k=1..7),
  each replayed with a plan fitted on the days before it (as in the benchmark);
* **products**: the benchmark's seeded 300 (seed 0), and two samples disjoint from them
  (seed 1: 300; seed 2: 1,500), drawn the same way from products sold in the last 4 months;
* **policies** (daily review, lead time 7, lost sales): ours with its demand level from the
  forecaster (as in the benchmark) or from the product's mean over its last 90 days
  (``reorder_policy(demand_level="recent")``, the naive rule's own level), each ordering
  about 7 or 3 days of demand at a time;
* **choosing the level in advance**: "previous period" (the benchmark's rule: the smallest
  level whose fill rate there reaches the naive rule's) and "goal on 3 periods" (the level
  that met the goal in most of the 3 previous periods, ties to the smaller fill shortfall).

How it came about: the 90-day level with 3-day orders and the level chosen on 3 periods was
the best of several variants tried on seed 0's periods k=1..7 only (session 12); it was then
checked on seeds 1 and 2 over those periods, and this script was written and run once for
every sample and period, k=0 included. The held-out period of seed 0 was seen before (the
benchmark); for seeds 1 and 2 it was not.

Run: .venv/bin/python benchmarks/operations_inventory_study.py   (about 5 minutes)
"""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, machine, markdown_table  # noqa: E402
from operations import (  # noqa: E402
    CYCLE,
    GOAL_SAVING,
    HOLD,
    MULTS,
    RETAIL_GBM,
    RETAIL_MODELS,
    choose_level,
    densify,
    goal,
    replay_period,
    retail_frame,
)

PERIODS = range(0, 8)  # k periods of HOLD days back from the held-out one (k=0)
SAMPLES = ((0, 300), (1, 300), (2, 1500))
POLICIES = {  # name -> (review period, days of demand per order, demand level)
    "forecast, 7-day orders (benchmark)": (1, CYCLE, "forecast"),
    "forecast, 3-day orders": (1, 3, "forecast"),
    "90-day mean, 7-day orders": (1, CYCLE, "recent"),
    "90-day mean, 3-day orders": (1, 3, "recent"),
}
RULES = (("previous period", 1, False), ("goal on 3 periods", 3, True))


def sample(rf: pd.DataFrame, seed: int, n: int) -> pd.DataFrame:
    """The benchmark's draw (seed 0 is exactly its sample); other seeds exclude seed 0's."""
    last = rf.ts.max()
    active = np.sort(rf[rf.ts >= last - pd.Timedelta(days=118)].series_id.unique())
    first = np.random.default_rng(0).choice(active, min(300, len(active)), replace=False)
    pool = active if seed == 0 else np.setdiff1d(active, first)
    pick = first if seed == 0 else np.random.default_rng(seed).choice(
        pool, min(n, len(pool)), replace=False)
    return densify(rf[rf.series_id.isin(pick)])


def study(res: dict, mult: float) -> tuple[list[list], list[list]]:
    """(per-period oracle rows, rule rows) for one sample and one naive multiple."""
    oracle, rules = [], []
    for name in POLICIES:
        cells, savings = [], []
        for k in PERIODS:
            sl, ok = choose_level([res[k]], name, mult, on_goal=False)
            if ok:
                savings.append(goal(res[k], name, sl, mult)[2])
                cells.append(f"{sl}: {100 * savings[-1]:+.0f}%")
            else:
                cells.append("none")
        orders = np.mean([res[k][name, 0.8, "all"]["orders"]
                          / res[k]["naive", mult, "all"]["orders"] for k in PERIODS])
        oracle.append([name, *cells, f"{sum(s >= GOAL_SAVING for s in savings)}/{len(PERIODS)}",
                       f"{orders:.1f}x"])
        for rule, n_prev, on_goal in RULES:
            picks = []
            targets = [k for k in PERIODS if k + n_prev <= max(PERIODS)]
            for k in targets:
                sl, _ = choose_level([res[k + j] for j in range(1, n_prev + 1)], name, mult,
                                     on_goal)
                picks.append(f"{sl}{' met' if goal(res[k], name, sl, mult)[0] else ''}")
            hits = sum(p.endswith("met") for p in picks)
            rules.append([name, rule, f"{hits}/{len(targets)}",
                          "yes" if picks[0].endswith("met") else "no", ", ".join(picks)])
    return oracle, rules


def main() -> None:
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    t0 = time.perf_counter()
    rf = retail_frame()
    last = rf.ts.max()
    test_origin = last - pd.Timedelta(days=HOLD - 1)
    origins = {k: test_origin - pd.Timedelta(days=HOLD * k) for k in PERIODS}
    lines = ["# Operations: choosing the service level in advance (inventory study)", "",
             f"Machine: {machine()}. Command: `.venv/bin/python "
             "benchmarks/operations_inventory_study.py`. See the script's docstring for the "
             "design and how it came about.", "",
             "Periods (28 days each, k=0 is the benchmark's held-out period): " + ", ".join(
                 f"k={k} from {o.date()}" for k, o in origins.items()) + ".", ""]
    for seed, n in SAMPLES:
        rs = sample(rf, seed, n)
        res = {}
        for k, o in origins.items():
            print(f"seed {seed}: period k={k} from {o.date()}", flush=True)
            res[k] = replay_period(rs, o, RETAIL_MODELS, RETAIL_GBM, POLICIES, by_method=False)
        for mult in MULTS:
            oracle, rules = study(res, mult)
            lines += [f"## Seed {seed} ({rs.series_id.nunique():,} products), against naive "
                      f"order {mult:g} x", "",
                      "Per period, the smallest level whose fill rate reaches the naive "
                      "rule's there (chosen knowing the period: the best any advance choice "
                      "could do) and our inventory saving at it; orders: ours at level 0.8 "
                      "over the naive rule's, mean over periods.", "",
                      markdown_table(["policy", *[f"k={k}" for k in PERIODS],
                                      f"saving >= {100 * GOAL_SAVING:.0f}%", "orders"],
                                     oracle, 3), "",
                      "Choosing the level in advance (met = fill rate at least the naive "
                      "rule's and at least 15% less inventory, in the period it was chosen "
                      "for; targets k=0 and every earlier period with enough periods before "
                      "it):", "",
                      markdown_table(["policy", "rule", "periods met", "met at k=0",
                                      "levels chosen, k=0 first"], rules, 3), ""]
            print("\n".join(lines[-8:]), flush=True)
    lines += [f"Whole study: {time.perf_counter() - t0:.0f} s.", ""]
    (RESULTS / "operations_inventory_study.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
