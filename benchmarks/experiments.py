"""Experiments capability: A/A false-positive rates, CUPED variance reduction, Hillstrom end to
end, and off-policy evaluation on Open Bandit. Writes benchmarks/results/experiments.md.

    .venv/bin/python benchmarks/experiments.py          # about 1-2 min
"""
from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats as st

from storemind.datasets import load_dataset
from storemind.experiments import (
    analyze,
    confidence_sequence,
    cuped_test,
    doubly_robust,
    empirical_policy,
    group_sequential_test,
    ips,
    item_position_ctr_model,
    snips,
    spending_boundaries,
    welch_from_stats,
)
from storemind.store import Store

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STOREMIND_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "benchmarks" / "results" / "experiments.md"


def aa_simulation(runs=2000, days=14, per_day=1000, rate=0.05, seed=0):
    """Daily-peeked A/A tests on a 5 % conversion metric; false-positive rates."""
    rng = np.random.default_rng(seed)
    n = per_day * np.arange(1, days + 1)
    xt = rng.binomial(per_day, rate, (runs, days)).cumsum(1)
    xc = rng.binomial(per_day, rate, (runs, days)).cumsum(1)
    pt, pc = xt / n, xc / n
    w = welch_from_stats(pt, pt * (1 - pt) * n / (n - 1), n, pc, pc * (1 - pc) * n / (n - 1), n)
    out = {"fixed horizon (day 14 only)": np.mean(w["p_value"][:, -1] < 0.05),
           "naive test, peeking daily": np.mean((w["p_value"] < 0.05).any(1))}
    for label, t_star in (("day 1", 2 * per_day), ("day 14", 2 * per_day * days)):
        lo, hi = confidence_sequence(w["diff"], w["se"], 2 * n, 0.05, t_star)
        out[f"confidence sequence (tuned to {label}), peeking daily"] = np.mean(
            ((lo > 0) | (hi < 0)).any(1))
    z = w["diff"] / w["se"]
    for sp, name in SPENDING.items():
        b = spending_boundaries(n / n[-1], 0.05, sp)
        out[f"group-sequential, {name} spending, peeking daily"] = np.mean((np.abs(z) >= b).any(1))
    # continuous data too: log-normal revenue per user, same schedule, smaller daily batches
    m = 200
    y = rng.lognormal(0, 1.2, (runs, 2, days, m))
    s1, s2 = y.sum(3).cumsum(2), (y**2).sum(3).cumsum(2)
    nn = m * np.arange(1, days + 1)
    mean = s1 / nn
    var = (s2 - nn * mean**2) / (nn - 1)
    w = welch_from_stats(mean[:, 0], var[:, 0], nn, mean[:, 1], var[:, 1], nn)
    out["fixed horizon, log-normal revenue"] = np.mean(w["p_value"][:, -1] < 0.05)
    out["naive peeking, log-normal revenue"] = np.mean((w["p_value"] < 0.05).any(1))
    lo, hi = confidence_sequence(w["diff"], w["se"], 2 * nn, 0.05, 2 * m * days)
    out["confidence sequence, log-normal revenue"] = np.mean(((lo > 0) | (hi < 0)).any(1))
    z = w["diff"] / w["se"]
    for sp, name in SPENDING.items():
        b = spending_boundaries(nn / nn[-1], 0.05, sp)
        out[f"group-sequential, {name} spending, log-normal revenue"] = np.mean(
            (np.abs(z) >= b).any(1))
    out.update(aa_unequal_traffic(runs, days, per_day, rate, seed + 1))
    return {k: float(v) for k, v in out.items()}, runs


SPENDING = {"obrien_fleming": "O'Brien-Fleming", "pocock": "Pocock"}


def aa_unequal_traffic(runs, days, per_day, rate, seed):
    """Daily traffic that varies by run and by day (Poisson, weekend dips): every run gets its
    own boundaries from its own information fractions n_k / n_K."""
    rng = np.random.default_rng(seed)
    weekly = np.resize([1.0, 1.0, 1.0, 1.0, 1.0, 0.4, 0.4], days)
    size = rng.poisson(per_day * weekly * rng.uniform(0.5, 1.5, (runs, 1)))  # per arm per day
    n = size.cumsum(1)
    xt = rng.binomial(size, rate).cumsum(1)
    xc = rng.binomial(size, rate).cumsum(1)
    pt, pc = xt / n, xc / n
    w = welch_from_stats(pt, pt * (1 - pt) * n / (n - 1), n, pc, pc * (1 - pc) * n / (n - 1), n)
    z = w["diff"] / w["se"]
    out = {}
    for sp, name in SPENDING.items():
        hits = [group_sequential_test(z[r], 2 * n[r], spending=sp).significant
                for r in range(runs)]
        out[f"group-sequential, {name} spending, unequal daily traffic"] = np.mean(hits)
    return out


def cuped_simulated(n=20_000, seed=1):
    rng = np.random.default_rng(seed)
    pre = rng.gamma(2.0, 20.0, 2 * n)  # pre-period spend
    t = np.r_[np.ones(n), np.zeros(n)]
    y = 0.6 * pre + rng.gamma(2.0, 10.0, 2 * n) + 1.0 * t
    res = cuped_test(y[:n], pre[:n], y[n:], pre[n:])
    raw = st.ttest_ind(y[:n], y[n:], equal_var=False)
    return res, float(raw.confidence_interval().high - raw.confidence_interval().low)


def open_bandit():
    rows = []
    cols = ["timestamp", "item_id", "position", "click", "propensity_score"]
    for camp in ("all", "men", "women"):
        rnd = pd.read_csv(DATA / f"open_bandit_zozotown/random/{camp}/{camp}.csv.gz",
                          usecols=cols)
        bts = pd.read_csv(DATA / f"open_bandit_zozotown/bts/{camp}/{camp}.csv.gz", usecols=cols)
        truth = bts.click.mean()
        truth_se = np.sqrt(truth * (1 - truth) / len(bts))
        q = item_position_ctr_model(rnd.item_id, rnd.position, rnd.click)
        items = np.unique(np.r_[rnd.item_id, bts.item_id])
        variants = {}
        prob, _ = empirical_policy(bts.item_id, bts.position)
        variants["week"] = prob(rnd.item_id, rnd.position), prob
        # BTS updates during the week: its item x position distribution per day
        rday = pd.to_datetime(rnd.timestamp).dt.date
        bday = pd.to_datetime(bts.timestamp).dt.date
        pe_day = np.zeros(len(rnd))
        for d in rday.unique():
            pd_, _ = empirical_policy(bts.item_id[bday == d], bts.position[bday == d])
            pe_day[(rday == d).to_numpy()] = pd_(rnd.item_id[rday == d], rnd.position[rday == d])
        variants["per day"] = pe_day, None
        for label, (pe, prob_fn) in variants.items():
            ql = q(rnd.item_id, rnd.position)
            fn = prob_fn or prob
            qt_pos = {p: float((fn(items, [p] * len(items)) * q(items, [p] * len(items))).sum())
                      for p in np.unique(rnd.position)}
            qt = rnd.position.map(qt_pos).to_numpy()
            for r in (ips(rnd.click, rnd.propensity_score, pe),
                      snips(rnd.click, rnd.propensity_score, pe),
                      doubly_robust(rnd.click, rnd.propensity_score, pe, ql, qt)):
                rows.append({"campaign": camp, "pi_e estimated from BTS logs": label,
                             "estimator": r.method.upper(), "estimate": r.estimate,
                             "se": r.se, "BTS logged CTR": truth, "BTS CTR se": truth_se,
                             "random CTR": rnd.click.mean(),
                             "rel. error": abs(r.estimate - truth) / truth})
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame) -> str:
    def cell(v) -> str:
        return f"{v:.5f}" if isinstance(v, float) else str(v)
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.shape[1]
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, *body])


def main() -> None:
    t0 = time.perf_counter()
    lines = ["# Experiments benchmark", "",
             f"Generated by `benchmarks/experiments.py` on {platform.platform()}, "
             f"Python {platform.python_version()}.", ""]
    aa, runs = aa_simulation()
    se = np.sqrt(0.05 * 0.95 / runs)
    lines += ["## A/A simulations: false-positive rate at alpha 0.05", "",
              f"{runs:,} A/A experiments, 14 daily looks, 1,000 units per arm per day (5 % "
              "conversion), and 200 per arm per day for log-normal revenue. Binomial standard "
              f"error of a rate of 0.05 over {runs:,} runs: {se:.4f}.", "",
              "| test | false-positive rate |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in aa.items()]
    lines += ["", "The time-uniform confidence sequence guarantees at most 0.05 under "
              "*continuous* monitoring; with 14 discrete looks it crosses less often, so its "
              "rate sits well below 0.05 (conservative), not inside [0.04, 0.06]. The "
              "group-sequential tests (Lan-DeMets alpha spending over the 14 planned looks, "
              "`spending_boundaries`) spend exactly 0.05 over those looks, so their rate lands "
              "on 0.05 within binomial noise. 'Unequal daily traffic': Poisson daily sizes "
              "with weekend dips and a per-run traffic level (0.5x-1.5x), boundaries from each "
              "run's observed information fractions (`group_sequential_test`). On log-normal "
              "revenue (200 per arm per day) the early looks see heavy-tailed means whose "
              "Welch z is lighter-tailed than normal, so Pocock spending, which spends most early, "
              "lands a little low.", ""]
    res, raw_width = cuped_simulated()
    store = Store(":memory:")
    load_dataset("hillstrom", store, data_dir=DATA, progress=False)
    plain = analyze(store, "hillstrom_email", ["visited", "converted", "spend", "spend/visited"])
    cup = analyze(store, "hillstrom_email", ["visited", "converted", "spend"],
                  covariate="users.history")
    lines += ["## CUPED variance reduction", "",
              "| data | metric | covariate | theta | variance reduction |", "|---|---|---|---|---|",
              f"| simulated (20,000 per arm) | spend | pre-period spend | {res.theta:.3f} | "
              f"{res.variance_reduction:.1%} |"]
    for c in cup.comparisons:
        lines.append(f"| Hillstrom, {c.variant} vs control | {c.metric.name} | history "
                     f"(past-year spend) | {c.theta:.2e} | {c.variance_reduction:.2%} |")
    lines += ["", f"Simulated: the 95 % interval narrows from {raw_width:.3f} (Welch) to "
              f"{res.result.ci_high - res.result.ci_low:.3f} (CUPED). On Hillstrom the "
              "past-year spend hardly predicts the two-week outcomes, so CUPED removes under "
              "0.5 % of the variance.", "",
              "## Hillstrom end to end", "",
              "`analyze(store, 'hillstrom_email', ['visited', 'converted', 'spend', "
              "'spend/visited'])`; published (Hillstrom 2008 challenge summary, also the "
              "dataset README): visit 18.3 / 15.1 / 10.6 %, conversion 1.25 / 0.88 / 0.57 %, "
              "spend $1.42 / $1.08 / $0.65 (Mens / Womens / Control).", "", "```",
              plain.to_text(), "```", ""]
    obd = open_bandit()
    lines += ["## Off-policy evaluation on Open Bandit (ZOZOTOWN, small sample)", "",
              "Target: the Bernoulli Thompson sampling (BTS) policy's click rate, estimated "
              "from the uniform-random policy's 10,000 logged impressions per campaign. The "
              "logs hold BTS's propensity only for the item BTS itself showed, so BTS's action "
              "probabilities for the random policy's rounds are *estimated*: BTS is "
              "context-free, and we use its empirical item x position distribution in its own "
              "logs, over the week or per day (BTS updated during the week). Reward model for DR:"
              " per (item, position) click rate shrunk to the position rate (fitted on the "
              "random logs, no cross-fitting). Ground truth: BTS's own logged click rate "
              "(10,000 impressions, its binomial se in the table), itself noisy.", "",
              _markdown(obd), "",
              "Mean relative error by estimator: "
              + ", ".join(f"{k} {v:.1%}" for k, v in
                          obd.groupby("estimator")["rel. error"].mean().items())
              + ". With about 40 clicks per log, every estimate's se is about 25-30 % of the "
              "value, so differences between estimators are within noise.", "",
              f"Total wall time {time.perf_counter() - t0:.1f} s."]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
