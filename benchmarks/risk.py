"""Risk benchmark -> benchmarks/results/risk.md.

1. ULB credit-card sample: stratified 5-fold CV, ROC-AUC and PR-AUC with legitimate rows
   re-weighted by 231.2 (the full data's base rate); references PyOD ECOD / IForest (from
   .bench-venv-risk, see setup_risk.sh), logistic regression, LightGBM on the raw columns.
2. E-commerce first purchases (51,689 rows, origin unverified): time-ordered 80/20 split.
3. Simulator: recall per planted fraud pattern at a 1% review rate.
4. Latency of POST /v1/payments/score through uvicorn at 200 requests/s.

Run: .venv/bin/python benchmarks/risk.py   (after bash benchmarks/setup_risk.sh)
"""
from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import DATA, RESULTS, ROOT, machine, markdown_table, measure  # noqa: E402
from _load import RawClient, open_loop, server_cpu  # noqa: E402
from storemind.evaluation import pr_auc, roc_auc  # noqa: E402
from storemind.risk import (  # noqa: E402  # noqa: E402
    DEFAULT_RULES_YAML,
    RuleSet,
    choose_threshold,
    fit_scorer,
    payment_records,
    replay,
)
from storemind.risk._features import numeric_attribute_fields  # noqa: E402
from storemind.store import Store  # noqa: E402

PYOD = ROOT / ".bench-venv-risk" / "bin" / "python"
W_LEGIT = 284_315 / 1_230
_PYOD_CODE = """
import sys, numpy as np
from pyod.models.ecod import ECOD
from pyod.models.iforest import IForest
d = np.load(sys.argv[1]); out = {}
for name, m in (("ecod", ECOD()), ("iforest", IForest(random_state=0, n_estimators=200))):
    m.fit(d["train"]); out[name] = m.decision_function(d["test"])
np.savez(sys.argv[2], **out)
"""


def pyod_scores(train: np.ndarray, test: np.ndarray) -> dict[str, np.ndarray]:
    if not PYOD.exists():
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(f"{tmp}/in.npz", train=train, test=test)
        proc = subprocess.run([str(PYOD), "-c", _PYOD_CODE, f"{tmp}/in.npz", f"{tmp}/out.npz"],
                       check=False, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"PyOD failed: {proc.stderr[-2000:]}")
        with np.load(f"{tmp}/out.npz") as z:
            return {k: z[k] for k in z.files}


def references(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray) -> dict[str, np.ndarray]:
    import lightgbm as lgb
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    out["logistic regression (raw)"] = lr.fit(Xtr, ytr).predict_proba(Xte)[:, 1]
    gbm = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=15,
                             verbose=-1, random_state=0, n_jobs=2)
    out["LightGBM (raw)"] = gbm.fit(Xtr, ytr).predict_proba(Xte)[:, 1]
    for k, v in pyod_scores(Xtr, Xte).items():
        out[{"ecod": "PyOD ECOD (raw)", "iforest": "PyOD IForest (raw)"}[k]] = v
    return out


def creditcard(seed: int = 0) -> tuple[list, str]:
    from sklearn.model_selection import StratifiedKFold

    from storemind.datasets import read_creditcard_fraud

    pay = read_creditcard_fraud(DATA)["payments"]
    fields = numeric_attribute_fields(pay.attributes)
    F = replay(pay, attribute_fields=fields)
    y = pay.set_index("payment_id").loc[F.index, "is_fraud"].to_numpy()
    raw = F[[f"attr_V{k}" for k in range(1, 29)] + ["amount"]].to_numpy()
    preds: dict[str, np.ndarray] = {}
    secs: dict[str, float] = {}
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(raw, y):
        m = measure(lambda tr=tr: fit_scorer(F.iloc[tr], y[tr], attribute_fields=fields))
        secs["ours"] = secs.get("ours", 0) + m.seconds
        preds.setdefault("ours: FraudGBM + ECOD on features", np.zeros(len(y)))[te] = \
            m.value.score_frame(F.iloc[te])["score"].to_numpy()
        t0 = time.perf_counter()
        for k, v in references(raw[tr], y[tr], raw[te]).items():
            preds.setdefault(k, np.zeros(len(y)))[te] = v
        secs["refs"] = secs.get("refs", 0) + time.perf_counter() - t0
    w = np.where(y == 1, 1.0, W_LEGIT)
    rows = [[k, roc_auc(y, p), pr_auc(y, p, sample_weight=w), pr_auc(y, p)]
            for k, p in preds.items()]
    note = (f"{len(y)} rows, {int(y.sum())} frauds; out-of-fold scores pooled over 5 folds; "
            f"ours {secs['ours']:.1f} s for 5 fits, references {secs['refs']:.1f} s.")
    return rows, note


def ecommerce() -> tuple[list, str, dict]:
    from storemind.datasets import read_fraud_ecommerce

    frames = read_fraud_ecommerce(DATA)
    get = frames.__getitem__
    store = Store(":memory:")
    store.ingest("users", get("users"))
    store.ingest("payments", get("payments"))
    rec = payment_records(store)
    fields = numeric_attribute_fields(rec.attributes)
    F = replay(rec, attribute_fields=fields)
    y = rec.set_index("payment_id").loc[F.index, "is_fraud"].to_numpy()
    cut = int(len(F) * 0.8)
    m = measure(lambda: fit_scorer(F.iloc[:cut], y[:cut], attribute_fields=fields))
    scorer = m.value
    p = scorer.score_frame(F.iloc[cut:])["score"].to_numpy()
    users = get("users").set_index("user_id")
    r = rec.set_index("payment_id").loc[F.index]
    attrs = users.loc[r.user_id.to_numpy()]
    raw = pd.DataFrame({
        "purchase_value": r.amount.to_numpy(),
        "age": pd.json_normalize(attrs.attributes.map(json.loads)).age.to_numpy(),
        "signup": attrs.signup_ts.astype("int64").to_numpy() / 1e9,
        "purchase": pd.to_datetime(r.ts).astype("int64").to_numpy() / 1e9,
    })
    cats = pd.json_normalize(attrs.attributes.map(json.loads))[["browser", "sex"]]
    cats["source"] = attrs.source.to_numpy()
    raw = pd.concat([raw, pd.get_dummies(cats).astype(float)], axis=1).to_numpy(dtype=float)
    rows = [["ours: FraudGBM + ECOD on features", roc_auc(y[cut:], p), pr_auc(y[cut:], p)]]
    for k, v in references(raw[:cut], y[:cut], raw[cut:]).items():
        rows.append([k, roc_auc(y[cut:], v), pr_auc(y[cut:], v)])
    # reasons of flagged purchases (top 9.35% of the test period = the fraud rate)
    rules = RuleSet.from_yaml(DEFAULT_RULES_YAML, scorer.names)
    thr = choose_threshold(p, review_rate=float(y.mean()))
    flagged = np.flatnonzero(p >= thr)
    feats = F.iloc[cut:].to_dict("records")
    signals = ("device_users", "hours_since_signup", "ip_users", "device_count", "card_users",
               "SHARED_DEVICE", "NEW_ACCOUNT", "device_sum", "ip_count", "ip_sum")
    named = with_reason = 0
    for i in flagged:
        d = scorer.decide(feats[i], rules)
        with_reason += bool(d.reasons)
        named += any(s in r for r in d.reasons for s in signals)
    info = {"flagged": len(flagged), "with_reason": with_reason, "named": named,
            "precision": float(y[cut:][flagged].mean()), "seconds": m.seconds}
    note = (f"{len(F)} purchases, train {cut} (older) / test {len(F) - cut} (newer); "
            f"test frauds {int(y[cut:].sum())}. Ours fitted in {m.seconds:.1f} s.")
    store.close()
    return rows, note, info


def simulator() -> tuple[list, str]:
    from storemind.datasets import simulate
    from storemind.risk.scorer import review_threshold

    store = Store(":memory:")
    gt = simulate(store, n_users=12000, n_items=600, n_days=120, fraud_rate=0.005, seed=11,
                  campaign=False, progress=False)
    rec = payment_records(store)
    F = replay(rec)
    y = rec.set_index("payment_id").loc[F.index, "is_fraud"].to_numpy()
    a, b = int(len(F) * 0.6), int(len(F) * 0.8)
    scorer = fit_scorer(F.iloc[:a], y[:a])
    rules = RuleSet.from_yaml(DEFAULT_RULES_YAML, scorer.names)
    val = scorer.decide_frame(F.iloc[a:b], rules)
    scorer.thresholds = {"review": review_threshold(val["score"], val["rule_action"], 0.01),
                         "block": 2.0}
    d = scorer.decide_frame(F.iloc[b:], rules)
    caught = (d["action"] != "allow").to_numpy()
    p = d["score"].to_numpy()
    top = p >= choose_threshold(p, review_rate=0.01)
    pat = pd.Series([gt.fraud_patterns.get(i, "legitimate") for i in F.index[b:]])
    rows = []
    for name, idx in pat.groupby(pat).groups.items():
        if name == "legitimate":
            continue
        acts = d["action"].to_numpy()[idx]
        rows.append([name, len(idx), caught[idx].mean(), (acts == "review").mean(),
                     (acts == "block").mean(), top[idx].mean()])
    legit = (pat == "legitimate").to_numpy()
    note = (f"{len(F)} payments ({int(y.sum())} fraud, {y.mean():.2%}: the simulator plants at "
            f"least one card-testing burst of 8-25 payments per chunk of customers, so fraud "
            f"exceeds 1% of payments even at fraud_rate=0.005); fit on the oldest 60%; the "
            f"model's review threshold is chosen on the next 20% so that rules plus model "
            f"send 1% of payments to review (payments with fraud probability >= 0.5 are "
            f"reviewed even beyond the budget); evaluated on the newest 20% ({len(p)} payments) "
            f"with the default rules file: reviewed {(d['action'] == 'review').mean():.2%}, "
            f"blocked {(d['action'] == 'block').mean():.2%} of payments; legitimate payments "
            f"caught {caught[legit].mean():.2%}. The last column ranks by the model's score "
            f"alone and flags the test period's top 1% (no rules).")
    return rows, note


def latency(rates: tuple[int, ...] = (50, 200), seconds: float = 10.0
            ) -> tuple[list, str]:
    import httpx

    from storemind.config import Settings
    from storemind.datasets import simulate
    from storemind.registry import Registry
    from storemind.risk.pipeline import train

    home = Path(tempfile.mkdtemp())
    atexit.register(shutil.rmtree, home, True)
    settings = Settings(home=home, api_keys="bench")
    store = Store(settings.db_path)
    simulate(store, n_users=3000, n_items=600, n_days=120, progress=False)
    train(store, Registry(settings.models_path), settings)
    rec = payment_records(store).tail(2000)
    # the CPU cost of one decision, in process, one after another (no HTTP)
    from storemind.risk import LiveRisk

    live = LiveRisk(store, Registry(settings.models_path), home / "inproc")
    live.ensure_model()
    one = []
    for i, r in enumerate(rec.to_dict("records")):
        r = {**r, "payment_id": f"inproc-{i}", "ts": r["ts"] + pd.Timedelta(days=1)}
        t0 = time.perf_counter()
        live.score(r)
        one.append((time.perf_counter() - t0) * 1000)
    live.close()
    store.close()
    env = {**os.environ, "STOREMIND_HOME": str(home), "STOREMIND_API_KEYS": "bench",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    # the server on CPU 0, this load generator on CPU 1 (as benchmarks/serving.py does)
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "uvicorn", "--factory",
         "storemind.api:create_app", "--host", "127.0.0.1", "--port", "8731",
         "--log-level", "warning"], env=env)
    os.sched_setaffinity(0, {1})
    results = [["in process, sequential", len(one), 0, float(np.percentile(one, 50)),
                float(np.percentile(one, 95)), float(np.percentile(one, 99)), float(max(one)),
                float("nan")]]
    try:
        for _ in range(100):
            try:
                if httpx.get("http://127.0.0.1:8731/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)

        def make(i: int) -> tuple[str, str, bytes]:
            r = rec.iloc[i % len(rec)]
            out = {"payment_id": f"bench-{i}", "ts": (r.ts + pd.Timedelta(days=1)).isoformat(),
                   "amount": float(r.amount)}
            for k in ("user_id", "method", "card_id", "device_id", "ip", "country"):
                if r[k] is not None:
                    out[k] = r[k]
            return "POST", "/v1/payments/score", json.dumps(out).encode()

        async def run(rps: int, offset: int) -> dict:
            client = RawClient("127.0.0.1", 8731, key="bench")
            await client.open()
            try:
                for i in range(50):  # warm-up
                    await client.request(client.encode(*make(offset - 1 - i)))
                return await open_loop(client, lambda n: make(offset + n), rps, seconds)
            finally:
                await client.close()

        for k, rps in enumerate(rates):
            cpu = server_cpu(server.pid)
            r = asyncio.run(run(rps, 1_000_000 * (k + 1)))
            cpu_ms = (server_cpu(server.pid) - cpu) * 1e3 / r["sent"]
            results.append([rps, r["sent"], r["errors"], r["p50"], r["p95"], r["p99"],
                            r["max"], cpu_ms])
    finally:
        server.terminate()
        server.wait(10)
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    load = os.getloadavg()[0]
    note = (f"The real uvicorn server (1 worker) pinned to CPU 0 with taskset; an open-loop "
            f"load generator (asyncio, raw HTTP/1.1 keep-alive, 64 connections; latency from "
            f"each request's scheduled start) in this process pinned to CPU 1, {seconds:.0f} s "
            f"per rate; 1-minute load average at the end {load:.1f}; payments from a simulated "
            f"store (3,000 users). Goal: p99 <= 20 ms at 200 requests/s.")
    return results, note


# seeds 0-2 were the protocol until session 10, which chose the forest on them; 3-7 were
# first run after that choice, as its confirmation
REPEATS = 8


def _paired(reps: list[list]) -> str:
    """Ours against the best reference on the mean weighted PR-AUC, seed by seed."""
    names = [r[0] for r in reps[0]]
    mean = {n: np.mean([rep[i][2] for rep in reps]) for i, n in enumerate(names)}
    best = max(names[1:], key=mean.__getitem__)
    j = names.index(best)
    diff = np.array([rep[0][2] - rep[j][2] for rep in reps])
    from scipy.stats import t

    ci = (t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
          if len(diff) > 1 else float("nan"))
    return (f"Paired by fold seed against the best reference ({best}): ours minus it "
            f"{diff.mean():+.4f} on the mean weighted PR-AUC (95% t-interval "
            f"{diff.mean() - ci:+.4f} to {diff.mean() + ci:+.4f}); ours ahead on "
            f"{int((diff > 0).sum())} of {len(diff)} seeds (per seed: "
            + ", ".join(f"{d:+.4f}" for d in diff) + ").")


def main() -> None:
    parts = [f"# Risk benchmark\n\nMachine: {machine()}. PyOD from `.bench-venv-risk` "
             f"({'present' if PYOD.exists() else 'ABSENT: run benchmarks/setup_risk.sh'}).\n"]
    rows, note = creditcard()
    parts.append("## 1. ULB credit-card sample, stratified 5-fold CV\n\n" + note + "\n\n"
                 + markdown_table(["model", "ROC-AUC", "PR-AUC (legit x231.2)",
                                   "PR-AUC (sample)"], rows))
    print(parts[-1], flush=True)
    # one 5-fold split is noisy at the top of the ranking: repeat it with other fold seeds
    reps = [rows] + [creditcard(seed)[0] for seed in range(1, REPEATS)]
    summary = []
    for i, r in enumerate(rows):
        roc = [rep[i][1] for rep in reps]
        pr = [rep[i][2] for rep in reps]
        summary.append([r[0], float(np.mean(roc)), float(np.mean(pr)), float(np.std(pr)),
                        ", ".join(f"{v:.4f}" for v in pr)])
    parts.append(f"The same, repeated with {REPEATS} fold seeds (0 is the table above): mean "
                 "over the repeats, and the standard deviation of the weighted PR-AUC.\n\n"
                 + markdown_table(["model", "ROC-AUC", "PR-AUC (legit x231.2)", "sd",
                                   "per seed"], summary)
                 + "\n\n" + _paired(reps))
    print(parts[-1], flush=True)
    rows, note, info = ecommerce()
    parts.append("## 2. E-commerce first purchases (origin UNVERIFIED), time split\n\n" + note
                 + "\n\n" + markdown_table(["model", "ROC-AUC", "PR-AUC"], rows)
                 + f"\n\nFlagged (top {info['flagged']} test purchases = the fraud rate): "
                 f"precision {info['precision']:.3f}; {info['with_reason']} of them have "
                 f"reasons, {info['named']} name a device/IP-sharing, velocity or "
                 f"time-since-sign-up signal.")
    print(parts[-1], flush=True)
    rows, note = simulator()
    parts.append("## 3. Simulator: recall per planted pattern at a 1% review rate\n\n" + note
                 + "\n\n" + markdown_table(["pattern", "test payments", "recall (reviewed or "
                                            "blocked)", "reviewed", "blocked",
                                            "model only: top 1% of test"], rows))
    print(parts[-1], flush=True)
    res, note = latency()
    parts.append("## 4. Scoring latency through the server\n\n" + note + "\n\n"
                 + markdown_table(["requests/s", "requests", "errors", "p50 ms", "p95 ms",
                                   "p99 ms", "max ms", "server CPU ms / request"], res))
    print(parts[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "risk.md").write_text("\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
