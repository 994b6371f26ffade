"""Marketing benchmark -> benchmarks/results/marketing.md.

Sections (run all, or some with ``--sections hillstrom,ctr,planner``; each saves its numbers
to benchmarks/results/marketing_<section>.json and the page is rebuilt from what exists):

- hillstrom: uplift on Hillstrom (Womens E-Mail vs No E-Mail, the two arms of the classic
  question; 42,693 customers), outcomes visit and conversion, 5 folds stratified by arm, the
  same fold file for everyone. Ours vs scikit-uplift (two models, class transformation) and
  causalml (uplift random forest, X-learner) run from .bench-venv-marketing in a subprocess.
  Metrics (storemind.evaluation = scikit-uplift's definitions) per held-out fold, averaged.
  Ours: the five learners with defaults, AutoUplift (the average of its default candidates;
  and its "select" mode, picked by inner cross-validated Qini inside each training fold) and
  each of its default candidates.
  ``--outcomes visit`` (or conversion) reruns one outcome (ours and the references in the
  same run) and keeps the other's saved rows; each table says which run it comes from.
- ctr: Open Bandit (all three campaigns, both policies), last 20% of impressions by time as
  the test set: ClickModel (with and without its out-of-fold CTR features) vs logistic
  regression and item(-position) popularity.
- planner: simulator store; the planner's plan, valued under the planted true uplift, as a
  share of the oracle plan's (the same planner fed the true uplift).

Run: .venv/bin/python benchmarks/marketing.py   (after bash benchmarks/setup_marketing.sh)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, RESULTS, ROOT, machine, markdown_table  # noqa: E402
from storemind.evaluation import auuc, log_loss, qini_coefficient, roc_auc, uplift_at_k  # noqa: E402

REF_PY = ROOT / ".bench-venv-marketing" / "bin" / "python"


def _stamp() -> dict:
    """When the numbers were measured and how busy the machine was (fit times depend on it)."""
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "load": [round(v, 2) for v in
                                                               os.getloadavg()]}


def _save(section: str, payload: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"marketing_{section}.json").write_text(json.dumps(payload, indent=1))


def _load(section: str) -> dict:
    p = RESULTS / f"marketing_{section}.json"
    return json.loads(p.read_text()) if p.exists() else {}


def _fold_metrics(y, t, score, folds) -> dict[str, float]:
    vals = {"qini": [], "auuc": [], "uplift@30%": []}
    for f in np.unique(folds):
        m = folds == f
        vals["qini"].append(qini_coefficient(y[m], t[m], score[m]))
        vals["auuc"].append(auuc(y[m], t[m], score[m]))
        vals["uplift@30%"].append(uplift_at_k(y[m], t[m], score[m], k=0.3))
    return {k: float(np.mean(v)) for k, v in vals.items()} | {
        "qini_sd": float(np.std(vals["qini"])), "qini_folds": [float(v) for v in vals["qini"]]}


def _our_uplift_models() -> dict:
    """Name -> factory: the five learners with LightGBM defaults, AutoUplift, and each of
    AutoUplift's default candidates as a learner of its own (the S-learner row is its
    ``s_lightgbm`` candidate)."""
    from storemind.marketing import (
        AUTO_CANDIDATES,
        DEFAULT_CANDIDATES,
        LEARNERS,
        AutoUplift,
    )

    models = {f"storemind {n}": (lambda c=cls: c(random_state=0)) for n, cls in (
        ("S-learner", LEARNERS["s"]), ("T-learner", LEARNERS["t"]),
        ("X-learner", LEARNERS["x"]), ("DR-learner", LEARNERS["dr"]),
        ("class transformation", LEARNERS["class_transformation"]))}
    models["storemind AutoUplift (average of its 5 candidates)"] = \
        lambda: AutoUplift(random_state=0)
    models["storemind AutoUplift select (inner 3-fold Qini)"] = \
        lambda: AutoUplift(combine="select", random_state=0)
    for name in DEFAULT_CANDIDATES:
        if name == "s_lightgbm":
            continue
        key, params = AUTO_CANDIDATES[name]
        models[f"storemind candidate {name}"] = (
            lambda k=key, p=params: LEARNERS[k](**p, random_state=0))
    return models


def hillstrom(args) -> None:
    from storemind.datasets import read_hillstrom
    from storemind.marketing import uplift_folds
    from storemind.marketing._features import _attributes

    fr = read_hillstrom(DATA)
    e = fr["exposures"]
    X = _attributes(fr["users"]["attributes"]).drop(columns=["history_segment"])
    keep = e["arm"].isin(["Womens E-Mail", "No E-Mail"]).to_numpy()
    X, e = X[keep].reset_index(drop=True), e[keep].reset_index(drop=True)
    arms = e["arm"].to_numpy()
    t = (arms == "Womens E-Mail").astype(int)
    folds = uplift_folds(arms, 5, 0)
    Xnum = pd.get_dummies(X, columns=["zip_code", "channel"], dtype=float).to_numpy(float)
    ours = _our_uplift_models()
    outcomes = [o for o in ("visit", "conversion") if o in args.outcomes.split(",")]
    saved = _load("hillstrom")
    runs = saved.get("runs", {}) if isinstance(saved.get("runs"), dict) else {}
    rows = [r for r in saved.get("rows", []) if r["outcome"] not in outcomes]
    picks = {k: v for k, v in saved.get("picks", {}).items() if k not in outcomes}
    refs_run = not args.no_refs and REF_PY.exists()
    for outcome in outcomes:
        col = {"visit": "visited", "conversion": "converted"}[outcome]
        y = e[col].to_numpy(float)
        stamp = _stamp()
        for name, make in ours.items():
            score, secs = np.zeros(len(y)), []
            for f in range(5):
                test = folds == f
                m = make()
                t0 = time.perf_counter()
                m.fit(X[~test], arms[~test], y[~test])
                secs.append(time.perf_counter() - t0)
                score[test] = m.predict_uplift(X[test])[:, 0]
                if getattr(m, "combine", None) == "select":
                    picks.setdefault(outcome, []).append(
                        {"fold": f, "selected": m.selected_,
                         "cv_qini": {k: round(v, 4) for k, v in m.cv_qini_.items()}})
            rows.append({"outcome": outcome, "model": name, "ours": True,
                         **_fold_metrics(y, t, score, folds), "fit_s": float(np.mean(secs))})
            print({k: v for k, v in rows[-1].items() if k != "qini_folds"}, flush=True)
        if refs_run:
            with tempfile.TemporaryDirectory() as tmp:
                src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
                np.savez(src, X=Xnum, t=t, y=y, folds=folds)
                subprocess.run([str(REF_PY), str(ROOT / "benchmarks" / "_marketing_ref.py"),
                                str(src), str(dst)], check=True)
                with np.load(dst) as out:
                    names = sorted({k.split("|")[0] for k in out.files})
                    for name in names:
                        rows.append({"outcome": outcome, "model": name, "ours": False,
                                     **_fold_metrics(y, t, out[f"{name}|score"], folds),
                                     "fit_s": float(out[f"{name}|seconds"].mean())})
                        print({k: v for k, v in rows[-1].items() if k != "qini_folds"},
                              flush=True)
        runs[outcome] = stamp | {"end_load": _stamp()["load"], "refs": refs_run}
        _save("hillstrom", {"rows": rows, "picks": picks, "runs": runs})


def _smoothed_rate(Xtr, ytr, Xte, keys, k=50.0):
    prior = ytr.mean()
    g = pd.DataFrame({**{c: Xtr[c] for c in keys}, "y": ytr}).groupby(keys)["y"]
    rate = (g.sum() + k * prior) / (g.count() + k)
    p = pd.MultiIndex.from_frame(Xte[keys]).map(rate.to_dict().get) if len(keys) > 1 \
        else Xte[keys[0]].map(rate)
    return pd.Series(p).astype(float).fillna(prior).to_numpy()


def ctr(args) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    from storemind.datasets import read_open_bandit
    from storemind.evaluation import brier, temporal_split
    from storemind.marketing import ClickModel, click_features

    exp = read_open_bandit(DATA)["exposures"].sort_values("ts").reset_index(drop=True)
    train, test = temporal_split(exp, time_col="ts", test_fraction=0.2)
    Xtr, Xte = click_features(train), click_features(test)
    ytr, yte = train["clicked"].to_numpy(float), test["clicked"].to_numpy(float)
    rows = []
    stamp = _stamp()

    def add(name, p, sec):
        rows.append({"model": name, "roc_auc": roc_auc(yte, p), "log_loss": log_loss(yte, p),
                     "brier": brier(yte, p), "mean_p": float(np.mean(p)), "fit_s": sec})
        print(rows[-1], flush=True)

    for label, kw in (
            ("storemind ClickModel (default: out-of-fold item / position / item x position "
             "CTR features, trees from the item x position rate, blended and calibrated)", {}),
            ("storemind ClickModel, CTR features as features only (offset=False)",
             {"offset": False}),
            ("storemind ClickModel without CTR features (the previous features; "
             "calibration as above)", {"target_encoding": None})):
        t0 = time.perf_counter()
        m = ClickModel(random_state=0, **kw).fit(Xtr, ytr)
        add(label, m.predict_proba(Xte), time.perf_counter() - t0)
    cats = [c for c in Xtr.columns if c not in ("affinity", "hour")]
    t0 = time.perf_counter()
    enc = OneHotEncoder(handle_unknown="ignore", min_frequency=20)
    A = enc.fit_transform(Xtr[cats].astype(str))
    lr = LogisticRegression(max_iter=2000, C=1.0).fit(A, ytr)
    add("logistic regression (one-hot of the same columns)",
        lr.predict_proba(enc.transform(Xte[cats].astype(str)))[:, 1], time.perf_counter() - t0)
    for keys, label in ((["item_id"], "item popularity (smoothed CTR per item)"),
                        (["item_id", "position"], "item x position CTR (smoothed)")):
        t0 = time.perf_counter()
        add(label, _smoothed_rate(Xtr, ytr, Xte, keys), time.perf_counter() - t0)
    _save("ctr", {"rows": rows, "train": int(len(ytr)), "test": int(len(yte)),
                  "test_ctr": float(yte.mean()), "test_clicks": int(yte.sum()), "run": stamp})


def planner(args) -> None:
    from storemind.datasets import simulate
    from storemind.marketing import DRLearner, Offer, TLearner, XLearner, plan_campaign, plan_value
    from storemind.marketing._features import uplift_data
    from storemind.store import Store

    store = Store(":memory:")
    gt = simulate(store, n_users=args.sim_users, n_items=600, n_days=120, seed=0,
                  progress=False)
    X, exp, _ = uplift_data(store)
    arms, y = exp["arm"].to_numpy(), exp["converted"].to_numpy(float)
    truth = gt.uplift.set_index("user_id").loc[exp["user_id"]]
    true_u = pd.DataFrame({"discount": truth["uplift_discount"].to_numpy(),
                           "free_shipping": truth["uplift_free_shipping"].to_numpy()},
                          index=exp["user_id"].to_numpy())
    offers = [Offer("discount", cost=2.0, margin=40.0), Offer("free_shipping", cost=1.0,
                                                               margin=45.0)]
    rows = []
    budget = 0.25 * len(y)
    oracle = {meth: plan_value(plan_campaign(true_u, offers, budget, holdout=0.0, method=meth),
                               true_u, offers) for meth in ("greedy", "lp")}
    rng = np.random.default_rng(0)
    # random targeting: random scores large enough that every pair looks profitable, so the
    # same budget goes to random customers with random offers
    rand = pd.DataFrame(1.0 + rng.random(true_u.shape), index=true_u.index,
                        columns=true_u.columns)
    rv = plan_value(plan_campaign(rand, offers, budget, holdout=0.0), true_u, offers)
    rows.append({"model": "random targeting (same budget)", "method": "greedy",
                 "true_profit": rv, "share_of_oracle": rv / oracle["greedy"]})
    # cross-fitted predictions: every customer scored by a model that did not see them
    from storemind.marketing import uplift_folds
    folds = uplift_folds(arms, 2, 0)
    for name, cls in (("T-learner", TLearner), ("X-learner", XLearner),
                      ("DR-learner", DRLearner)):
        pred = np.zeros((len(y), 2))
        for f in (0, 1):
            te = folds == f
            m = cls(min_child_samples=20, random_state=0).fit(X[~te], arms[~te], y[~te])
            pred[te] = m.predict_uplift(X[te])
        U = pd.DataFrame(pred, index=true_u.index, columns=m.treatments_)
        for meth in ("greedy", "lp"):
            v = plan_value(plan_campaign(U, offers, budget, holdout=0.0, method=meth), true_u,
                           offers)
            rows.append({"model": f"storemind {name}", "method": meth, "true_profit": v,
                         "share_of_oracle": v / oracle[meth]})
            print(rows[-1], flush=True)
    _save("planner", {"rows": rows, "oracle": oracle, "customers": int(len(y)), "run": _stamp(),
                      "budget": budget, "offers": [o.__dict__ for o in offers]})


def _run_line(run: dict | None) -> str:
    if not run:
        return "Run: an earlier run (before AutoUplift and the CTR features; not re-run)."
    load = f"{run['load'][0]:.1f}" + (f" -> {run['end_load'][0]:.1f}" if "end_load" in run
                                      else "")
    return f"Run: {run['date']} (1-minute load average {load} on 2 cores)."


def render() -> None:
    parts = ["# Marketing benchmark", "",
             f"Machine: {machine()}. Generated by `benchmarks/marketing.py`.", ""]
    d = _load("hillstrom")
    if d:
        parts += ["## Uplift on Hillstrom (Womens E-Mail vs No E-Mail, 42,693 customers)", "",
                  "5 folds stratified by arm, one fold file for every model; metrics on each "
                  "held-out fold (storemind.evaluation, scikit-uplift's definitions: Qini "
                  "coefficient = `qini_auc_score`, AUUC = `uplift_auc_score`, uplift@30% "
                  "overall), mean over folds; fit time = mean seconds per fold fit (single "
                  "thread for everyone). The five learners use LightGBM defaults (100 trees, 15 "
                  "leaves, min 100 rows per leaf), no tuning. AutoUplift (the default, "
                  "`combine='average'`) fits each of its 5 default candidates on the training "
                  "fold and averages their uplift; its fit time is all 5 fits. AutoUplift "
                  "select chooses, inside each training fold, among the same candidates by "
                  "3-fold inner cross-validated Qini (the held-out fold is never seen) and "
                  "keeps the winner's 3 inner-fold fits as its bags; its fit time includes the "
                  "whole search. The `candidate` "
                  "rows are the other default candidates fitted as plain learners on the same "
                  "folds (`s_lightgbm` is the S-learner row): `_lightgbm_rare` = 4 leaves and "
                  "about 20 positives per leaf at least; `_linear` = L2 logistic regression "
                  "(C = 1) on standardised numbers and one-hot categories, ridge for the "
                  "X-learner's effect models; `_linear_strong` = C = 0.01. Literature context: "
                  "scikit-uplift reports visit uplift@30% of 0.066 on Hillstrom.", ""]
        runs = d.get("runs", {})
        for outcome in ("visit", "conversion"):
            rs = [r for r in d["rows"] if r["outcome"] == outcome]
            if not rs:
                continue
            parts += [f"### {outcome}", "", _run_line(runs.get(outcome)), "", markdown_table(
                ["model", "Qini coef.", "(sd over folds)", "AUUC", "uplift@30%",
                 "fit s / fold"],
                [[r["model"], r["qini"], r["qini_sd"], r["auuc"], r["uplift@30%"],
                  r["fit_s"]] for r in rs]), ""]
            picks = d.get("picks", {}).get(outcome)
            if picks:
                parts += ["AutoUplift select's pick per outer fold (inner-CV Qini of the winner): "
                          + "; ".join(f"fold {p['fold']}: {p['selected']} "
                                      f"({p['cv_qini'][p['selected']]:.4f})" for p in picks)
                          + ".", ""]
            if runs.get(outcome) and not runs[outcome].get("refs"):
                parts += ["References were not run for this outcome in this run.", ""]
    d = _load("ctr")
    if d:
        clicks = f", {d['test_clicks']} clicks" if "test_clicks" in d else ""
        parts += ["## Click-through on Open Bandit (ZOZOTOWN, small)", "",
                  _run_line(d.get("run")), "",
                  f"Train on the first 80% of impressions by time ({d['train']:,}), test on "
                  f"the last 20% ({d['test']:,}, CTR {d['test_ctr']:.4f}{clicks}). The "
                  "popularity baselines use the same smoothing (50 pseudo-impressions at the "
                  "overall rate) as ClickModel's CTR features.", "",
                  markdown_table(["model", "ROC-AUC", "log loss", "Brier", "mean p", "fit s"],
                                 [[r["model"], r["roc_auc"], r["log_loss"], r["brier"],
                                   r["mean_p"], r["fit_s"]] for r in d["rows"]], digits=5), ""]
    d = _load("planner")
    if d:
        parts += ["## Campaign planner on the simulator (planted true uplift)", "",
                  _run_line(d.get("run")), "",
                  f"{d['customers']:,} exposed customers, budget {d['budget']:.0f}, offers "
                  f"{d['offers']}. Each customer's uplift is predicted by a model fitted on the "
                  "other half (2-fold cross-fitting); the plan is valued under the true "
                  "uplift and divided by the oracle plan's value (the same planner fed the "
                  f"true uplift: greedy {d['oracle']['greedy']:.1f}, LP "
                  f"{d['oracle']['lp']:.1f}).", "",
                  markdown_table(["targeting", "solver", "true incremental profit",
                                  "share of oracle"],
                                 [[r["model"], r["method"], r["true_profit"],
                                   r["share_of_oracle"]] for r in d["rows"]]), ""]
    extra = RESULTS / "marketing_notes.md"
    if extra.exists():
        parts += [extra.read_text()]
    (RESULTS / "marketing.md").write_text("\n".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sections", default="hillstrom,ctr,planner")
    ap.add_argument("--no-refs", action="store_true")
    ap.add_argument("--outcomes", default="visit,conversion",
                    help="hillstrom outcomes to (re)run; the others keep their saved rows")
    ap.add_argument("--sim-users", type=int, default=20000)
    args = ap.parse_args()
    for s in args.sections.split(","):
        {"hillstrom": hillstrom, "ctr": ctr, "planner": planner}[s](args)
        render()
    render()


if __name__ == "__main__":
    main()
