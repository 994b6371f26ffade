"""Train the marketing capability from the store, and plan a campaign with the current model.

``train`` takes the store's randomised campaign (the exposures with a control arm and the most
rows), builds customer features as of the campaign's start, holds out a random 25% of the
exposed customers (stratified by arm: the campaign is randomised at one moment, so a random
holdout is the fair split, not a temporal one), compares the T-, X- and DR-learners on that
holdout by mean Qini coefficient over the treatments, refits the best on every exposed customer
with 5 bootstrap bags (for intervals), and registers it with the holdout's metrics, the Qini
curves and the segment insights.

``plan`` scores every customer of the store with the current model and hands the uplift table
to :func:`storemind.marketing.plan_campaign`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.evaluation import qini_curve
from storemind.marketing._features import customer_features, uplift_data
from storemind.marketing.drlearner import DRLearner
from storemind.marketing.evaluate import uplift_folds, uplift_metrics
from storemind.marketing.insights import campaign_segments, segment_insights
from storemind.marketing.planner import Offer, plan_campaign
from storemind.marketing.tlearner import TLearner
from storemind.marketing.xlearner import XLearner

__all__ = ["train", "evaluate", "plan", "load_model", "default_offers", "CANDIDATES"]

CANDIDATES = {"t": TLearner, "x": XLearner, "dr": DRLearner}
_MODEL_DIR = "uplift"


def _seed(settings: Any, random_state: int | None) -> int:
    return random_state if random_state is not None else int(getattr(settings, "seed", 0))


def _model_params(n: int) -> dict[str, Any]:
    """Smaller leaves for small campaigns (the simulator's has about 2,000 customers)."""
    return {"n_estimators": 100, "learning_rate": 0.05, "num_leaves": 15,
            "min_child_samples": int(np.clip(n // 100, 20, 100))}


def _compare(X: pd.DataFrame, arms: np.ndarray, y: np.ndarray, seed: int
             ) -> tuple[str, dict[str, float], dict[str, Any]]:
    test = uplift_folds(arms, 4, seed) == 0
    params = _model_params(len(y))
    scores, detail = {}, {}
    for name, cls in CANDIDATES.items():
        model = cls(**params, random_state=seed).fit(X[~test], arms[~test], y[~test])
        u = model.predict_uplift(X[test])
        m = uplift_metrics(y[test], arms[test], u, model.treatments_, model.arms_[0])
        scores[name] = float(np.mean([v["qini"] for v in m.values()]))
        curves = {}
        for j, arm in enumerate(model.treatments_):
            rows = (arms[test] == arm) | (arms[test] == model.arms_[0])
            x, q = qini_curve(y[test][rows], (arms[test][rows] == arm).astype(int), u[rows, j])
            step = max(1, len(x) // 200)
            curves[arm] = {"x": (x[::step] / max(x[-1], 1)).round(4).tolist(),
                           "y": q[::step].round(3).tolist()}
        detail[name] = {"metrics": m, "curves": curves}
    best = max(scores, key=scores.get)
    metrics = {"holdout_rows": float(test.sum()), "train_rows": float((~test).sum())}
    for name, s in scores.items():
        metrics[f"holdout_qini_mean_{name}"] = s
    for arm, vals in detail[best]["metrics"].items():
        for k, v in vals.items():
            metrics[f"holdout_{k}_{arm}"] = float(v)
    # every learner's holdout curves, for the dashboard's comparison
    return best, metrics, {"best": best, "models": {n: d["curves"] for n, d in detail.items()}}


def evaluate(store: Any, settings: Any = None, *, outcome: str = "converted",
             random_state: int | None = None) -> dict[str, float]:
    """Holdout metrics of the learner comparison (see the module docstring)."""
    X, exp, _ = uplift_data(store, outcome=outcome)
    _, metrics, _ = _compare(X, exp["arm"].astype(str).to_numpy(),
                             exp[outcome].to_numpy(dtype=float), _seed(settings, random_state))
    return metrics


def train(store: Any, registry: Any, settings: Any = None, *, outcome: str = "converted",
          n_bags: int = 5, random_state: int | None = None) -> Any:
    """Fit, evaluate and register the uplift model; returns the new ``ModelVersion``."""
    seed = _seed(settings, random_state)
    t0 = time.perf_counter()
    X, exp, cid = uplift_data(store, outcome=outcome)
    arms = exp["arm"].astype(str).to_numpy()
    y = exp[outcome].to_numpy(dtype=float)
    if len(y) < 200:
        raise DataError(f"campaign {cid!r} has {len(y)} exposed customers with outcomes; "
                        "uplift models need at least 200")
    best, metrics, curves = _compare(X, arms, y, seed)
    model = CANDIDATES[best](**_model_params(len(y)), n_bags=n_bags, random_state=seed)
    model.fit(X, arms, y)
    u = model.predict_uplift(X)
    segments = campaign_segments(X)
    ins = segment_insights(segments, u, model.treatments_,
                           outcome="conversion" if outcome == "converted" else outcome)
    spend = exp["spend"].to_numpy(dtype=float) if "spend" in exp else np.zeros(len(y))
    conv = exp["converted"].to_numpy(dtype=float) if "converted" in exp else y
    value = float(spend[conv > 0].mean()) if (conv > 0).any() and np.nansum(spend) > 0 else 1.0
    metrics["fit_seconds"] = time.perf_counter() - t0

    def write(folder: Any) -> None:
        model.save(folder / _MODEL_DIR)
        (folder / "curves.json").write_text(json.dumps(curves))
        ins.to_json(folder / "insights.json", orient="records")

    return registry.register(
        "marketing", write,
        params={"learner": best, "outcome": outcome, "n_bags": n_bags, "campaign_id": cid,
                "treatments": model.treatments_, "control": model.arms_[0],
                "value_per_conversion": value, **_model_params(len(y))},
        metrics=metrics, data={"rows": int(len(y)), "campaign_id": cid})


def load_model(registry: Any) -> tuple[Any, Any]:
    """(ModelVersion, fitted learner) of the current marketing model."""
    mv = registry.get("marketing")
    cls = CANDIDATES[mv.meta["params"]["learner"]]
    return mv, cls.load(mv.path / _MODEL_DIR)


def default_offers(mv: Any, margin_rate: float = 0.3, cost: float = 1.0) -> list[Offer]:
    """One offer per treatment arm: ``cost`` per customer, margin = ``margin_rate`` x the
    campaign's mean spend per converting customer (an assumption; pass real offers)."""
    p = mv.meta["params"]
    margin = margin_rate * float(p.get("value_per_conversion", 1.0))
    return [Offer(name=t, cost=cost, margin=margin) for t in p["treatments"]]


_CACHE: dict[tuple, pd.DataFrame] = {}


def _uplift_table(store: Any, mv: Any, model: Any, customers: list[str]) -> pd.DataFrame:
    """Predicted uplift per customer, cached per (store, model version, customers, row
    counts of the tables the features read) so repeated plans do not rebuild features."""
    counts = {t: n for t, n in store.counts().items() if t in ("users", "orders", "events")}
    key = (id(store), str(mv.path), hash(tuple(customers)), tuple(sorted(counts.items())))
    if key not in _CACHE:
        X = customer_features(store, customers)
        for c in model.features_:
            if c not in X.columns:
                X[c] = np.nan
        _CACHE.clear()
        _CACHE[key] = pd.DataFrame(model.predict_uplift(X), index=X.index,
                                   columns=model.treatments_)
    return _CACHE[key]


def plan(store: Any, registry: Any, settings: Any = None, *, budget: float,
         offers: Sequence[Offer | dict[str, Any]] | None = None, holdout: float = 0.1,
         method: str = "greedy", customers: Sequence[str] | None = None,
         random_state: int | None = None) -> pd.DataFrame:
    """A campaign plan over the store's customers with the current uplift model.

    Parameters
    ----------
    budget : float
        Most the campaign may spend.
    offers : sequence of Offer or dicts (name, cost, margin), optional
        Names must be treatment arms of the trained campaign; default :func:`default_offers`.
    holdout, method : see :func:`storemind.marketing.plan_campaign`.
    customers : sequence of str, optional
        Who may be targeted; default every customer in ``users`` (else the campaign's).

    Returns
    -------
    DataFrame
        The plan (``user_id``, ``offer``, ``group``, ``expected_uplift``,
        ``expected_profit``, ``cost``); write it with ``to_csv``.
    """
    mv, model = load_model(registry)
    offers = list(offers) if offers is not None else default_offers(mv)
    if customers is None:
        if "users" in store.tables and store.count("users"):
            t = store.table("users")
            customers = store.execute(t.select("user_id"))["user_id"].astype(str).tolist()
        else:
            t = store.table("exposures")
            cid = mv.meta["params"]["campaign_id"]
            customers = store.execute(t.filter(t.campaign_id == cid).select("user_id")
                                      )["user_id"].dropna().astype(str).tolist()
    if not customers:
        raise DataError("no customers to plan for: the store's users table is empty")
    U = _uplift_table(store, mv, model, [str(c) for c in customers])
    return plan_campaign(U, offers, budget, holdout=holdout, method=method,
                         random_state=_seed(settings, random_state))
