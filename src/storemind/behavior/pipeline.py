"""Train, evaluate and read back the behaviour capability (churn, propensity, next category).

Time split: the test snapshot is taken at ``test_cut = last order - horizon`` and labelled
with the ``horizon`` days after it; models are trained on snapshots every ``step`` days (14 for
a 90-day horizon) from ``test_cut - horizon`` back to the start of the data (each with some
history), whose label windows end before ``test_cut``. The horizon is shortened to a third of
the data's span when the data is short. LightGBM settings are chosen by temporal validation
inside the training snapshots (:func:`storemind.behavior.select_params`); the trees are fitted
on the earlier training snapshots and calibrated on the latest one. Baselines on the same split
and training rows: logistic regression on log recency, frequency and spend, and BG/NBD's
1 - P(alive). The served models are then refitted on every labelled snapshot (calibrated on
the test snapshot, the latest) and score every customer at the end of the data.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from storemind.behavior._features import (
    CHURN_MONOTONE,
    MODEL_FEATURES,
    sequences,
    snapshot_sequences,
    snapshots,
)
from storemind.behavior._gbm import expected_calibration_error, reliability_table
from storemind.behavior._select import select_params
from storemind.behavior.churn import ChurnModel
from storemind.behavior.next_category import NextCategory
from storemind.behavior.propensity import PurchasePropensity
from storemind.behavior.sequence import SequenceChurn
from storemind.errors import DataError, NotFoundError, UnknownIdError
from storemind.evaluation import brier, log_loss, pr_auc, roc_auc

__all__ = ["train", "evaluate", "split_plan", "load_scores", "churn_of", "customer_churn",
           "HORIZON_DAYS"]

HORIZON_DAYS = 90
SEQ_MAX_LEN = 32
SEQ_MAX_ROWS = 4000


def split_plan(store: Any, horizon_days: int = HORIZON_DAYS, n_train: int | None = None
               ) -> dict[str, Any]:
    """The cutoffs of the time split: ``horizon``, ``test_cut``, ``train_cuts`` (latest
    first, ``step`` days apart, at most ``n_train``; None = back to the start of the data),
    ``step`` and ``end``."""
    lo, hi = store.time_range("orders")
    if hi is None:
        raise DataError("behaviour models need sale orders in the `orders` table; it is empty")
    end = hi.normalize() + pd.Timedelta(days=1)
    span = (end - lo).days
    h = int(max(7, min(horizon_days, span // 3)))
    step = int(max(7, min(14, h // 3)))
    min_history = int(max(14, min(28, h // 3)))
    test_cut = end - pd.Timedelta(days=h)
    train = []
    c = test_cut - pd.Timedelta(days=h)
    while (c - lo).days >= min_history and (n_train is None or len(train) < n_train):
        train.append(c)
        c -= pd.Timedelta(days=step)
    train = train or [test_cut - pd.Timedelta(days=h)]
    return {"horizon": h, "test_cut": test_cut, "train_cuts": train, "step": step, "end": end}


def _labelled(store: Any, cuts: list[pd.Timestamp], h: int, population: str,
              cache: dict | None = None, *, check: bool = True) -> pd.DataFrame:
    """Labelled snapshots at ``cuts`` (with a ``cutoff`` column). Buyers are the active
    customers with a sale order, so one ``active`` snapshot per cutoff serves both
    populations; ``cache`` keeps them between calls."""
    cache = {} if cache is None else cache
    todo = [c for c in cuts if (c, h) not in cache]
    if todo:
        new = snapshots(store, todo, h, population="active")
        for c, f in new.groupby("cutoff", sort=False):
            cache[(c, h)] = f
    out = pd.concat([cache[(c, h)] for c in cuts])
    if population == "buyers":
        out = out[out.frequency > 0]
    if check and out.churned.nunique() < 2:
        raise DataError("every customer in the training snapshots has churned="
                        f"{int(out.churned.iloc[0])}; need both outcomes (more history or a "
                        "shorter horizon)")
    return out


def _gbm(kind: type, frame: pd.DataFrame, label: str, h: int, seed: int,
         params: dict[str, Any] | None = None) -> Any:
    """A model of ``kind`` fitted on the percentile features, with settings chosen by
    temporal validation (unless ``params``) and calibrated on the latest snapshot."""
    F = list(MODEL_FEATURES)
    sign = 1 if label == "churned" else -1
    mono = {k: sign * v for k, v in CHURN_MONOTONE.items()}
    if params is None:
        params = select_params(frame, F, label, h, monotone=mono, random_state=seed)["params"]
    small = {**params, "min_child_samples": int(min(params["min_child_samples"],
                                                    max(5, len(frame) // 100)))}
    model = kind(**small, calibration="latest", monotone=mono, random_state=seed)
    return model.fit(frame[F], frame[label], cutoff=frame["cutoff"])


def _rfm_x(f: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.log1p(f.recency_days.fillna(f.recency_days.max())),
                            np.log1p(f.frequency), np.log1p(f.monetary.clip(lower=0))])


def _scores(y: np.ndarray, p: np.ndarray, prefix: str) -> dict[str, float]:
    return {f"{prefix}roc_auc": roc_auc(y, p), f"{prefix}pr_auc": pr_auc(y, p),
            f"{prefix}log_loss": log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)),
            f"{prefix}brier": brier(y, p)}


def _bgnbd_churn(store: Any, cut: pd.Timestamp, users: pd.Index) -> np.ndarray:
    from storemind.customers import BGNBD, rfm_summary

    o = store.table("orders")
    orders = store.execute(o.filter(o.user_id.notnull() & (o.kind.isnull() | (o.kind == "sale"))
                                    & (o.ts < cut.to_pydatetime())).select("user_id", "ts"))
    s = rfm_summary(orders, value_col=None, calibration_end=cut - pd.Timedelta(seconds=1))
    bg = BGNBD().fit(s.frequency, s.recency, s["T"])
    alive = pd.Series(bg.probability_alive(s.frequency, s.recency, s["T"]), index=s.index)
    return 1.0 - alive.reindex(users).fillna(1.0).to_numpy()


def fit_sequence_model(store: Any, frame: pd.DataFrame, seed: int = 0,
                       arch: str = "transformer") -> SequenceChurn:
    """The churn sequence model as training fits it: on :data:`SEQ_MAX_ROWS` rows of the
    labelled snapshots ``frame`` drawn with ``seed`` (the CPU budget), their last
    :data:`SEQ_MAX_LEN` steps, 4 epochs."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(frame), size=min(len(frame), SEQ_MAX_ROWS), replace=False))
    sub = frame.iloc[rows]
    return SequenceChurn(arch=arch, epochs=4, random_state=seed).fit(
        snapshot_sequences(store, sub, SEQ_MAX_LEN), sub.churned)


def _next_targets(store: Any, cut: pd.Timestamp, h: int, users: pd.Index,
                  categories: list[str]) -> np.ndarray:
    """Index (1..n) of the category of each user's first purchase after ``cut``; 0 = none."""
    ev = store.table("events")
    items = store.table("items").select("item_id", "category")
    lit = cut.to_pydatetime()
    after = ev.filter((ev.event_type == "purchase") & (ev.ts >= lit)
                      & (ev.ts < (cut + pd.Timedelta(days=h)).to_pydatetime()))
    j = after.join(items, "item_id").select("user_id", "ts", "category")
    # ties in time (two purchases in one second) broken by category, not by the engine's order
    f = store.execute(j).dropna(subset=["category"]).sort_values(["ts", "category"],
                                                                  kind="stable")
    first = f.drop_duplicates("user_id").set_index("user_id")["category"]
    idx = {c: i + 1 for i, c in enumerate(categories)}
    return first.reindex(users).map(idx).fillna(0).astype(int).to_numpy()


def evaluate(store: Any, settings: Any = None, *, horizon_days: int = HORIZON_DAYS,
             sequence: bool = True, random_state: int = 0, with_reliability: bool = False,
             _cache: dict | None = None) -> dict[str, Any]:
    """Churn on the time split: ours (LightGBM, the transformer over events) against the two
    baselines; purchase propensity; next-category accuracy. With ``with_reliability`` also
    ``reliability`` (a frame: predicted vs observed churn per probability bin)."""
    plan = split_plan(store, horizon_days)
    h, test_cut = plan["horizon"], plan["test_cut"]
    F = list(MODEL_FEATURES)
    cache = {} if _cache is None else _cache
    tr = _labelled(store, plan["train_cuts"], h, "buyers", cache)
    te = _labelled(store, [test_cut], h, "buyers", cache, check=False)
    if te.churned.nunique() < 2:
        raise DataError("the test snapshot has a single outcome; cannot score churn")
    y = te.churned.to_numpy()
    t0 = time.perf_counter()
    sel = select_params(tr, F, "churned", h, monotone=CHURN_MONOTONE, random_state=random_state)
    gbm = _gbm(ChurnModel, tr, "churned", h, random_state, sel["params"])
    fit_s = time.perf_counter() - t0
    p = gbm.predict_proba(te[F])
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression().fit(_rfm_x(tr), tr.churned)
    p_lr = lr.predict_proba(_rfm_x(te))[:, 1]
    p_bg = _bgnbd_churn(store, test_cut, te.index)
    m: dict[str, Any] = {"horizon_days": h, "test_cutoff": str(test_cut.date()),
                         "train_rows": int(len(tr)), "test_rows": int(len(te)),
                         "test_churn_rate": float(y.mean()), "churn_fit_seconds": fit_s}
    m.update(_scores(y, p, "churn_"))
    m["churn_ece"] = expected_calibration_error(y, p)
    m["churn_params"] = sel["params"]
    m.update(_scores(y, p_lr, "baseline_rfm_logit_"))
    m["baseline_bgnbd_alive_roc_auc"] = roc_auc(y, p_bg)
    if sequence:
        t0 = time.perf_counter()
        seq = fit_sequence_model(store, tr, random_state)
        m["sequence_fit_seconds"] = time.perf_counter() - t0
        p_seq = seq.predict_proba(snapshot_sequences(store, te, SEQ_MAX_LEN))
        m.update(_scores(y, p_seq, "sequence_"))
    trp = _labelled(store, plan["train_cuts"], h, "active", cache)
    tep = _labelled(store, [test_cut], h, "active", cache, check=False)
    if tep.purchased.nunique() == 2 and trp.purchased.nunique() == 2:
        prop = _gbm(PurchasePropensity, trp, "purchased", h, random_state)
        m.update(_scores(tep.purchased.to_numpy(), prop.predict_proba(tep[F]), "propensity_"))
    nc = _next_category_eval(store, plan, tr, te)
    m.update(nc)
    if with_reliability:
        m["reliability"] = reliability_table(y, p)
    return m


def _next_category_eval(store: Any, plan: dict[str, Any], tr: pd.DataFrame,
                        te: pd.DataFrame) -> dict[str, float]:
    h = plan["horizon"]
    c0 = plan["train_cuts"][0]
    seq_tr = sequences(store, c0, tr[tr.cutoff == c0].index, max_len=SEQ_MAX_LEN)
    cats = seq_tr["categories"]
    if len(cats) < 2:
        return {}
    y_tr = _next_targets(store, c0, h, tr[tr.cutoff == c0].index, cats)
    seq_te = sequences(store, plan["test_cut"], te.index, max_len=SEQ_MAX_LEN)
    if seq_te["categories"] != cats:
        return {}
    y_te = _next_targets(store, plan["test_cut"], h, te.index, cats)
    if (y_tr > 0).sum() < 10 or (y_te > 0).sum() < 10:
        return {}
    model = NextCategory().fit(seq_tr["cat"][y_tr > 0], y_tr[y_tr > 0], len(cats))
    pred = model.predict(seq_te["cat"][y_te > 0])
    popular = int(np.argmax(model.popularity_))
    return {"next_category_accuracy": float(np.mean(pred == y_te[y_te > 0])),
            "next_category_accuracy_popular": float(np.mean(y_te[y_te > 0] == popular))}


def train(store: Any, registry: Any, settings: Any = None, *,
          horizon_days: int = HORIZON_DAYS, sequence: bool = True) -> Any:
    """Evaluate on the time split, refit on every labelled snapshot, score every customer at
    the end of the data, and register ``behavior``; returns the ``ModelVersion``."""
    seed = int(getattr(settings, "seed", 0) or 0)
    cache: dict = {}
    metrics = evaluate(store, settings, horizon_days=horizon_days, sequence=sequence,
                       random_state=seed, with_reliability=True, _cache=cache)
    reliability = metrics.pop("reliability")
    churn_params = metrics.pop("churn_params")
    plan = split_plan(store, horizon_days)
    h, F = plan["horizon"], list(MODEL_FEATURES)
    cuts = [plan["test_cut"], *plan["train_cuts"]]
    data = _labelled(store, cuts, h, "buyers", cache)
    churn = _gbm(ChurnModel, data, "churned", h, seed, churn_params)
    active = _labelled(store, cuts, h, "active", cache)
    prop = _gbm(PurchasePropensity, active, "purchased", h, seed)
    now = snapshots(store, [plan["end"]], h, population="active", label=False)
    scores = pd.DataFrame(index=now.index)
    buyers = now.frequency > 0
    scores["churn_risk"] = np.nan
    # object column of None first: enlarging with a list of strings would store the
    # non-buyers' missing drivers as the string 'nan'
    scores["drivers"] = pd.Series(None, index=scores.index, dtype=object)
    if buyers.any():
        nb = now[buyers]
        scores.loc[buyers, "churn_risk"] = churn.predict_proba(nb[F])
        scores.loc[buyers, "drivers"] = [json.dumps(d) for d in churn.explain(nb[F], top=4)]
    scores["purchase_propensity"] = prop.predict_proba(now[F])
    seq_now = sequences(store, plan["end"], now.index, max_len=SEQ_MAX_LEN)
    nxt_model = None
    if len(seq_now["categories"]) >= 2:
        y_all = _next_targets(store, plan["test_cut"], h,
                              now.index, seq_now["categories"])
        seq_cut = sequences(store, plan["test_cut"], now.index, max_len=SEQ_MAX_LEN)
        ok = y_all > 0
        if ok.sum() >= 10 and seq_cut["categories"] == seq_now["categories"]:
            nxt_model = NextCategory().fit(seq_cut["cat"][ok], y_all[ok],
                                           len(seq_now["categories"]))
            names = np.array(["", *seq_now["categories"]], dtype=object)
            proba = nxt_model.predict_proba(seq_now["cat"])
            best = proba.argmax(1)
            scores["next_category"] = names[best]
            scores["next_category_p"] = proba[np.arange(len(best)), best]
    scores = scores.reset_index()
    metrics["scored_customers"] = int(len(scores))

    def write(folder: Path) -> None:
        churn.save(folder / "churn")
        prop.save(folder / "propensity")
        if nxt_model is not None:
            nxt_model.save(folder / "next_category")
        scores.to_parquet(folder / "scores.parquet", index=False)
        reliability.to_csv(folder / "reliability.csv", index=False)

    params = {"horizon_days": h, "test_cutoff": str(plan["test_cut"].date()),
              "train_cutoffs": [str(c.date()) for c in plan["train_cuts"]],
              "scored_at": str(plan["end"].date()), "features": F,
              "churn_lightgbm": churn_params}
    return registry.register("behavior", write, params=params, metrics=metrics,
                             data={"train_rows": int(len(data)), "customers": int(len(scores))})


# -- reading a registered version ----------------------------------------------------------
_CACHE: dict[str, Any] = {}


def _version(registry: Any) -> Any:
    try:
        return registry.get("behavior")
    except NotFoundError:
        raise NotFoundError("behaviour is not trained yet; run `storemind train behavior`") \
            from None


def load_scores(registry: Any) -> pd.DataFrame:
    """Per customer: churn_risk, drivers (JSON), purchase_propensity, next_category."""
    mv = _version(registry)
    key = str(mv.path)
    if key not in _CACHE:
        _CACHE.clear()
        s = pd.read_parquet(mv.path / "scores.parquet")
        _CACHE[key] = s.set_index(s["user_id"].astype(str))
    return _CACHE[key]


def customer_churn(registry: Any, user_id: str) -> dict[str, Any]:
    """One customer's churn risk, its drivers, purchase propensity and next category;
    :class:`UnknownIdError` for an unknown id."""
    s = load_scores(registry)
    if str(user_id) not in s.index:
        raise UnknownIdError(f"unknown customer {user_id!r}: no events or orders before the "
                             "behaviour model was trained")
    row = s.loc[str(user_id)]
    mv = _version(registry)

    def num(v: Any) -> float | None:
        return None if v is None or pd.isna(v) else float(v)

    drivers = row.get("drivers")
    # versions trained before the fix above hold the string 'nan' for customers without drivers
    drivers = json.loads(drivers) if isinstance(drivers, str) and drivers.startswith("[") else []
    return {
        "user_id": str(user_id),
        "horizon_days": int(mv.params.get("horizon_days", HORIZON_DAYS)),
        "churn_risk": num(row.get("churn_risk")),
        "drivers": drivers,
        "purchase_propensity": num(row.get("purchase_propensity")),
        "next_category": (row.get("next_category") or None) if "next_category" in row else None,
        "next_category_p": num(row.get("next_category_p")) if "next_category_p" in row else None,
        "model_version": mv.version,
    }


def churn_of(registry: Any, user_id: str) -> float | None:
    """The churn risk of one customer, or None when unknown or not a buyer."""
    try:
        return customer_churn(registry, user_id)["churn_risk"]
    except (NotFoundError, UnknownIdError):
        return None
