"""Hyper-parameter search with the same budget for every model, on a time-respecting split.

Each model family has a grid (:data:`SPACES`). :func:`tune` draws ``budget`` configurations per
model (the model's own settings first, then random distinct grid points, the draw depending
only on the grid and the seed), fits each on the events before a time cut, ranks every item for
the users with new items after the cut (their earlier items excluded), and keeps the settings
with the best NDCG@10. Every model gets the same number of fits, so a comparison between them
is fair.
"""
from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from storemind import evaluation as ev
from storemind.errors import DataError, TooLargeError
from storemind.recommend._base import Recommender
from storemind.recommend._interactions import Interactions

__all__ = ["SPACES", "TimeTask", "time_task", "draw_configs", "tune", "TuneResult",
           "evaluate_top"]

#: Search grid per model class name.
SPACES: dict[str, dict[str, list]] = {
    "Popularity": {"half_life_days": [None, 3.0, 7.0, 14.0, 30.0, 90.0],
                   "count_users": [True, False]},
    "ItemKNN": {"n_neighbors": [20, 50, 100, 200, 500], "similarity": ["cosine", "bm25"],
                "shrinkage": [0.0, 10.0, 50.0]},
    "EASE": {"l2": [10.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0]},
    "ALS": {"factors": [32, 64, 128], "regularization": [0.001, 0.01, 0.05, 0.1, 1.0],
            "alpha": [1.0, 5.0, 10.0, 20.0, 40.0]},
    "BPR": {"factors": [32, 64, 128], "learning_rate": [0.005, 0.01, 0.05, 0.1],
            "regularization": [0.0001, 0.001, 0.01, 0.1], "iterations": [50, 100, 200]},
    "BoughtTogether": {"min_support": [1, 2, 3, 5], "rank_by": ["confidence", "lift"],
                       "basket": ["session", "user_day"]},
    "SASRec": {"dropout": [0.2, 0.3, 0.5], "lr": [0.001, 0.002], "n_heads": [1, 2],
               "half_life_days": [None, 14.0]},
    "ContentRecommender": {"half_life": [None, 3.0, 10.0, 30.0],
                           "use_event_weights": [True, False]},
    "HybridRanker": {"n_candidates": [30, 50, 100], "num_leaves": [15, 31, 63],
                     "learning_rate": [0.03, 0.05, 0.1], "min_child_samples": [20, 50, 100]},
}


@dataclass
class TimeTask:
    """Events before a cut (``train``) and, per scored user, their new items after it."""

    train: Interactions
    users: np.ndarray
    relevant: list[np.ndarray]
    cutoff: int


def time_task(interactions: Interactions, fraction: float = 0.2,
              cutoff: int | None = None, max_users: int | None = None,
              seed: int = 0) -> TimeTask:
    """Cut ``interactions`` at ``cutoff`` (default: ``fraction`` of the span before the end).

    The relevant items of a user are the items of their weighted events after the cut that
    they had no event with before it; users without history before the cut are not scored.

    Raises
    ------
    DataError
        No event on one side of the cut, or no user to score.
    """
    pos = interactions.weights > 0
    ts = interactions.ts[pos]
    if len(ts) == 0:
        raise DataError("no weighted event to split")
    if cutoff is None:
        lo, hi = int(ts.min()), int(ts.max())
        cutoff = int(hi - float(fraction) * (hi - lo))
    train = interactions.subset(interactions.ts < cutoff)
    later = (interactions.ts >= cutoff) & pos
    seen = train.seen()
    u, i = interactions.users[later], interactions.items[later]
    if len(u):
        fresh = np.asarray(seen[u, i]).ravel() == 0
        u, i = u[fresh], i[fresh]
    has_hist = np.diff(seen.indptr) > 0
    keep = has_hist[u] if len(u) else np.zeros(0, bool)
    u, i = u[keep], i[keep]
    width = max(interactions.n_items, 1)
    pairs = np.unique(u.astype(np.int64) * width + i)
    pu, pi = pairs // width, pairs % width
    users, starts = np.unique(pu, return_index=True)
    if len(users) == 0 or not (train.weights > 0).any():
        raise DataError(
            f"the time cut at {pd.Timestamp(cutoff, unit='s')} leaves "
            f"{int((train.weights > 0).sum())} events before it and {len(users)} users with "
            "new items after it; both must be > 0"
        )
    relevant = [a.astype(np.int64) for a in np.split(pi, starts[1:])]
    if max_users is not None and len(users) > max_users:
        pick = np.sort(np.random.default_rng(seed).choice(len(users), max_users,
                                                          replace=False))
        users = users[pick]
        relevant = [relevant[j] for j in pick]
    return TimeTask(train=train, users=users.astype(np.int64), relevant=relevant,
                    cutoff=int(cutoff))


def evaluate_top(top: np.ndarray, relevant: list[np.ndarray], n_items: int) -> dict[str, float]:
    """NDCG@10, Recall@20 and catalogue coverage@10 of top-k lists (k >= 20)."""
    return {"ndcg@10": float(ev.ndcg_at_k(top, relevant, 10)),
            "recall@20": float(ev.recall_at_k(top, relevant, 20)),
            "coverage@10": float(ev.catalogue_coverage(top, n_items, 10))}


def draw_configs(space: Mapping[str, list], budget: int, seed: int = 0) -> list[dict[str, Any]]:
    """``{}`` (the model's own settings) then random distinct grid points, ``budget`` in all."""
    configs: list[dict[str, Any]] = [{}]
    keys = sorted(space)
    total = int(np.prod([len(space[k]) for k in keys])) if keys else 0
    grid = json.dumps({k: [str(v) for v in space[k]] for k in keys}, sort_keys=True)
    rng = np.random.default_rng([seed, zlib.crc32(grid.encode())])
    tries = 0
    while len(configs) < min(int(budget), total + 1) and tries < 100 * max(int(budget), 1):
        tries += 1
        cand = {k: space[k][int(rng.integers(len(space[k])))] for k in keys}
        if cand not in configs:
            configs.append(cand)
    return configs[: max(int(budget), 1)]


@dataclass
class TuneResult:
    """Outcome of :func:`tune` for one model."""

    name: str
    params: dict[str, Any]
    score: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    fitted: Recommender | None = None  # the best configuration, fitted on the task's train


def tune(
    models: Mapping[str, Recommender],
    task: TimeTask,
    budget: int = 2,
    *,
    seed: int = 0,
    fit: Callable[[str, Recommender, Interactions], Recommender] | None = None,
    spaces: Mapping[str, Mapping[str, list]] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[dict[str, Recommender], dict[str, TuneResult]]:
    """Tune every model with the same ``budget`` of fits on ``task``.

    Parameters
    ----------
    models : mapping of str to Recommender
        Models to tune (their settings are the first configuration tried).
    task : TimeTask
        The validation split (see :func:`time_task`).
    budget : int
        Configurations per model (1 = the given settings only, scored).
    seed : int
        Seeds the draw of configurations.
    fit : callable, optional
        ``fit(name, model, interactions) -> model`` for models whose fit needs more than the
        interactions (a content model takes the catalogue); default ``model.fit(interactions)``.
    spaces : mapping, optional
        Grids by class name; default :data:`SPACES`.
    log : callable, optional
        Receives one line per trial.

    Returns
    -------
    tuned : dict of str to Recommender
        Unfitted models with the best settings found.
    results : dict of str to TuneResult
    """
    if int(budget) < 1:
        raise DataError(f"budget must be >= 1, got {budget!r}")
    spaces = SPACES if spaces is None else spaces
    fit = fit or (lambda name, m, inter: m.fit(inter))
    tuned: dict[str, Recommender] = {}
    results: dict[str, TuneResult] = {}
    for name, model in models.items():
        space = spaces.get(type(model).__name__, {})
        base = model.get_params()
        space = {k: v for k, v in space.items() if k in base}
        start = time.perf_counter()
        best, best_score, trials, best_fit = dict(base), -1.0, [], None
        for extra in draw_configs(space, budget, seed):
            params = {**base, **extra}
            t = time.perf_counter()
            try:
                fitted = fit(name, type(model)(**params), task.train)
                top, _ = fitted.recommend(task.users, k=20)
                score = float(ev.ndcg_at_k(top, task.relevant, 10))
            except (DataError, TooLargeError) as exc:
                trials.append({"params": extra, "error": str(exc)[:200]})
                if log:
                    log(f"{name} {extra}: failed: {exc}")
                continue
            trials.append({"params": extra, "ndcg@10": score,
                           "seconds": round(time.perf_counter() - t, 3)})
            if log:
                log(f"{name} {extra or '(given settings)'}: NDCG@10 {score:.4f} "
                    f"({time.perf_counter() - t:.1f} s)")
            if score > best_score:
                best, best_score, best_fit = params, score, fitted
        tuned[name] = type(model)(**best)
        results[name] = TuneResult(name, {k: v for k, v in best.items() if base.get(k) != v},
                                   best_score, trials, time.perf_counter() - start, best_fit)
    return tuned, results


def last_event_mask(interactions: Interactions) -> np.ndarray:
    """Mask of each user's last weighted event (by time, then order), for users with two or
    more weighted events."""
    weighted = np.flatnonzero(interactions.weights > 0)
    users = interactions.users[weighted]
    order = weighted[np.lexsort((weighted, interactions.ts[weighted], users))]
    u = interactions.users[order]
    last = np.r_[u[1:] != u[:-1], True]
    first = np.r_[True, u[1:] != u[:-1]]
    mask = np.zeros(interactions.n_events, dtype=bool)
    mask[order[last & ~first]] = True
    return mask
