"""Train, evaluate and register the recommend capability from the store.

``train(store, registry, settings)``:

1. reads the events (weighted types only), the catalogue and the latest stock level per item;
2. holds out the last ``holdout_days`` (default: a fifth of the span, at most 14 days): every
   model is fitted on the events before and scored on the new items each user had after
   (NDCG@10, Recall@20, catalogue coverage@10);
3. before that, tunes every base model and the hybrid with the same budget of configurations
   on a validation cut carved from the training part by the same rule
   (:mod:`storemind.recommend.tune`);
4. fits the hybrid (LambdaRank over the tuned models' candidates), evaluates everything on the
   holdout, refits the base models on all the events for serving and registers a
   :class:`~storemind.recommend._bundle.Bundle` as a new version of ``recommend``.

Settings come from a dict (``train(..., options={...})``, or ``settings`` itself a dict) over
``STOREMIND_RECOMMEND_*`` environment variables over the defaults of :class:`RecommendSettings`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.recommend._base import Recommender
from storemind.recommend._bundle import Bundle, save_bundle
from storemind.recommend._interactions import DEFAULT_WEIGHTS, Interactions
from storemind.recommend.hybrid import HybridRanker
from storemind.recommend.tune import SPACES, draw_configs, evaluate_top, time_task, tune

__all__ = ["RecommendSettings", "MODEL_NAMES", "load_data", "make_model", "train", "evaluate",
           "fit_all"]

#: Base models the pipeline knows, in the order features are built.
MODEL_NAMES = ("popularity", "itemknn", "ease", "als", "bpr", "bought_together", "content",
               "sasrec")
_DAY = 86_400


@dataclass
class RecommendSettings:
    """Settings of the recommend pipeline.

    Each field reads ``STOREMIND_RECOMMEND_<NAME>``: ``BUDGET=4``,
    ``MODELS=popularity,itemknn,als``, ``WEIGHTS=view=1,cart=3,purchase=5``,
    ``HOLDOUT_DAYS=7``, ``HYBRID=0``, ``SERVE=hybrid``.

    Attributes
    ----------
    budget : int
        Configurations tried per model (the same for every model, the hybrid included).
    models : tuple of str
        Base models, from :data:`MODEL_NAMES` (EASE is skipped above ``ease_max_items``).
        ``content`` (text embeddings, for cold-start items; encoding costs about a minute per
        thousand long descriptions on 2 busy cores) and ``sasrec`` are opt-in.
    weights : dict
        Weight of each event type (view < cart < purchase).
    holdout_days : float or None
        Days held out for the evaluation; None = a fifth of the span, at most 14 days.
    hybrid : bool
        Train the LambdaRank hybrid.
    serve : str
        The model that answers recommendations: ``"best"`` (default: the hybrid, unless a
        base model has a higher NDCG@10 on the holdout; where its ranker learns from few
        customers it can trail popularity), ``"hybrid"``, or one of the base models' names.
    max_eval_users : int
        Users scored in the evaluation and tuning (a seeded sample beyond).
    ease_max_items : int
        Largest catalogue EASE is used for.
    sasrec_seconds : float
        Training time limit per SASRec fit.
    seed : int
        Seeds everything.
    """

    budget: int = 2
    models: tuple[str, ...] = ("popularity", "itemknn", "ease", "als", "bpr",
                               "bought_together")
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    holdout_days: float | None = None
    hybrid: bool = True
    serve: str = "best"
    max_eval_users: int = 5_000
    ease_max_items: int = 10_000
    sasrec_seconds: float = 60.0
    seed: int = 0

    @classmethod
    def resolve(cls, settings: Any = None, options: Mapping[str, Any] | None = None,
                env: Mapping[str, str] | None = None) -> RecommendSettings:
        """Defaults < ``STOREMIND_RECOMMEND_*`` < ``settings`` (if a dict) < ``options``."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if settings is not None and not isinstance(settings, Mapping):
            values["seed"] = int(getattr(settings, "seed", 0) or 0)
        for f in fields(cls):
            raw = env.get(f"STOREMIND_RECOMMEND_{f.name.upper()}")
            if raw is not None and raw.strip() != "":
                values[f.name] = raw
        if isinstance(settings, Mapping):
            values.update(settings)
        values.update(options or {})
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise DataError(f"unknown recommend setting(s) {unknown}; known: "
                            f"{[f.name for f in fields(cls)]}")
        return cls(**{k: _parse(k, v) for k, v in values.items()})


def _parse(name: str, value: Any) -> Any:
    try:
        if name in ("budget", "max_eval_users", "ease_max_items", "seed"):
            out = int(value)
            if out < (0 if name == "seed" else 1):
                raise ValueError("too small")
            return out
        if name == "sasrec_seconds":
            return float(value)
        if name == "holdout_days":
            return None if value in (None, "", "none", "None") else float(value)
        if name == "hybrid":
            if isinstance(value, str):
                return value.strip().lower() not in ("0", "false", "no", "off")
            return bool(value)
        if name == "serve":
            out = str(value).strip().lower()
            if out not in ("best", "hybrid", *MODEL_NAMES):
                raise ValueError(f"must be 'best', 'hybrid' or a model name {list(MODEL_NAMES)}")
            return out
        if name == "models":
            names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
            bad = [n for n in names if n not in MODEL_NAMES]
            if bad or not names:
                raise ValueError(f"unknown model(s) {bad}; known: {list(MODEL_NAMES)}")
            return tuple(dict.fromkeys(names))
        if name == "weights":
            if isinstance(value, str):
                pairs = [p.split("=") for p in value.split(",") if p.strip()]
                value = {k.strip(): float(v) for k, v in pairs}
            out = {**DEFAULT_WEIGHTS, **{str(k): float(v) for k, v in dict(value).items()}}
            if any(v < 0 for v in out.values()):
                raise ValueError("weights must be >= 0")
            return out
    except (TypeError, ValueError) as exc:
        raise DataError(f"recommend setting {name}={value!r} is invalid: {exc}") from None
    return value


# -- data ----------------------------------------------------------------------------------
def load_data(store: Any, weights: Mapping[str, float] | None = None
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, catalogue) from the store.

    ``events``: user_id, item_id, event_type, ts, value, session_id of the event types with a
    positive weight. ``catalogue``: item_id, title, category, brand, price, description and
    ``in_stock`` (the latest stock snapshot's ``on_hand >= 1``; items without one count as
    in stock).

    Raises
    ------
    DataError
        The store has no usable events.
    """
    w = {**DEFAULT_WEIGHTS, **dict(weights or {})}
    types = [t for t, v in w.items() if v > 0]
    t = store.table("events")
    expr = t.filter(t.item_id.notnull() & t.event_type.isin(types)).select(
        "user_id", "item_id", "event_type", "ts", "value", "session_id")
    events = store.execute(expr)
    if len(events) == 0:
        raise DataError(
            f"recommend needs events with an item_id of types {types} in the store's events "
            "table; it has none (ingest events, or run `storemind demo` for a simulated store)"
        )
    items = store.table("items")
    catalogue = store.execute(items.select("item_id", "title", "category", "brand", "price",
                                           "description"))
    stock = store.table("stock")
    latest = store.execute(stock.group_by("item_id").aggregate(
        on_hand=stock.on_hand.argmax(stock.ts)))
    catalogue = catalogue.drop_duplicates("item_id", keep="last")
    on_hand = pd.Series(latest["on_hand"].to_numpy(),
                        index=latest["item_id"].astype(str).to_numpy())
    stock_now = on_hand.reindex(catalogue["item_id"].astype(str).to_numpy()).to_numpy()
    catalogue = catalogue.assign(in_stock=np.where(np.isnan(stock_now.astype(float)), True,
                                                   stock_now.astype(float) >= 1.0))
    return events, catalogue.reset_index(drop=True)


def _item_index(events: pd.DataFrame, catalogue: pd.DataFrame) -> np.ndarray:
    ids = pd.concat([events["item_id"].astype(str), catalogue["item_id"].astype(str)])
    return np.unique(ids.to_numpy())


# -- models --------------------------------------------------------------------------------
def make_model(name: str, cfg: RecommendSettings, n_items: int) -> Recommender | None:
    """An unfitted base model ``name`` with the pipeline's default settings (None: skipped)."""
    from storemind.recommend.als import ALS
    from storemind.recommend.bought_together import BoughtTogether
    from storemind.recommend.bpr import BPR
    from storemind.recommend.ease import EASE
    from storemind.recommend.itemknn import ItemKNN
    from storemind.recommend.popularity import Popularity

    seed = cfg.seed
    if name == "popularity":
        return Popularity(half_life_days=14.0, random_state=seed)
    if name == "itemknn":
        return ItemKNN(n_neighbors=100, similarity="bm25", shrinkage=0.0, random_state=seed)
    if name == "ease":
        if n_items > cfg.ease_max_items:
            return None
        return EASE(l2=200.0, max_items=cfg.ease_max_items, random_state=seed)
    if name == "als":
        return ALS(factors=64, iterations=10, num_threads=1, random_state=seed)
    if name == "bpr":
        return BPR(factors=64, iterations=50, random_state=seed)
    if name == "bought_together":
        return BoughtTogether(min_support=2, random_state=seed)
    if name == "content":
        from storemind.recommend.content import ContentRecommender

        return ContentRecommender(random_state=seed)
    if name == "sasrec":
        from storemind.recommend.sasrec import SASRec

        return SASRec(epochs=30, max_seconds=cfg.sasrec_seconds, n_threads=1,
                      random_state=seed)
    raise DataError(f"unknown model {name!r}; known: {list(MODEL_NAMES)}")


def _content_embeddings(names: list[str], catalogue: pd.DataFrame, item_ids: np.ndarray
                        ) -> dict[str, np.ndarray]:
    """Item text embeddings, encoded once, for every content model."""
    if "content" not in names:
        return {}
    from storemind.recommend.content import TEXT_FIELDS, encode_texts, item_texts

    texts = item_texts(catalogue, TEXT_FIELDS).reindex(np.asarray(item_ids, dtype=str))
    return {"content": encode_texts(texts.fillna("").tolist())}


@dataclass
class _Fitted:
    hybrid: HybridRanker | None
    models: dict[str, Recommender]
    metrics: dict[str, float]
    params: dict[str, Any]
    interactions: Interactions
    catalogue: pd.DataFrame
    embeddings: dict[str, np.ndarray]
    stats: dict[str, Any]


def fit_all(events: pd.DataFrame, catalogue: pd.DataFrame, cfg: RecommendSettings,
            log: Any = None) -> _Fitted:
    """Tune, fit and evaluate on the holdout (models left fitted on the training part)."""
    log = log or (lambda msg: None)
    if cfg.serve == "hybrid" and not cfg.hybrid:
        raise DataError("serve='hybrid' needs hybrid=True")
    if cfg.serve not in ("best", "hybrid") and cfg.serve not in cfg.models:
        raise DataError(f"serve={cfg.serve!r} is not among the models trained {list(cfg.models)}")
    t0 = time.perf_counter()
    inter = Interactions.from_frame(events, weights=cfg.weights,
                                    item_ids=_item_index(events, catalogue))
    if inter.n_events == 0 or not (inter.weights > 0).any():
        raise DataError("recommend found no event with a positive weight in the store")
    ts = inter.ts[inter.weights > 0]
    span_days = (int(ts.max()) - int(ts.min())) / _DAY
    hold = cfg.holdout_days if cfg.holdout_days is not None else min(14.0, span_days / 5)
    holdout = time_task(inter, cutoff=int(ts.max() - hold * _DAY),
                        max_users=cfg.max_eval_users, seed=cfg.seed)
    log(f"{inter.n_events:,} events, {inter.n_users:,} users, {inter.n_items:,} items; "
        f"holdout: last {hold:.1f} days, {len(holdout.users):,} users")
    valid = time_task(holdout.train, fraction=0.2, max_users=cfg.max_eval_users, seed=cfg.seed)

    names = [n for n in cfg.models]
    models = {n: m for n in names if (m := make_model(n, cfg, inter.n_items)) is not None}
    embeddings = _content_embeddings(list(models), catalogue, inter.item_ids)

    def fit_one(name: str, model: Recommender, data: Interactions) -> Recommender:
        if name in embeddings:
            return model.fit(data, embeddings=embeddings[name])
        return model.fit(data)

    t = time.perf_counter()
    tuned, results = tune(models, valid, cfg.budget, seed=cfg.seed, fit=fit_one, log=log)
    stats: dict[str, Any] = {"tune_seconds": round(time.perf_counter() - t, 2)}
    params: dict[str, Any] = {"settings": _jsonable(asdict(cfg)),
                              "tuned": {n: r.params for n, r in results.items()},
                              "valid_ndcg@10": {n: r.score for n, r in results.items()}}
    hybrid = None
    if cfg.hybrid:
        t = time.perf_counter()
        space = {k: v for k, v in SPACES["HybridRanker"].items() if k != "n_candidates"}
        configs = draw_configs(space, cfg.budget, cfg.seed)
        early = {n: r.fitted for n, r in results.items() if r.fitted is not None}
        hybrid = HybridRanker(random_state=cfg.seed, verbose=log is not None)
        hybrid.fit(holdout.train, tuned, catalogue, item_embeddings=embeddings,
                   early_models=early, cutoff=valid.cutoff, ranker_configs=configs)
        hybrid.set_params(verbose=False)
        stats["hybrid_fit_seconds"] = round(time.perf_counter() - t, 2)
        params["hybrid"] = {k: v for k, v in hybrid.get_params().items() if k != "verbose"}
        params["hybrid_trials"] = hybrid.ranker_trials_
        params["hybrid_holdout_ndcg"] = hybrid.holdout_ndcg_
        fitted = {n: tuned[n] for n in hybrid.model_names_}
        params["skipped"] = hybrid.skipped_
    else:
        fitted = {}
        for n, m in tuned.items():
            try:
                fitted[n] = fit_one(n, m, holdout.train)
            except DataError as exc:
                params.setdefault("skipped", {})[n] = str(exc)[:300]
    metrics: dict[str, float] = {}
    per_model = {}
    t = time.perf_counter()
    for n, m in fitted.items():
        top, _ = m.recommend(holdout.users, k=20)
        per_model[n] = evaluate_top(top, holdout.relevant, inter.n_items)
    if hybrid is not None:
        top, _ = hybrid.recommend(holdout.users, k=20)
        per_model["hybrid"] = evaluate_top(top, holdout.relevant, inter.n_items)
    best = choose_served(per_model, cfg.serve)
    params["served"] = best
    log(f"serving {best} (serve={cfg.serve!r})")
    metrics.update(per_model[best])
    for n, vals in per_model.items():
        for k, v in vals.items():
            metrics[f"{n}.{k}"] = v
    stats["evaluate_seconds"] = round(time.perf_counter() - t, 2)
    metrics["holdout_users"] = float(len(holdout.users))
    metrics["holdout_days"] = float(hold)
    stats["fit_seconds"] = round(time.perf_counter() - t0, 2)
    for n, vals in per_model.items():
        log(f"holdout {n}: " + ", ".join(f"{k} {v:.4f}" for k, v in vals.items()))
    return _Fitted(hybrid, fitted, metrics, params, inter, catalogue, embeddings, stats)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def choose_served(per_model: Mapping[str, Mapping[str, float]], serve: str = "best") -> str:
    """The model that answers recommendations, from each model's holdout metrics
    (``per_model[name]["ndcg@10"]``; the hybrid is ``"hybrid"``). ``"best"``: the highest
    NDCG@10, the hybrid on a tie; ``"hybrid"`` or a model's name: that one, which must have
    been trained."""
    if not per_model:
        raise DataError("no model was evaluated; nothing to serve")
    if serve != "best":
        if serve not in per_model:
            raise DataError(f"serve={serve!r} names a model that was not trained; trained: "
                            f"{sorted(per_model)}")
        return serve
    order = sorted(per_model, key=lambda n: (-per_model[n]["ndcg@10"], n != "hybrid"))
    return order[0]


def _serving(fitted: _Fitted, events: pd.DataFrame, catalogue: pd.DataFrame,
             cfg: RecommendSettings) -> Bundle:
    """Refit the base models on every event and wrap everything in a Bundle."""
    inter = fitted.interactions
    if fitted.hybrid is not None:
        fitted.hybrid.refit_models(inter, catalogue, item_embeddings=fitted.embeddings)
        models = dict(fitted.hybrid._models)
    else:
        models = {}
        for n, m in fitted.models.items():
            if n in fitted.embeddings:
                models[n] = m.fit(inter, embeddings=fitted.embeddings[n])
            else:
                models[n] = m.fit(inter)
    return Bundle(interactions=inter, models=models, hybrid=fitted.hybrid,
                  catalogue=catalogue.drop(columns=["description"], errors="ignore"),
                  meta={"metrics": fitted.metrics, "params": fitted.params,
                        "stats": fitted.stats, "served": fitted.params.get("served")})


def train(store: Any, registry: Any, settings: Any = None, *,
          options: Mapping[str, Any] | None = None, verbose: bool = False) -> Any:
    """Tune, fit, evaluate and register the recommend capability; returns the ModelVersion.

    Raises
    ------
    DataError
        The store lacks events (or they are too few for a time split), or a bad setting.
    """
    cfg = RecommendSettings.resolve(settings, options)
    log = print if verbose else None
    t0 = time.perf_counter()
    events, catalogue = load_data(store, cfg.weights)
    fitted = fit_all(events, catalogue, cfg, log)
    bundle = _serving(fitted, events, catalogue, cfg)
    bundle.meta["stats"]["total_seconds"] = round(time.perf_counter() - t0, 2)
    ts = pd.to_datetime(events["ts"])
    data = {"rows": int(len(events)), "users": int(bundle.interactions.n_users),
            "items": int(bundle.interactions.n_items),
            "first_event": str(ts.min()), "last_event": str(ts.max())}
    return registry.register(
        "recommend", write=lambda folder: save_bundle(bundle, folder),
        params={**fitted.params, "models": list(bundle.models),
                "stats": bundle.meta["stats"]},
        metrics=fitted.metrics, data=data,
    )


def evaluate(store: Any, settings: Any = None, *,
             options: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The holdout metrics of every model and the hybrid, nothing registered."""
    cfg = RecommendSettings.resolve(settings, options)
    events, catalogue = load_data(store, cfg.weights)
    return fit_all(events, catalogue, cfg).metrics
