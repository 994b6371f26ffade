"""Customers and behaviour benchmark: CLV against lifetimes, churn against two baselines,
clusters against the simulator's planted customer types.

    bash benchmarks/setup_customers.sh        # once: lifetimes 0.11.3 in .bench-venv-customers
    .venv/bin/python benchmarks/customers.py  # writes benchmarks/results/customers.md
    .venv/bin/python benchmarks/customers.py --quick   # skips the 1M-customer and GRU runs

lifetimes runs in a subprocess from its own venv on the very same summary CSV.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REF_PY = ROOT / ".bench-venv-customers" / "bin" / "python"
OUT = ROOT / "benchmarks" / "results" / "customers.md"


def _lifetimes(summary: pd.DataFrame, horizon: float, repeats: int = 3,
               timeout: int = 600) -> dict | None:
    if not REF_PY.exists():
        return None
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "s.csv", Path(d) / "out.json"
        summary[["frequency", "recency", "T"]].to_csv(src, index=False)
        try:
            subprocess.run([str(REF_PY), str(ROOT / "benchmarks" / "_lifetimes_ref.py"),
                            str(src), str(out), str(horizon), str(repeats)],
                           check=True, timeout=timeout, capture_output=True)
        except subprocess.TimeoutExpired:
            return {"timeout": timeout}
        res = json.loads(out.read_text())
        res["pred"] = np.load(str(out) + ".npy")
        return res


def _ours(summary: pd.DataFrame, horizon: float, repeats: int = 3) -> dict:
    from storemind.customers import BGNBD

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        m = BGNBD().fit(summary.frequency, summary.recency, summary["T"])
        times.append(time.perf_counter() - t0)
    pred = m.predict(horizon, summary.frequency, summary.recency, summary["T"])
    return {"params": m.r_alpha_a_b, "fit_seconds": min(times), "pred": pred}


def clv_block(name: str, summary: pd.DataFrame, horizon: float, rows: list[dict]) -> None:
    actual = summary.frequency_holdout.to_numpy()
    ours = _ours(summary, horizon)
    ref = _lifetimes(summary, horizon)
    row = {"dataset": name, "customers": len(summary),
           "mae_ours": float(np.mean(np.abs(ours["pred"] - actual))),
           "fit_ours": ours["fit_seconds"], "params_ours": ours["params"],
           "pred_ours": float(ours["pred"].sum()), "actual": float(actual.sum())}
    if ref and "pred" in ref:
        row.update(mae_ref=float(np.mean(np.abs(ref["pred"] - actual))),
                   fit_ref=ref["fit_seconds"], params_ref=ref["params"],
                   pred_ref=float(ref["pred"].sum()), penalizer_ref=ref["penalizer"])
    rows.append(row)
    print(name, {k: v for k, v in row.items() if not isinstance(v, dict)}, flush=True)


def simulate_btyd(n: int, seed: int = 0, r=0.25, alpha=4.0, a=0.8, b=2.5, days=546
                  ) -> pd.DataFrame:
    """n customers drawn from the BG/NBD process itself, observed on whole days as a
    transaction log gives them (frequency, recency and T in weeks, multiples of 1/7)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.integers(7, days + 1, n) / 7.0
    t = np.zeros(n)
    x = np.zeros(n)
    last = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for _ in range(300):
        if not alive.any():
            break
        t = t + rng.exponential(1 / np.maximum(lam, 1e-12))
        buy = alive & (t < T)
        x[buy] += 1
        last[buy] = t[buy]
        alive = buy & (rng.uniform(size=n) >= p)
    return pd.DataFrame({"frequency": x, "recency": np.floor(last * 7) / 7, "T": T})


def _rfm_x(f: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.log1p(f.recency_days), np.log1p(f.frequency),
                            np.log1p(f.monetary.clip(lower=0))])


def churn_block(quick: bool) -> dict:
    """Churn on Online Retail. Every choice (features, LightGBM settings, calibration method)
    is made on snapshots inside the training period; the test snapshot is scored once per
    seed."""
    from sklearn.linear_model import LogisticRegression

    from storemind.behavior import (
        CHURN_MONOTONE,
        MODEL_FEATURES,
        ChurnModel,
        expected_calibration_error,
        reliability_table,
        select_params,
        snapshots,
    )
    from storemind.behavior.pipeline import _bgnbd_churn, split_plan
    from storemind.datasets import load_dataset
    from storemind.evaluation import brier, log_loss, pr_auc, roc_auc
    from storemind.store import Store

    d = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, d, True)
    store = Store(Path(d) / "retail.duckdb")
    load_dataset("online_retail", store)
    H = 90
    plan = split_plan(store, H)
    test_cut, cuts = plan["test_cut"], plan["train_cuts"]
    t0 = time.perf_counter()
    tr = snapshots(store, cuts, H)
    te = snapshots(store, [test_cut], H)
    feat_s = time.perf_counter() - t0
    y = te.churned.to_numpy()
    F = list(MODEL_FEATURES)
    mono = CHURN_MONOTONE
    out: dict = {"train_rows": len(tr), "test_rows": len(te), "churn_rate": float(y.mean()),
                 "test_cut": str(test_cut.date()), "train_cuts": [str(c.date()) for c in cuts],
                 "step": plan["step"], "feature_s": feat_s, "n_features": len(F),
                 "train_rates": tr.groupby("cutoff").churned.mean()}
    print("churn: snapshots", len(cuts), len(tr), f"{feat_s:.1f}s", flush=True)

    def score(p: np.ndarray) -> dict:
        return {"roc_auc": roc_auc(y, p), "pr_auc": pr_auc(y, p),
                "log_loss": log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)), "brier": brier(y, p),
                "ece": expected_calibration_error(y, p)}

    # 1. LightGBM settings: temporal validation inside the training snapshots
    t0 = time.perf_counter()
    sel = select_params(tr, F, "churned", H, monotone=mono, random_state=0)
    out["select"] = {**sel, "seconds": time.perf_counter() - t0}
    params = sel["params"]
    lr_inner = []
    for v in sel["folds"]:
        itr = tr[tr.cutoff + pd.Timedelta(days=H) <= v]
        iva = tr[tr.cutoff == v]
        lr_v = LogisticRegression().fit(_rfm_x(itr), itr.churned)
        lr_inner.append(roc_auc(iva.churned, lr_v.predict_proba(_rfm_x(iva))[:, 1]))
    out["inner_lr_auc"] = float(np.mean(lr_inner)) if lr_inner else float("nan")
    print("churn: selected", params, "inner LR", out["inner_lr_auc"], flush=True)

    # 2. calibration method: inner folds (the three latest training snapshots, each scored by
    #    models fitted on the snapshots whose label windows end before it)
    inner = []
    for v in cuts[:3]:
        itr = tr[tr.cutoff + pd.Timedelta(days=H) <= v]
        iva = tr[tr.cutoff == v]
        row = {"cutoff": str(v.date()), "rate": float(iva.churned.mean())}
        for cal in ("latest", "auto"):
            m = ChurnModel(**params, calibration=cal, monotone=mono, random_state=0).fit(
                itr[F], itr.churned, cutoff=itr.cutoff)
            pv = m.predict_proba(iva[F])
            row[cal] = (float(pv.mean()), expected_calibration_error(iva.churned, pv),
                        log_loss(iva.churned, np.clip(pv, 1e-6, 1 - 1e-6)))
        inner.append(row)
    out["inner_calibration"] = inner

    # 3. the test snapshot
    res = {}
    aucs = []
    for seed in (0, 1, 2):
        t0 = time.perf_counter()
        m = ChurnModel(**params, calibration="latest", monotone=mono,
                       random_state=seed).fit(tr[F], tr.churned, cutoff=tr.cutoff)
        fit_s = time.perf_counter() - t0
        p = m.predict_proba(te[F])
        aucs.append(roc_auc(y, p))
        if seed == 0:
            p0 = p
            res["LightGBM on profile + behaviour (ours)"] = {**score(p), "fit_s": fit_s}
            out["reliability"] = reliability_table(y, p)
            out["calibration_used"] = m.calibration_used_
            imp = pd.Series(m.importance_, m.features_).sort_values(ascending=False)
            out["importance"] = imp.head(8)
            m_rand = ChurnModel(**params, calibration="auto", monotone=mono,
                                random_state=seed).fit(tr[F], tr.churned)
            out["random_split"] = score(m_rand.predict_proba(te[F]))
        print("churn: seed", seed, f"{aucs[-1]:.4f}", flush=True)
    out["gbm_auc_seeds"] = aucs
    t0 = time.perf_counter()
    lr = LogisticRegression().fit(_rfm_x(tr), tr.churned)
    res["logistic regression on RFM (same training snapshots)"] = {
        **score(lr.predict_proba(_rfm_x(te))[:, 1]), "fit_s": time.perf_counter() - t0}
    old_cuts = [test_cut - pd.Timedelta(days=H + 30 * i) for i in range(3)]
    old = snapshots(store, old_cuts, H)
    t0 = time.perf_counter()
    lr3 = LogisticRegression().fit(_rfm_x(old), old.churned)
    res["logistic regression on RFM (3 snapshots, as in the first run)"] = {
        **score(lr3.predict_proba(_rfm_x(te))[:, 1]), "fit_s": time.perf_counter() - t0}
    p_bg = _bgnbd_churn(store, test_cut, te.index)
    # ranked as they are: clipping them first (as runs before session 13 did) ties them all
    res["BG/NBD 1 - P(alive)"] = {**score(p_bg), "fit_s": np.nan}
    out["bg_max"] = float(np.max(p_bg))
    if not quick:
        out.update(sequence_block(store, tr, te, y, params, mono, sel["folds"], res, p0, score))
    out["results"] = res
    store.close()
    return out


SEQ_ROWS = {"transformer": "transformer over the last 32 steps (ours)",
            "gru": "GRU over the last 32 steps (ours)"}
BLEND_ROW = "LightGBM + transformer, rank blend (ours, benchmark only)"
BLEND_WEIGHTS = (0.0, 0.2, 0.4, 0.6, 1.0)


def _rank(p: np.ndarray) -> np.ndarray:
    return pd.Series(p).rank(pct=True).to_numpy()


def sequence_block(store, tr, te, y, params, mono, folds, res, p_gbm, score) -> dict:
    """The sequence models as the pipeline fits them (``fit_sequence_model``), three seeds
    each; then a rank blend of LightGBM and the transformer whose weight is chosen on the
    validation folds of ``select_params``."""
    from storemind.behavior import MODEL_FEATURES, ChurnModel, snapshot_sequences
    from storemind.behavior.pipeline import SEQ_MAX_LEN, fit_sequence_model
    from storemind.evaluation import roc_auc

    F = list(MODEL_FEATURES)
    out: dict = {"seq_auc_seeds": {}}
    s_te = snapshot_sequences(store, te, SEQ_MAX_LEN)
    p_seq = {}
    for arch, label in SEQ_ROWS.items():
        aucs = []
        for seed in (0, 1, 2):
            t0 = time.perf_counter()
            sm = fit_sequence_model(store, tr, seed, arch)
            fit_s = time.perf_counter() - t0
            ps = sm.predict_proba(s_te)
            aucs.append(roc_auc(y, ps))
            if seed == 0:
                res[label] = {**score(ps), "fit_s": fit_s}
                p_seq[arch] = ps
        out["seq_auc_seeds"][arch] = aucs
        print("churn:", arch, [f"{a:.4f}" for a in aucs], flush=True)
    H = pd.Timedelta(days=90)
    val = {w: [] for w in BLEND_WEIGHTS}
    for v in folds:
        itr, iva = tr[tr.cutoff + H <= v], tr[tr.cutoff == v]
        g = ChurnModel(**params, calibration="latest", monotone=mono, random_state=0).fit(
            itr[F], itr.churned, cutoff=itr.cutoff)
        pg = _rank(g.predict_proba(iva[F]))
        ps = _rank(fit_sequence_model(store, itr, 0).predict_proba(
            snapshot_sequences(store, iva, SEQ_MAX_LEN)))
        for w in BLEND_WEIGHTS:
            val[w].append(roc_auc(iva.churned, (1 - w) * pg + w * ps))
    mean = {w: float(np.mean(a)) for w, a in val.items()}
    best = max(mean, key=mean.get)
    blend = (1 - best) * _rank(p_gbm) + best * _rank(p_seq["transformer"])
    r = score(blend)
    res[BLEND_ROW] = {**r, "log_loss": np.nan, "brier": np.nan, "ece": np.nan,
                      "fit_s": np.nan}
    out["blend"] = {"weight": best, "validation": mean,
                    "folds": [str(pd.Timestamp(v).date()) for v in folds]}
    print("churn: blend", best, mean, f"{r['roc_auc']:.4f}", flush=True)
    return out


def cluster_block() -> dict:
    from sklearn.metrics import adjusted_rand_score

    from storemind.customers import BehaviorClusters
    from storemind.customers._scoring import cluster_features, customers_of
    from storemind.datasets.simulate import simulate
    from storemind.store import Store

    out = {}
    for seed in (0, 1):
        store = Store(":memory:")
        gt = simulate(store, n_users=3000, n_items=600, n_days=120, seed=seed, progress=False)
        prof = customers_of(store)
        feats = cluster_features(store, prof)
        t0 = time.perf_counter()
        m = BehaviorClusters(random_state=seed).fit(feats)
        fit_s = time.perf_counter() - t0
        truth = gt.users.set_index("user_id")["type"].reindex(feats.index)
        ok = (truth.notna() & (truth != "fraudster")).to_numpy()
        lab = m.predict(feats)
        out[seed] = {"customers": int(ok.sum()), "k": m.k_,
                     "ari": adjusted_rand_score(truth[ok], lab[ok]), "fit_s": fit_s,
                     "names": list(m.describe()["name"]),
                     "crosstab": pd.crosstab(truth[ok], lab[ok])}
        store.close()
        print("clusters", seed, out[seed]["k"], out[seed]["ari"], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["churn"], default=None,
                    help="run one block and replace only its section of the results file")
    args = ap.parse_args()
    if args.only == "churn":
        write_churn_only(churn_block(args.quick), args.quick)
        return
    from storemind.customers import rfm_summary
    from storemind.datasets import read_cdnow, read_online_retail

    clv_rows: list[dict] = []
    cd = read_cdnow()["orders"]
    s = rfm_summary(cd, value_col="total", calibration_end="1997-09-30",
                    holdout_end="1998-06-30")
    clv_block("CDNOW (23,570 customers; 39 + 39 weeks)", s, 39.0, clv_rows)
    orr = read_online_retail()["orders"]
    orr = orr[(orr.kind == "sale") & orr.user_id.notna()]
    s = rfm_summary(orr, value_col="total", calibration_end="2011-09-09",
                    holdout_end="2011-12-09")
    clv_block("Online Retail (calibration to 2011-09-09, 13-week holdout)", s, 13.0, clv_rows)
    big = []
    for n in ([100_000] if args.quick else [100_000, 1_000_000]):
        sim = simulate_btyd(n)
        ours = _ours(sim, 1.0, repeats=1)
        ref = _lifetimes(sim, 1.0, repeats=1, timeout=900)
        big.append({"n": n, "fit_ours": ours["fit_seconds"],
                    "fit_ref": (ref or {}).get("fit_seconds"),
                    "ref_timeout": (ref or {}).get("timeout"),
                    "params_ours": ours["params"], "params_ref": (ref or {}).get("params")})
        print("scale", n, big[-1], flush=True)
    churn = churn_block(args.quick)
    clusters = cluster_block()
    write(clv_rows, big, churn, clusters, args.quick)


def _p(d: dict | None) -> str:
    return "" if not d else ", ".join(f"{k}={v:.3f}" for k, v in d.items())


def write(clv_rows, big, churn, clusters, quick) -> None:
    L = ["# Customers and behaviour benchmark", "",
         f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs; "
         f"Python {platform.python_version()}. Reference: lifetimes 0.11.3 (own venv, "
         "`benchmarks/setup_customers.sh`), run in a subprocess on the same summary CSV. "
         f"Command: `.venv/bin/python benchmarks/customers.py{' --quick' if quick else ''}`.",
         "", "## Lifetime value: BG/NBD, predicted vs actual holdout purchases per customer", "",
         "| dataset | customers | MAE ours | MAE lifetimes | fit ours (s) | fit lifetimes (s) "
         "| speed-up | predicted / actual purchases (ours) |",
         "|---|---|---|---|---|---|---|---|"]
    for r in clv_rows:
        sp = r["fit_ref"] / r["fit_ours"] if "fit_ref" in r else float("nan")
        L.append(f"| {r['dataset']} | {r['customers']:,} | {r['mae_ours']:.4f} | "
                 f"{r.get('mae_ref', float('nan')):.4f} | {r['fit_ours']:.3f} | "
                 f"{r.get('fit_ref', float('nan')):.3f} | {sp:.1f}x | "
                 f"{r['pred_ours']:,.0f} / {r['actual']:,.0f} |")
    L += ["", "Parameters (r, alpha, a, b):", ""]
    for r in clv_rows:
        pen = r.get("penalizer_ref", 0.0)
        note = (f" (lifetimes raised ConvergenceError unpenalised; shown with "
                f"penalizer_coef={pen}, the first that converged)" if pen else "")
        L.append(f"- {r['dataset']}: ours {_p(r['params_ours'])}; lifetimes "
                 f"{_p(r.get('params_ref'))}{note}")
    L += ["", "Fit time at scale (customers drawn from the BG/NBD process itself, "
          "r=0.25, alpha=4, a=0.8, b=2.5, ages of 1 to 78 weeks, purchase times rounded to "
          "whole days as in a transaction log; ours fits on the distinct (frequency, recency, "
          "T) rows with their counts, lifetimes on every row):", "",
          "| customers | fit ours (s) | fit lifetimes (s) | speed-up | ours r, alpha, a, b |",
          "|---|---|---|---|---|"]
    for b in big:
        ref = (f"{b['fit_ref']:.2f}" if b["fit_ref"] else
               f"> {b['ref_timeout']} (stopped)" if b["ref_timeout"] else "n/a")
        sp = f"{b['fit_ref'] / b['fit_ours']:.1f}x" if b["fit_ref"] else ""
        L.append(f"| {b['n']:,} | {b['fit_ours']:.2f} | {ref} | {sp} | "
                 f"{_p(b['params_ours'])} |")
    L += [""] + churn_lines(churn) + [
        "## Behavioural clusters on the simulator (3,000 customers, 120 days)", "",
        "| seed | buyers | k (silhouette) | adjusted Rand index vs planted types | fit (s) |",
        "|---|---|---|---|---|"]
    for seed, r in clusters.items():
        L.append(f"| {seed} | {r['customers']:,} | {r['k']} | {r['ari']:.3f} | "
                 f"{r['fit_s']:.1f} |")
    first = next(iter(clusters.values()))
    L += ["", "Cluster names (seed 0): " + "; ".join(first["names"]) + ".", "",
          "Planted type (rows) by cluster (columns), seed 0:", "", "```",
          first["crosstab"].to_string(), "```", ""]
    L += ["## Where we fall short", ""] + shortfalls(clv_rows, big, churn, clusters)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(L) + "\n")
    print(f"wrote {OUT}")


CHURN_HEAD = "## Churn on Online Retail"
CHURN_BULLETS = ("- Churn", "- Calibration", "- BG/NBD's P(alive)", "- The GRU",
                 "- The sequence models")


def _best_baseline(c: dict) -> tuple[str, float]:
    base = {k: v["roc_auc"] for k, v in c["results"].items() if "ours" not in k}
    name = max(base, key=base.get)
    return name, base[name]


def _f(x: float, digits: int) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def churn_lines(c: dict) -> list[str]:
    """The churn section of the results file (ends with a blank line)."""
    rates = c["train_rates"]
    sel = c["select"]
    L = [f"{CHURN_HEAD}: no purchase in the next 90 days", "",
         f"Temporal split: test snapshot at {c['test_cut']} ({c['test_rows']:,} customers "
         f"with an order before it, churn rate {c['churn_rate']:.3f}); {len(c['train_cuts'])} "
         f"training snapshots every {c['step']} days from {c['train_cuts'][-1]} to "
         f"{c['train_cuts'][0]} ({c['train_rows']:,} rows; churn rate "
         f"{rates.min():.3f} to {rates.max():.3f}, {rates.iloc[-1]:.3f} in the latest), whose "
         "label windows end before the test cutoff. Features: "
         f"{c['n_features']} per customer (profile, windowed orders and spend, inter-purchase "
         "gaps and recency / mean gap, product breadth, cancellations, country, BG/NBD "
         "P(alive) and expected purchases fitted per snapshot, item repeat rates and an "
         "out-of-time item-basket score), each numeric one as its percentile within its "
         f"snapshot ({c['feature_s']:.0f} s to build all snapshots). Every choice below was "
         "made on training snapshots only; the test snapshot was only scored, never used to "
         "choose.", "",
         "| model | ROC-AUC | PR-AUC | log loss | Brier | ECE | fit (s) |",
         "|---|---|---|---|---|---|---|"]
    for name, r in c["results"].items():
        L.append(f"| {name} | {r['roc_auc']:.4f} | {r['pr_auc']:.4f} | {_f(r['log_loss'], 4)} | "
                 f"{_f(r['brier'], 4)} | {_f(r['ece'], 3)} | {_f(r['fit_s'], 1)} |")
    ours = c["results"]["LightGBM on profile + behaviour (ours)"]["roc_auc"]
    bname, base = _best_baseline(c)
    goal = base + 0.03
    verdict = ("met" if ours >= goal else
               f"not met: {100 * (goal - ours):.1f} ROC-AUC points short")
    L += ["", f"LightGBM ROC-AUC over seeds 0-2: "
          f"{', '.join(f'{a:.4f}' for a in c['gbm_auc_seeds'])} (mean "
          f"{np.mean(c['gbm_auc_seeds']):.4f})."]
    for arch, aucs in c.get("seq_auc_seeds", {}).items():
        L.append(f"{'GRU' if arch == 'gru' else 'Transformer'} ROC-AUC over seeds 0-2: "
                 f"{', '.join(f'{a:.4f}' for a in aucs)}.")
    if "blend" in c:
        b = c["blend"]
        L.append("The rank blend is not in the product: its weight on the transformer was "
                 f"chosen on the validation snapshots {', '.join(b['folds'])} (mean ROC-AUC by "
                 "weight; 0.0 is LightGBM alone, 1.0 the transformer alone: "
                 + ", ".join(f"{w:.1f}: {a:.4f}" for w, a in b["validation"].items())
                 + f"; chosen {b['weight']:.1f}); rank scores are not probabilities, so "
                 "it has no log loss, Brier or ECE.")
    L += ["", f"**Goal (+3 ROC-AUC points over the best baseline, {bname}, {base:.4f}: "
          f"{goal:.4f}): {verdict}.** Ours (seed 0) is {100 * (ours - base):+.1f} points "
          "against it.", ""]
    L += [f"LightGBM settings (learning rate 0.02, monotone in recency, frequency, spend and "
          f"the BG/NBD columns): chosen by temporal validation on the training snapshots "
          f"{', '.join(str(f.date()) for f in sel['folds'])} (each scored by a model fitted on "
          f"the snapshots whose label windows end before it), {len(sel['scores'])} settings, "
          f"{sel['seconds']:.0f} s. Best five by mean validation ROC-AUC:", "",
          "| num_leaves | min_child_samples | trees | validation ROC-AUC |", "|---|---|---|---|"]
    for r in sel["scores"].head(5).to_dict("records"):
        L.append(f"| {r['num_leaves']} | {r['min_child_samples']} | {r['n_estimators']} | "
                 f"{r['roc_auc']:.4f} |")
    L += ["", "Calibration method, chosen on the three latest training snapshots (each scored "
          "by a model fitted on the snapshots whose label windows end before it): 'latest' = "
          "trees on all but the most recent of those snapshots, Platt scaling fitted on the "
          "most recent one (out of time); 'random split' = trees on 75% of the rows, isotonic "
          "on a stratified 25% (the first run's method).", "",
          "| validation snapshot | churn rate | mean predicted (latest / random split) | "
          "ECE (latest / random split) | log loss (latest / random split) |",
          "|---|---|---|---|---|"]
    for r in c["inner_calibration"]:
        a, b = r["latest"], r["auto"]
        L.append(f"| {r['cutoff']} | {r['rate']:.3f} | {a[0]:.3f} / {b[0]:.3f} | "
                 f"{a[1]:.3f} / {b[1]:.3f} | {a[2]:.4f} / {b[2]:.4f} |")
    rs = c["random_split"]
    o = c["results"]["LightGBM on profile + behaviour (ours)"]
    L += ["", f"On the test snapshot (reported, not used to choose): 'latest' (used: "
          f"{c['calibration_used']}) ECE {o['ece']:.3f}, log loss {o['log_loss']:.4f}; the "
          f"random split would have given ECE {rs['ece']:.3f}, log loss {rs['log_loss']:.4f}, "
          f"ROC-AUC {rs['roc_auc']:.4f}.", "",
          "Reliability of the LightGBM probabilities on the test snapshot (seed 0):", "",
          "| predicted bin | customers | mean predicted | observed |", "|---|---|---|---|"]
    for r in c["reliability"].to_dict("records"):
        L.append(f"| {r['bin']} | {r['customers']} | {r['predicted']:.3f} | "
                 f"{r['observed']:.3f} |")
    L += ["", "Top features by gain: " + ", ".join(
        f"{k} {v:.2f}" for k, v in c["importance"].items()) + ".", ""]
    return L


def churn_shortfalls(churn: dict) -> list[str]:
    out = []
    res = churn["results"]
    ours = res["LightGBM on profile + behaviour (ours)"]["roc_auc"]
    bname, base = _best_baseline(churn)
    if ours - base < 0.03:
        inner, inner_lr = churn["select"]["scores"].roc_auc.iloc[0], churn["inner_lr_auc"]
        out.append(f"- Churn: LightGBM's ROC-AUC {ours:.4f} is {100 * (ours - base):+.1f} "
                   f"points against the best baseline ({bname}, {base:.4f}); the goal was +3 "
                   f"points ({base + 0.03:.4f}), missed by {100 * (base + 0.03 - ours):.1f}. "
                   "On the validation snapshots inside the training period the chosen "
                   f"setting reaches {inner:.4f} against the RFM logistic regression's "
                   f"{inner_lr:.4f} ({100 * (inner - inner_lr):+.1f} points). Logistic "
                   "regression on log recency, frequency and spend is a strong baseline on "
                   "this data, and the test window (Sep-Dec, Christmas) behaves unlike any "
                   "training window (label windows Jan-Sep), which one year of history "
                   "cannot show.")
    rel = churn["reliability"]
    gap = (rel.predicted - rel.observed)[rel.customers >= 20]
    o = res["LightGBM on profile + behaviour (ours)"]
    if o["ece"] > 0.03 or gap.abs().max() > 0.05:
        latest = churn["train_rates"].iloc[-1]
        out.append(f"- Calibration is only fair on the test snapshot: ECE {o['ece']:.3f}, the "
                   f"largest gap in a bin with 20+ customers {gap.abs().max():.2f} (mean "
                   f"predicted minus observed {gap.mean():+.2f}). Calibrating on the latest "
                   f"training snapshot follows the base rate the data last showed "
                   f"({latest:.3f}, rising through the year), but the test window's rate "
                   f"({churn['churn_rate']:.3f}) falls with the Christmas season; nothing "
                   "before the test cutoff announces that turn.")
    bg = res["BG/NBD 1 - P(alive)"]["roc_auc"]
    if bg < 0.55:
        out.append("- BG/NBD's P(alive) carries no usable churn signal here: fitted on Online "
                   "Retail its dropout parameter a goes to 0, so 1 - P(alive) is at most "
                   f"{churn.get('bg_max', float('nan')):.1e} for any customer, and what order "
                   f"is left ranks {'the wrong way' if bg < 0.5 else 'at chance'} (ROC-AUC "
                   f"{bg:.3f}). Runs before session 13 clipped the scores at 1e-6 before "
                   "ranking them, which tied them and showed 0.503. Its expected purchases "
                   "are a better churn score than P(alive) (and one of our features), but "
                   "the issue asked for P(alive).")
    seq = {k: res[v]["roc_auc"] for k, v in SEQ_ROWS.items() if v in res}
    if seq:
        blend = res.get(BLEND_ROW, {}).get("roc_auc", float("nan"))
        best = max(seq.values())
        out.append(f"- The sequence models (transformer {seq.get('transformer', np.nan):.4f}, "
                   f"GRU {seq.get('gru', np.nan):.4f}) are "
                   + ("below" if best < ours else "level with or just above")
                   + f" LightGBM on features ({ours:.4f}) and {100 * (best - base):+.1f} "
                   "points at best against the best baseline: short of the goal too. They see "
                   "the last 32 steps (one step per basket; Online Retail logs no views) and "
                   "are trained on at most 4,000 sequences to fit the CPU budget. The served "
                   "churn score stays LightGBM's, chosen on the validation snapshots where it "
                   "leads. Blended with LightGBM (rank blend, weight chosen on validation) "
                   f"they reach {blend:.4f}.")
    return out


def write_churn_only(churn: dict, quick: bool) -> None:
    """Replace the churn section and the churn bullets of the existing results file."""
    if not OUT.exists():
        raise SystemExit(f"{OUT} does not exist; run the whole benchmark once first")
    text = OUT.read_text()
    start = text.index(CHURN_HEAD)
    end = text.index("\n## ", start) + 1
    text = text[:start] + "\n".join(churn_lines(churn)) + "\n" + text[end:]
    head, sep, tail = text.partition("## Where we fall short\n\n")
    kept = [b for b in tail.splitlines() if b and not b.startswith(CHURN_BULLETS)
            and b != "- Nothing: every goal above is met."]
    bullets = churn_shortfalls(churn) + kept
    text = head + sep + "\n".join(bullets or ["- Nothing: every goal above is met."]) + "\n"
    text = text.replace("Command: `.venv/bin/python benchmarks/customers.py`.",
                        "Command: `.venv/bin/python benchmarks/customers.py` (churn section: "
                        f"`.venv/bin/python benchmarks/customers.py --only churn"
                        f"{' --quick' if quick else ''}`).")
    OUT.write_text(text)
    print(f"wrote the churn section of {OUT}")


def shortfalls(clv_rows, big, churn, clusters) -> list[str]:
    out = []
    for r in clv_rows:
        if "mae_ref" in r and r["mae_ours"] > r["mae_ref"] + 1e-6:
            out.append(f"- CLV MAE on {r['dataset']} is above lifetimes' "
                       f"({r['mae_ours']:.4f} vs {r['mae_ref']:.4f}).")
        if "fit_ref" in r and r["fit_ref"] / r["fit_ours"] < 5:
            out.append(f"- Fit on {r['dataset']} is less than 5x faster than lifetimes "
                       f"({r['fit_ref'] / r['fit_ours']:.1f}x; timings are noisy on this "
                       "shared machine).")
        if "mae_ref" in r and not np.isfinite(r["mae_ref"]):
            out.append(f"- lifetimes could not be compared on {r['dataset']}: unpenalised it "
                       "raises ConvergenceError, and with the penalty that converges its "
                       "predictions are NaN. Ours converges unpenalised, but to a degenerate "
                       "fit (a -> 0: nobody drops out) that under-forecasts the Christmas "
                       "holdout by 25%.")
    for b in big:
        if b["n"] >= 1_000_000 and b["fit_ours"] > 60:
            out.append(f"- 1M customers took {b['fit_ours']:.0f} s (goal: under a minute).")
    out += churn_shortfalls(churn)
    for seed, r in clusters.items():
        if r["ari"] < 0.8:
            out.append(f"- Clusters recover the planted types only partly (ARI {r['ari']:.2f}, "
                       f"seed {seed}, k={r['k']} for 5 planted types): types that share "
                       "categories (bargain hunters and home makers) merge.")
    return out or ["- Nothing: every goal above is met."]


if __name__ == "__main__":
    sys.exit(main())
