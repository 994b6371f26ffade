"""Serving recommendations: the current model version plus the live state, answered per request.

:class:`RecommendService` holds one reference to a :class:`Snapshot` (a loaded
:class:`~storemind.recommend._bundle.Bundle` with its serving structures) and a
:class:`~storemind.recommend.online.LiveState`. Every request reads the reference once, so a
swap to a new version is atomic for it.

- ``observe(events)`` (called by ``POST /v1/events`` before the reply) updates the live state,
  folds each changed customer into the factor model (ALS's exact least-squares fold-in, item
  factors fixed) and adds the events to the live popularity counters. The next request sees it.
- ``recommend(user_id, k, ...)`` answers from the model training chose to serve (the bundle's
  ``meta["served"]``, see ``RecommendSettings.serve``): the hybrid re-ranker over the live
  model scores when the catalogue is small enough (``hybrid_max_items``), else the factor model
  through :class:`~storemind.recommend.retrieval.TopKIndex` (exact or faiss), else the best
  base model; a served base model answers on its own (popularity from the live counters).
  Customers with no history get the live popularity ranking (cold start).
- Answers for a customer are cached under (model version, the customer's live version), so an
  event by that customer invalidates them; cold answers are not cached (popularity moves with
  every event).
- Hot swap: at most every ``poll_ms`` a request reads ``registry.current_version`` (a one-line
  file); a new version is loaded in a background thread, the live customers are re-folded into
  it, and the reference is swapped under the same lock ``observe`` takes. Requests never wait.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from storemind.errors import DataError, NotFittedError, UnknownIdError
from storemind.recommend._bundle import Bundle, load_bundle
from storemind.recommend._fold import als_fold_batch, settle_heap
from storemind.recommend.online import LatencyMeter, LiveState, LiveUser
from storemind.recommend.reasons import strongest_events, verbs_for
from storemind.recommend.retrieval import TopKIndex, traffic_sample

__all__ = ["RecommendService", "ServeSettings", "Snapshot", "LatencyMeter", "CAPABILITY"]

log = logging.getLogger("storemind.recommend")
CAPABILITY = "recommend"


class ServeSettings(BaseSettings):
    """How recommendations are served; each field reads ``STOREMIND_LIVE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="STOREMIND_LIVE_", extra="ignore")

    poll_ms: int = Field(500, ge=0, description="Most often the registry pointer is read.")
    faiss_threshold: int = Field(50_000, ge=1, description="Items from which faiss is used.")
    recall_target: float = Field(0.999, ge=0.0, le=1.0, description=(
        "Recall of the exact top-10 that the faiss indexes' nprobe is calibrated to when a "
        "model version is loaded, on 1,000 customers' (items') vectors drawn as traffic "
        "would bring them; 0 keeps nprobe at nlist / 16 without calibrating."))
    hybrid_max_items: int = Field(20_000, ge=0,
                                  description="Largest catalogue served by the hybrid ranker.")
    cache_size: int = Field(50_000, ge=0, description="Cached answers (0 turns caching off).")
    max_k: int = Field(1000, ge=1, description="Largest k a request may ask for.")
    max_history: int = Field(200, ge=1, description="Live events kept per customer.")
    history_len: int = Field(50, ge=1, description="Newest history items used for reasons.")


class Snapshot:
    """One loaded model version with everything serving needs (built once per version)."""

    def __init__(self, bundle: Bundle, version: str, settings: ServeSettings) -> None:
        self.bundle, self.version, self.settings = bundle, version, settings
        inter = bundle.interactions
        self.item_ids = np.asarray(inter.item_ids).astype(str)
        self.n_items = len(self.item_ids)
        self.item_list: list[str] = self.item_ids.tolist()
        self.item_pos = {iid: n for n, iid in enumerate(self.item_ids.tolist())}
        self.user_pos = {uid: n for n, uid in enumerate(np.asarray(inter.user_ids).astype(str)
                                                         .tolist())}
        self.history = inter.matrix()  # training weights, user x item
        self.bought = inter.seen(["purchase"])
        self.verbs = strongest_events(inter)  # what each customer did with each item
        self._catalogue(bundle.catalogue)
        self.models = dict(bundle.models)
        self.factor_name = next((n for n in ("als", *self.models) if n in self.models
                                 and _is_factor(self.models[n])), None)
        self.index = self.unit = self.unit_index = None
        if self.factor_name is not None:
            model = self.models[self.factor_name]
            f = np.asarray(model.item_factors_, dtype=np.float32)
            norm = np.linalg.norm(f, axis=1, keepdims=True)
            self.unit = np.divide(f, norm, out=np.zeros_like(f), where=norm > 0)
            # calibration samples, only where a faiss index will use them
            users = getattr(model, "user_factors_", None)
            faiss = len(f) >= settings.faiss_threshold and settings.recall_target > 0
            asking = None if users is None or not faiss else traffic_sample(
                np.asarray(users, dtype=np.float32), np.bincount(inter.users,
                                                                 minlength=len(users)))
            viewed = traffic_sample(self.unit, inter.item_popularity()) if faiss else None
            self.index = TopKIndex(f, threshold=settings.faiss_threshold, queries=asking,
                                   recall_target=settings.recall_target)
            self.unit_index = TopKIndex(self.unit, threshold=settings.faiss_threshold,
                                        queries=viewed, recall_target=settings.recall_target)
            self._prepare_fold(self.models[self.factor_name])
        hybrid = bundle.hybrid
        # the model training chose to serve (meta "served"); older bundles: the hybrid
        served = (bundle.meta or {}).get("served")
        self.served = served if served in self.models else None
        self.hybrid = hybrid if hybrid is not None and self.served is None and \
            self.n_items <= settings.hybrid_max_items else None
        self.strategy = ("hybrid" if self.hybrid is not None else
                         self.served or self.factor_name or next(iter(self.models), "popular"))
        pop_model = self.models.get("popularity")
        base = (np.asarray(pop_model.item_scores_, dtype=np.float64) if pop_model is not None
                and hasattr(pop_model, "item_scores_") else
                inter.item_popularity().astype(np.float64))
        # live counters are summed event weights: put the base on the same scale
        self.pop = base * (inter.weights.sum() / max(base.sum(), 1e-12))
        self._pop_top: np.ndarray | None = None
        self.folded: dict[str, np.ndarray] = {}
        self._category_masks: dict[str, np.ndarray] = {}
        self.lock = threading.Lock()  # guards lazily added state (content placement)

    # -- construction helpers ------------------------------------------------------------------
    def _catalogue(self, catalogue: pd.DataFrame) -> None:
        cat = catalogue.drop_duplicates("item_id", keep="last").set_index(
            catalogue.drop_duplicates("item_id", keep="last")["item_id"].astype(str))
        cat = cat.reindex(self.item_ids)

        # plain lists: answers index them per row, which costs less than indexing NumPy
        def col(name: str) -> list[str | None]:
            if name not in cat.columns:
                return [None] * self.n_items
            return [None if pd.isna(v) else str(v) for v in cat[name]]

        self.titles = col("title")
        self.categories = col("category")
        self.prices = (pd.to_numeric(cat["price"], errors="coerce").to_numpy(np.float64)
                       if "price" in cat.columns else np.full(self.n_items, np.nan))
        # the same prices for answers (the array serves the max_price filter)
        self.price_list: list[float | None] = [None if np.isnan(v) else float(v)
                                               for v in self.prices.tolist()]
        self.out_of_stock = (cat["in_stock"].astype("boolean").fillna(True).to_numpy(bool) == 0
                             if "in_stock" in cat.columns else np.zeros(self.n_items, bool))

    def _prepare_fold(self, model: Any) -> None:
        """Precompute Y'Y for ALS's closed-form fold-in (the same solve as implicit's)."""
        y = np.asarray(model.item_factors_, dtype=np.float64)
        self._y = y
        self._yty = y.T @ y
        self._y32 = y.astype(np.float32)  # batched fold-ins: products in float32, solve in 64
        self._als = type(model).__name__ == "ALS"
        self._reg_eye: np.ndarray | None = None

    # -- live updates ------------------------------------------------------------------------
    def add_popularity(self, item_id: str, weight: float) -> None:
        n = self.item_pos.get(item_id)
        if n is not None and weight > 0:
            self.pop[n] += weight
            top = self._pop_top
            if top is not None and n not in self._pop_set and self.pop[n] > self._pop_floor:
                self._pop_top = None  # rebuilt at the next read

    def user_history(self, user_id: str, live: LiveUser | None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items, weights, is_live) of the customer's training row then live events."""
        u = self.user_pos.get(user_id, -1)
        if u >= 0:
            h = self.history
            a, b = h.indptr[u], h.indptr[u + 1]
            items, weights = h.indices[a:b].astype(np.int64), h.data[a:b].astype(np.float32)
        else:
            items, weights = np.zeros(0, np.int64), np.zeros(0, np.float32)
        is_live = np.zeros(len(items), bool)
        if live is not None and live.items:
            li = np.array([self.item_pos.get(i, -1) for i in live.items], dtype=np.int64)
            lw = np.asarray(live.weights, dtype=np.float32)
            ok = li >= 0
            items = np.concatenate([items, li[ok]])
            weights = np.concatenate([weights, lw[ok]])
            is_live = np.concatenate([is_live, np.ones(int(ok.sum()), bool)])
        return items, weights, is_live

    def fold(self, user_id: str, live: LiveUser | None) -> None:
        """Fold the customer's training row plus live events into the factor model."""
        if self.factor_name is None:
            return
        items, weights, _ = self.user_history(user_id, live)
        if not len(items) or not (weights > 0).any():
            return
        self.folded[user_id] = self.fold_vector(items, weights)

    def fold_many(self, users: Mapping[str, LiveUser]) -> None:
        """:meth:`fold` for several customers; for ALS, one stacked solve for all of them
        (a batch of events touches many customers at once)."""
        if self.factor_name is None or not users:
            return
        if not self._als:
            for user_id, live in users.items():
                self.fold(user_id, live)
            return
        model = self.models[self.factor_name]
        ids, rows = [], []
        for user_id, live in users.items():
            items, weights, is_live = self.user_history(user_id, live)
            pos = weights > 0
            if not pos.any():
                continue
            items, weights = items[pos], weights[pos].astype(np.float64)
            if is_live.any() and len(items) > 1:  # training rows hold each item once already
                items, inv = np.unique(items, return_inverse=True)
                weights = np.bincount(inv, weights=weights)
            ids.append(user_id)
            rows.append((items, weights))
        if not ids:
            return
        if self._reg_eye is None:
            self._reg_eye = float(model.regularization) * np.eye(self._y.shape[1])
        solved = als_fold_batch(rows, self._y32, self._yty + self._reg_eye,
                                float(model.alpha), getattr(model, "binary", False))
        for user_id, vec in zip(ids, solved, strict=True):
            self.folded[user_id] = vec

    def _als_system(self, items: np.ndarray, weights: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        # implicit's conjugate solve of (Y'Y + Y'(C - I)Y + reg I) x = Y'C p, p = 1 on the row
        model = self.models[self.factor_name]
        if len(items) > 1:
            uniq, inv = np.unique(items, return_inverse=True)
            w = np.bincount(inv, weights=weights).astype(np.float64)
        else:
            uniq, w = items, weights.astype(np.float64)
        if getattr(model, "binary", False):
            w[:] = 1.0
        c = float(model.alpha) * w
        y = self._y[uniq]
        if self._reg_eye is None:
            self._reg_eye = float(model.regularization) * np.eye(y.shape[1])
        return self._yty + (y.T * (c - 1.0)) @ y + self._reg_eye, y.T @ c

    def fold_vector(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Factors of a history (item indices with weights) with the item factors fixed."""
        model = self.models[self.factor_name]
        pos = weights > 0
        items, weights = items[pos], weights[pos]
        if not self._als:  # BPR & co: the model's own fold-in
            import scipy.sparse as sp

            row = sp.csr_matrix((weights, (np.zeros(len(items), np.int64), items)),
                                shape=(1, self.n_items), dtype=np.float32)
            row.sum_duplicates()
            return np.asarray(model.recalculate_user(row), dtype=np.float32).ravel()
        a, b = self._als_system(items, weights)
        return np.linalg.solve(a, b).astype(np.float32)

    # -- reads -------------------------------------------------------------------------------
    def user_vector(self, user_id: str) -> np.ndarray | None:
        vec = self.folded.get(user_id)
        if vec is not None:
            return vec
        u = self.user_pos.get(user_id, -1)
        if u >= 0 and self.factor_name is not None:
            return self.models[self.factor_name].user_factors_[u]
        return None

    def popular(self, k: int, exclude: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by live popularity; ``exclude`` a bool mask."""
        top = self._pop_top
        if top is None:
            size = min(self.n_items, 2048)
            part = np.argpartition(-self.pop, size - 1)[:size] if size < self.n_items \
                else np.arange(self.n_items)
            top = part[np.lexsort((part, -self.pop[part]))]
            self._pop_set = set(top.tolist())
            self._pop_floor = float(self.pop[top[-1]])
            self._pop_top = top
        top = top[np.lexsort((top, -self.pop[top]))]  # counts moved since it was built
        if exclude is not None:
            top = top[~exclude[top]]
        if len(top) < k and len(top) < self.n_items:
            scores = self.pop.copy()
            if exclude is not None:
                scores[exclude] = -np.inf
            from storemind.recommend.retrieval import _top

            return _top(scores, k)
        return top[:k].astype(np.int64), self.pop[top[:k]].astype(np.float32)

    def category_mask(self, category: str) -> np.ndarray:
        """True for items outside ``category`` (cached)."""
        mask = self._category_masks.get(category)
        if mask is None:
            mask = np.array([c != category for c in self.categories], dtype=bool)
            if len(self._category_masks) < 1000:
                self._category_masks[category] = mask
        return mask


def _is_factor(model: Any) -> bool:
    return hasattr(model, "item_factors_") and hasattr(model, "user_factors_") and \
        hasattr(model, "recalculate_user")


class RecommendService:
    """Answers recommendation requests from the current model version and the live state.

    Parameters
    ----------
    registry : storemind.registry.Registry
        Where ``storemind train recommend`` registers bundles.
    store : storemind.store.Store, optional
        Used to look up the attributes of items the model has never seen.
    settings : ServeSettings, optional
        Default: from ``STOREMIND_LIVE_*`` variables.
    live : LiveState, optional
        Start from an existing live state.
    """

    def __init__(self, registry: Any, *, store: Any = None, settings: ServeSettings | None = None,
                 live: LiveState | None = None) -> None:
        self.registry = registry
        self.store = store
        self.settings = settings or ServeSettings()
        self.live = live or LiveState(max_history=self.settings.max_history)
        self._snap: Snapshot | None = None
        self._lock = threading.RLock()  # observe and swap
        self._last_poll = 0.0
        self._loading: str | None = None
        self.load_errors: dict[str, str] = {}
        self._cache: OrderedDict[tuple, tuple[int, dict]] = OrderedDict()
        self.meters = {name: LatencyMeter() for name in ("recommend", "similar", "cart")}
        self.cache_hits = self.cache_misses = 0
        self.swaps = 0

    # -- model versions ----------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        """The version being served (None before the first load)."""
        snap = self._snap
        return None if snap is None else snap.version

    def current(self) -> Snapshot:
        """The snapshot to answer with; loads the first version synchronously, and starts a
        background swap when the registry points at a newer one.

        Raises
        ------
        NotFittedError
            No version of recommend is registered.
        """
        snap = self._snap
        now = time.monotonic()
        if snap is not None and now - self._last_poll < self.settings.poll_ms / 1000:
            return snap
        self._last_poll = now
        version = self.registry.current_version(CAPABILITY)
        if snap is None:
            if version is None:
                raise NotFittedError("no recommend model is trained yet; run "
                                     "`storemind train recommend`")
            with self._lock:
                if self._snap is None:
                    self._swap(self._build(version))
                return self._snap  # type: ignore[return-value]
        if version is not None and version != snap.version and self._loading is None \
                and version not in self.load_errors:
            self._loading = version
            threading.Thread(target=self._load_in_background, args=(version,),
                             name=f"recommend-load-{version}", daemon=True).start()
        return snap

    def wait_for(self, version: str, timeout: float = 60.0) -> bool:
        """Block until ``version`` is served (tests, scripts); False on timeout."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self._last_poll = 0.0
            try:
                if self.current().version == version:
                    return True
            except NotFittedError:
                pass
            if version in self.load_errors:
                return False
            time.sleep(0.02)
        return False

    def _build(self, version: str) -> Snapshot:
        path = Path(self.registry.get(CAPABILITY, version).path)
        folder = path if (path / "bundle.json").is_file() else path / "bundle"
        bundle = load_bundle(folder)
        snap = Snapshot(bundle, version, self.settings)
        weights = bundle.meta.get("params", {}).get("weights") if isinstance(
            bundle.meta, dict) else None
        if isinstance(weights, Mapping):
            self.live.weights.update({str(k): float(v) for k, v in weights.items()})
        for user_id in self.live.live_users():  # re-apply the live state, outside the lock
            snap.fold(user_id, self.live.user(user_id))
        return snap

    def _swap(self, snap: Snapshot) -> None:
        """Make ``snap`` current (caller holds the lock): re-fold customers whose events came
        after it was built, re-add live popularity, then swap the reference."""
        for user_id in self.live.live_users():
            user = self.live.user(user_id)
            if user is not None:
                snap.fold(user_id, user)
        with self.live.lock:
            counts = dict(self.live.item_counts)
        for item_id, w in counts.items():
            snap.add_popularity(item_id, w)
        self._snap = snap
        self._cache.clear()
        self.swaps += 1
        settle_heap()

    def _load_in_background(self, version: str) -> None:
        try:
            snap = self._build(version)
            with self._lock:
                self._swap(snap)
            log.info("recommend: now serving %s", version)
        except Exception as exc:  # keep serving the old version, say why on /health pages
            log.error("recommend: could not load %s", version, exc_info=exc)
            self.load_errors[version] = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            self._loading = None

    # -- events ------------------------------------------------------------------------------
    def observe(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Apply newly stored events to the live state (and the served model's fold-ins)."""
        events = list(events)
        with self._lock:
            changed = self.live.observe(events)
            snap = self._snap
            if snap is None:
                return
            for ev in events:
                if ev.get("item_id") is not None:
                    snap.add_popularity(str(ev["item_id"]), self.live.event_weight(ev))
            snap.fold_many(changed)

    # -- verbs -------------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int = 10, *, exclude_seen: bool = True,
                  exclude_purchased: bool = True, category: str | None = None,
                  max_price: float | None = None) -> dict[str, Any]:
        """Top-``k`` items for a customer, each with a reason.

        Unknown customers get the cold-start answer (live popularity); a customer's events
        posted before this call are always reflected.
        """
        t0 = time.perf_counter()
        k = self._check_k(k)
        snap = self.current()
        user_id = str(user_id)
        uver = self.live.user_version(user_id)
        key = (user_id, k, exclude_seen, exclude_purchased, category, max_price)
        known = user_id in snap.user_pos
        if self.settings.cache_size and (known or uver):
            hit = self._cache.get(key)
            if hit is not None and hit[0] == (snap.version, uver):
                self.cache_hits += 1
                self.meters["recommend"].add(time.perf_counter() - t0)
                return {**hit[1], "cached": True}
            self.cache_misses += 1
        live = self.live.user(user_id) if uver else None
        answer = self._recommend(snap, user_id, live, k, exclude_seen, exclude_purchased,
                                 category, max_price)
        if self.settings.cache_size and not answer["cold"]:
            self._cache[key] = ((snap.version, uver), answer)
            if len(self._cache) > self.settings.cache_size:
                self._cache.popitem(last=False)
        self.meters["recommend"].add(time.perf_counter() - t0)
        return {**answer, "cached": False}

    def _recommend(self, snap: Snapshot, user_id: str, live: LiveUser | None, k: int,
                   exclude_seen: bool, exclude_purchased: bool, category: str | None,
                   max_price: float | None) -> dict[str, Any]:
        items, weights, is_live = snap.user_history(user_id, live)
        exclude = self._filters(snap, category, max_price)  # a fresh mask, ours to change
        if exclude_seen and len(items):
            exclude[items[weights > 0]] = True
        u = snap.user_pos.get(user_id, -1)
        if exclude_purchased:
            if u >= 0:
                b = snap.bought
                exclude[b.indices[b.indptr[u]:b.indptr[u + 1]]] = True
            if live is not None:
                exclude[[p for i in live.purchased if (p := snap.item_pos.get(i)) is not None]] \
                    = True
        if live is not None and live.cart:
            exclude[[p for i in live.cart if (p := snap.item_pos.get(i)) is not None]] = True
        sources: list[str | None]
        if not len(items) or not (weights > 0).any():
            found, scores = snap.popular(k, exclude)
            strategy, cold, sources = "popular", True, ["popular"] * len(found)
        elif snap.hybrid is not None:
            found, scores, sources = self._hybrid(snap, user_id, u, live, items, weights,
                                                  exclude, k)
            strategy, cold = "hybrid", False
        elif snap.served == "popularity":
            found, scores = snap.popular(k, exclude)
            strategy, cold, sources = "popularity", False, ["popularity"] * len(found)
        elif snap.factor_name is not None and snap.served in (None, snap.factor_name):
            vec = snap.user_vector(user_id)
            if vec is None:
                vec = snap.fold_vector(items, weights)
            found, scores = snap.index.search(vec, k, exclude=exclude)
            strategy, cold, sources = snap.factor_name, False, [snap.factor_name] * len(found)
        else:
            name = snap.served or next(iter(snap.models))
            s = _history_scores(snap, {name: snap.models[name]}, items, weights)[name]
            s[exclude] = -np.inf
            from storemind.recommend.retrieval import _top

            found, scores = _top(s, k)
            strategy, cold, sources = name, False, [name] * len(found)
        reasons = self._reasons(snap, found, sources, items, weights, live, category, u)
        return {
            "user_id": user_id, "model_version": snap.version, "strategy": strategy,
            "cold": cold, "as_of_event": None if live is None else live.last_event_id,
            "live_events": 0 if live is None else live.n_events,
            "items": self._rows(snap, found, scores, reasons),
        }

    def _hybrid(self, snap: Snapshot, user_id: str, u: int, live: LiveUser | None,
                items: np.ndarray, weights: np.ndarray, exclude: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        hybrid = snap.hybrid
        names = list(hybrid.model_names_)
        if u >= 0 and live is None:
            f, s, src = hybrid.recommend_with_sources(np.array([u]), k, exclude_seen=False,
                                                      filter_items=exclude[None, :])
            f, s, src = f[0], s[0], src[0]
        else:
            scores = _history_scores(snap, {n: snap.models[n] for n in names}, items, weights,
                                     user_id)
            f, s, src = hybrid.rerank(scores, k=k, exclude=exclude, history=items,
                                      history_weights=weights)
        ok = f >= 0
        return (f[ok], s[ok], [names[int(i)] if i >= 0 else "popular" for i in src[ok]])

    def similar(self, item_id: str, k: int = 10) -> dict[str, Any]:
        """Items similar to ``item_id`` (model similarity, plus live co-occurrence).

        Raises
        ------
        UnknownIdError
            The item is in neither the model, the live events nor the store's catalogue.
        """
        t0 = time.perf_counter()
        k = self._check_k(k)
        snap = self.current()
        item_id = str(item_id)
        n = snap.item_pos.get(item_id)
        strategy = "similar"
        if n is None:
            found, scores, strategy = self._similar_new(snap, item_id, k)
            reasons = ["similar by its description" if strategy == "content"
                       else "viewed together recently"] * len(found)
        else:
            found, scores, reasons = self._similar_known(snap, n, k)
        out = {"item_id": item_id, "model_version": snap.version, "strategy": strategy,
               "items": self._rows(snap, found, scores, reasons)}
        self.meters["similar"].add(time.perf_counter() - t0)
        return out

    def _similar_known(self, snap: Snapshot, n: int, k: int
                       ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        exclude = snap.out_of_stock.copy()
        exclude[n] = True
        if snap.unit_index is not None:
            found, scores = snap.unit_index.search(snap.unit[n], k + 10, exclude=exclude)
        else:
            model = next((m for name, m in snap.models.items() if name in
                          ("itemknn", "ease", "content", "bought_together")), None)
            if model is None:
                found, scores = snap.popular(k + 10, exclude)
            else:
                f, s = model.similar_items(np.array([n]), k + 10)
                keep = (f[0] >= 0) & ~exclude[np.where(f[0] >= 0, f[0], 0)]
                found, scores = f[0][keep], s[0][keep]
        title = snap.titles[n] or snap.item_ids[n]
        reasons = {int(i): f"similar to {title}" for i in found}
        live = self.live.cooccurring(snap.item_ids[n], 3 * k)
        if live:  # live co-occurrence moves items up: rank score + share of co-views
            total = sum(c for _, c in live)
            score = {int(i): 1.0 / (r + 1) for r, i in enumerate(found)}
            for other, c in live:
                j = snap.item_pos.get(other)
                if j is not None and not exclude[j]:
                    score[j] = score.get(j, 0.0) + c / total
                    reasons[j] = f"viewed together with {title} recently ({int(c)}x)"
            order = sorted(score, key=lambda j: (-score[j], j))[:k]
            return (np.array(order, np.int64), np.array([score[j] for j in order], np.float32),
                    [reasons[j] for j in order])
        return found[:k], scores[:k], [reasons[int(i)] for i in found[:k]]

    def _similar_new(self, snap: Snapshot, item_id: str, k: int
                     ) -> tuple[np.ndarray, np.ndarray, str]:
        content = snap.models.get("content")
        row = self._store_item(item_id)
        if content is not None and row is not None:
            with snap.lock:
                idx = int(content.add_items(row)[0])
                vec = content.item_embeddings_[idx]
                sims = content.item_embeddings_[: snap.n_items] @ vec
            exclude = snap.out_of_stock.copy()
            sims = np.where(exclude, -np.inf, sims).astype(np.float32)
            from storemind.recommend.retrieval import _top

            found, scores = _top(sims, k)
            return found, scores, "content"
        live = self.live.cooccurring(item_id, k)
        pairs = [(snap.item_pos[i], c) for i, c in live if i in snap.item_pos]
        if pairs:
            return (np.array([p for p, _ in pairs], np.int64),
                    np.array([c for _, c in pairs], np.float32), "live")
        raise UnknownIdError(
            f"item {item_id!r} is unknown: the current model ({snap.version}) has no such item"
            + (", and it has no attributes in the store's items table to place it by"
               if row is None else ", and this model version has no content model to place "
               "it by its attributes") + "; it will be known after the next `storemind train "
            "recommend`"
        )

    def _store_item(self, item_id: str) -> pd.DataFrame | None:
        if self.store is None:
            return None
        try:
            t = self.store.table("items")
            frame = self.store.execute(t.filter(t.item_id == item_id).limit(1))
        except Exception:  # the store may lack an items table: no attributes then
            return None
        return frame if len(frame) else None

    def complete_basket(self, item_ids: Sequence[str], k: int = 10,
                        user_id: str | None = None) -> dict[str, Any]:
        """Items that complete a cart (often bought together), the cart's items excluded."""
        t0 = time.perf_counter()
        k = self._check_k(k)
        snap = self.current()
        ids = [str(i) for i in item_ids]
        if not ids:
            raise DataError("the cart is empty: give at least one item id in item_ids")
        basket = np.array([snap.item_pos[i] for i in ids if i in snap.item_pos], np.int64)
        unknown = [i for i in ids if i not in snap.item_pos]
        exclude = snap.out_of_stock.copy()
        exclude[basket] = True
        if user_id is not None:
            live = self.live.user(str(user_id))
            if live is not None:
                exclude[[p for i in live.purchased if (p := snap.item_pos.get(i)) is not None]] \
                    = True
        names = {int(b): snap.titles[b] or snap.item_ids[b] for b in basket}
        if not len(basket):
            found, scores = snap.popular(k, exclude)
            reasons = ["popular right now"] * len(found)
            strategy = "popular"
        elif snap.hybrid is not None:
            hybrid = snap.hybrid
            scores_by = _history_scores(snap, {n: snap.models[n] for n in hybrid.model_names_},
                                        basket, np.ones(len(basket), np.float32))
            found, scores, src = hybrid.rerank(scores_by, k=k, exclude=exclude, history=basket)
            ok = found >= 0
            found, scores = found[ok], scores[ok]
            reasons = self._basket_reasons(snap, found, basket, names)
            strategy = "hybrid"
        else:
            total = np.zeros(snap.n_items, np.float32)
            bt = snap.models.get("bought_together")
            if bt is not None:
                total += np.asarray(bt.rules_[basket].sum(axis=0), np.float32).ravel()
            if snap.unit is not None:
                total += 0.01 * (snap.unit @ snap.unit[basket].mean(axis=0))
            for b in basket:
                for other, c in self.live.cooccurring(snap.item_ids[b], 50):
                    j = snap.item_pos.get(other)
                    if j is not None:
                        total[j] += 0.1 * c
            total[exclude] = -np.inf
            from storemind.recommend.retrieval import _top

            found, scores = _top(total, k)
            reasons = self._basket_reasons(snap, found, basket, names)
            strategy = "bought_together"
        out = {"item_ids": ids, "unknown_items": unknown, "model_version": snap.version,
               "strategy": strategy, "items": self._rows(snap, found, scores, reasons)}
        self.meters["cart"].add(time.perf_counter() - t0)
        return out

    # -- helpers -------------------------------------------------------------------------------
    def _check_k(self, k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or not \
                1 <= k <= self.settings.max_k:
            raise DataError(f"k must be an integer in [1, {self.settings.max_k}], got {k!r}")
        return int(k)

    def _filters(self, snap: Snapshot, category: str | None, max_price: float | None
                 ) -> np.ndarray:
        drop = snap.out_of_stock.copy()
        if category is not None:
            drop |= snap.category_mask(category)
        if max_price is not None:
            drop |= ~(snap.prices <= float(max_price))  # unknown prices are dropped too
        return drop

    def _basket_reasons(self, snap: Snapshot, found: np.ndarray, basket: np.ndarray,
                        names: dict[int, str]) -> list[str]:
        if snap.unit is None or not len(found):
            first = names[int(basket[0])]
            return [f"often bought together with {first}"] * len(found)
        sims = snap.unit[found] @ snap.unit[basket].T
        return [f"often bought together with {names[int(basket[j])]}"
                for j in np.argmax(sims, axis=1)]

    def _reasons(self, snap: Snapshot, found: np.ndarray, sources: list[str | None],
                 items: np.ndarray, weights: np.ndarray, live: LiveUser | None,
                 category: str | None, u: int) -> list[str]:
        if not len(found):
            return []
        hist = items[weights > 0][-self.settings.history_len:]
        best, verbs = None, {}
        if len(hist) and snap.unit is not None:
            best = hist[np.argmax(snap.unit[found] @ snap.unit[hist].T, axis=1)].tolist()
            # the strongest event with each item a reason names, in training or live
            pairs = [] if live is None else [
                (snap.item_pos.get(i, -1), t) for i, t in zip(live.items, live.types,
                                                              strict=True)]
            verbs = verbs_for(snap.verbs, u, best, pairs)
        out = []
        titles, cats = snap.titles, snap.categories
        for r, (item, src) in enumerate(zip(found.tolist(), sources, strict=True)):
            cat = cats[item]
            if src == "popular" or best is None:
                where = f" in {category or cat}" if (category or cat) else ""
                out.append(f"popular{where} right now")
                continue
            j = best[r]
            name = titles[j] or snap.item_list[j]
            if src == "bought_together":
                out.append(f"often bought together with {name}")
            else:
                out.append(f"similar to {name} that you {verbs.get(j, 'viewed')}")
        return out

    @staticmethod
    def _rows(snap: Snapshot, found: np.ndarray, scores: np.ndarray,
              reasons: Sequence[str]) -> list[dict[str, Any]]:
        ids, titles, cats, prices = snap.item_list, snap.titles, snap.categories, snap.price_list
        return [{"item_id": ids[item], "score": score, "reason": reason, "title": titles[item],
                 "category": cats[item], "price": prices[item]}
                for item, score, reason in zip(found.tolist(), scores.tolist(), reasons,
                                               strict=True)]

    def stats(self) -> dict[str, Any]:
        """Live counters for the dashboard and ``GET /v1/recommend/live/stats``."""
        snap = self._snap
        return {
            "model_version": None if snap is None else snap.version,
            "strategy": None if snap is None else snap.strategy,
            "retrieval": None if snap is None or snap.index is None else snap.index.kind,
            "nprobe": None if snap is None or snap.index is None else snap.index.nprobe,
            "items": None if snap is None else snap.n_items,
            "swaps": self.swaps, "loading": self._loading, "load_errors": self.load_errors,
            "cache": {"size": len(self._cache), "hits": self.cache_hits,
                      "misses": self.cache_misses},
            "live": self.live.stats(),
            "routes": {name: m.summary() for name, m in self.meters.items()},
        }


def _history_scores(snap: Snapshot, models: Mapping[str, Any], items: np.ndarray,
                    weights: np.ndarray, user_id: str | None = None) -> dict[str, np.ndarray]:
    """Each model's live scores for a history; the factor model uses the stored fold-in."""
    from storemind.recommend.hybrid import history_scores

    out: dict[str, np.ndarray] = {}
    rest = {}
    for name, model in models.items():
        if name == snap.factor_name:
            vec = snap.folded.get(user_id) if user_id is not None else None
            if vec is None:
                vec = snap.fold_vector(items, weights)
            out[name] = model.score_factors(vec).ravel()
        else:
            rest[name] = model
    if rest:
        pos = weights > 0
        out.update(history_scores(rest, items[pos], weights[pos]))
    return {n: np.array(s, dtype=np.float32) for n, s in out.items()}
