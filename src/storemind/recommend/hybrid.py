"""Hybrid recommender: the base models' candidates re-ranked by LightGBM LambdaRank.

Training respects time. The interactions are cut at a moment ``valid_fraction`` of the time
span before the end; copies of the base models are fitted on the events before it, each model's
top ``n_candidates`` unseen items for every user with events after it form the candidates, and
a candidate is relevant when the user interacted with it after the cut. A LightGBM
``LGBMRanker`` (objective ``lambdarank``) learns to order the candidates from the features of
:mod:`storemind.recommend._rank_features`. Then the base models are refitted on all the
interactions for serving (the ranker's features are standardised scores and ranks, so they
carry over).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storemind import evaluation as ev
from storemind._base import Estimator
from storemind.errors import DataError, RegistryError, TooLargeError
from storemind.recommend._base import (
    Recommender,
    _check_k,
    check_interactions,
    check_items,
    check_users,
    top_k,
)
from storemind.recommend._interactions import Interactions
from storemind.recommend._rank_features import (
    ItemContext,
    UserBlock,
    candidate_features,
    feature_names,
    history_block,
    history_scores,
    item_context,
    user_block,
    user_summary,
)
from storemind.recommend.tune import last_event_mask

__all__ = ["HybridRanker", "history_scores", "clone_model"]

_RANKER_FILE = "ranker.txt"
_RANKER_PARAMS = ("n_estimators", "learning_rate", "num_leaves", "min_child_samples",
                  "colsample_bytree", "reg_lambda")
_FLOOR = np.float32(-1e4)  # score of items that are not candidates (ordered by popularity)


def clone_model(model: Recommender) -> Recommender:
    """An unfitted copy of ``model`` with the same settings."""
    return type(model)(**model.get_params())


def _fit_model(model: Recommender, interactions: Interactions, catalogue: pd.DataFrame | None,
               embeddings: dict[str, np.ndarray], name: str) -> Recommender:
    """Fit one base model; content models get the catalogue (embedded once, then reused)."""
    from storemind.recommend.content import ContentRecommender

    if isinstance(model, ContentRecommender):
        if name in embeddings:
            return model.fit(interactions, embeddings=embeddings[name])
        if catalogue is None:
            raise DataError("the content model needs the catalogue (item text); pass "
                            "catalogue= to HybridRanker.fit")
        model.fit(interactions, items=catalogue)
        embeddings[name] = model.item_embeddings_[: interactions.n_items]
        return model
    return model.fit(interactions)


class HybridRanker(Recommender):
    """Candidates from several base models, re-ranked by LightGBM LambdaRank.

    Parameters
    ----------
    n_candidates : int
        Top items taken from each base model for each user.
    rank_depth : int
        Each model's rank of a candidate is exact up to here (a feature).
    valid_fraction : float
        The last part of the time span whose events label the ranker's training candidates.
    valid_days : float, optional
        The same as a number of days (overrides ``valid_fraction``).
    holdout : {"time", "last"}
        How the ranker's labels are held out: ``"time"`` cuts every user's history at one
        moment (``valid_fraction`` / ``valid_days``); ``"last"`` holds out each user's last
        event (for data whose times are only an order, e.g. leave-last-out sequences).
    max_train_users : int
        Most users whose candidates train the ranker (a random sample beyond it).
    n_estimators, learning_rate, num_leaves, min_child_samples, colsample_bytree, reg_lambda
        LightGBM settings.
    early_stopping_fraction : float
        Share of the training users held out to stop boosting on NDCG@10 (0 turns it off).
    refit : bool
        Refit the base models on all the interactions after training the ranker (for
        serving). With False the given models must already be fitted on them.
    recent_days : float
        Window of the "recent popularity" and "trend" features.
    n_jobs : int
        LightGBM threads.
    verbose : bool
        Print the stages and their times.
    random_state : int, optional
        Seeds user sampling, LightGBM and the base models' copies.

    Attributes
    ----------
    model_names_ : list of str
        The base models used (those that could be fitted), in feature order.
    feature_names_ : list of str
        Feature columns of the ranker.
    cutoff_ : int
        The time (seconds) separating the ranker's training history and labels (-1 with
        ``holdout="last"``).
    train_stats_ : dict
        Users, candidate pairs, candidate recall and times of the last fit.
    skipped_ : dict of str to str
        Base models left out and why (e.g. EASE on a too large catalogue).
    holdout_ndcg_ : dict of str to float
        NDCG@10 of the ranker (``"ranker"``) and of each base model's own order of the same
        candidates, on the users held out to stop boosting (empty when none are).
    """

    def __init__(
        self,
        n_candidates: int = 50,
        rank_depth: int = 200,
        valid_fraction: float = 0.2,
        valid_days: float | None = None,
        holdout: str = "time",
        max_train_users: int = 20_000,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_fraction: float = 0.15,
        refit: bool = True,
        recent_days: float = 7.0,
        n_jobs: int = 1,
        verbose: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.n_candidates = n_candidates
        self.rank_depth = rank_depth
        self.valid_fraction = valid_fraction
        self.valid_days = valid_days
        self.holdout = holdout
        self.max_train_users = max_train_users
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_fraction = early_stopping_fraction
        self.refit = refit
        self.recent_days = recent_days
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    # -- fit -------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Interactions,
        models: Mapping[str, Recommender] | None = None,
        catalogue: pd.DataFrame | None = None,
        *,
        item_embeddings: Mapping[str, np.ndarray] | None = None,
        early_models: Mapping[str, Recommender] | None = None,
        cutoff: int | None = None,
        ranker_configs: Sequence[Mapping[str, Any]] | None = None,
    ) -> HybridRanker:
        """Train the re-ranker on a time split of ``interactions``; returns ``self``.

        Parameters
        ----------
        interactions : Interactions
            All training events (the index every model uses).
        models : mapping of str to Recommender
            Base models by name (fitted or not: copies are fitted on the earlier events). With
            ``refit=True`` these objects are then fitted on all of ``interactions`` in place.
            Default: :func:`default_models`.
        catalogue : pandas.DataFrame, optional
            Items (``item_id``, ``category``, ``brand``, ``price``, text for a content model).
        item_embeddings : mapping of str to array (n_items, d), optional
            Precomputed item vectors of content models by model name (the catalogue is then
            not encoded again).
        early_models : mapping of str to Recommender, optional
            Copies of the base models already fitted on the events before ``cutoff`` (e.g. by
            the tuning); the hybrid then fits no copies itself.
        cutoff : int, optional
            Time (seconds) of the cut; required with ``early_models``, default from
            ``valid_fraction`` / ``valid_days``.
        ranker_configs : sequence of dict, optional
            LightGBM settings to try (``n_estimators``, ``learning_rate``, ``num_leaves``,
            ``min_child_samples``, ``colsample_bytree``, ``reg_lambda``) on the same
            candidates; the one with the best NDCG@10 of the held-out training users is kept
            (its settings are set on the hybrid). Results in ``ranker_trials_``.

        Raises
        ------
        DataError
            Wrong types, no base model, settings out of range, or too little data after the
            time cut to train the ranker.
        """
        check_interactions(interactions, type(self).__name__)
        self._check_settings()
        if models is None:
            models = default_models(interactions.n_items, self.random_state)
        if not isinstance(models, Mapping) or not models:
            raise DataError("HybridRanker.fit needs models: a dict name -> Recommender, got "
                            f"{type(models).__name__}")
        for name, m in models.items():
            if not isinstance(m, Recommender) or isinstance(m, HybridRanker):
                raise DataError(f"model {name!r} must be a base Recommender, "
                                f"got {type(m).__name__}")
        if catalogue is not None and (not isinstance(catalogue, pd.DataFrame)
                                      or "item_id" not in catalogue.columns):
            raise DataError("catalogue must be a DataFrame with an item_id column")
        rng = np.random.default_rng(self.random_state)
        t0 = time.perf_counter()
        if self.holdout == "last":
            if early_models is not None or cutoff is not None:
                raise DataError("early_models and cutoff need holdout='time'")
            cutoff = -1
            later_mask = last_event_mask(interactions)
            early = interactions.subset(~later_mask)
            where = "each user's last event held out"
        else:
            if early_models is not None and cutoff is None:
                raise DataError("early_models needs the cutoff they were fitted before")
            cutoff = self._cutoff(interactions) if cutoff is None else int(cutoff)
            early = interactions.subset(interactions.ts < cutoff)
            later_mask = (interactions.ts >= cutoff) & (interactions.weights > 0)
            where = f"time cut at {pd.Timestamp(cutoff, unit='s')}"
        if not (early.weights > 0).any() or not later_mask.any():
            raise DataError(
                f"HybridRanker needs events on both sides of its holdout ({where}): "
                f"{int((early.weights > 0).sum())} before, {int(later_mask.sum())} after; "
                "give more history or change valid_fraction"
            )
        embeddings: dict[str, np.ndarray] = dict(item_embeddings or {})
        fitted: dict[str, Recommender] = {}
        skipped: dict[str, str] = {}
        times: dict[str, float] = {}
        for name, proto in models.items():
            if early_models is not None:
                if name in early_models:
                    fitted[name] = early_models[name]
                else:
                    skipped[name] = "no fitted copy before the cut was given"
                continue
            t = time.perf_counter()
            copy = clone_model(proto)
            if "random_state" in copy.get_params() and copy.random_state is None:
                copy.set_params(random_state=int(rng.integers(2**31 - 1)))
            try:
                fitted[name] = _fit_model(copy, early, catalogue, embeddings, name)
            except (DataError, TooLargeError) as exc:
                skipped[name] = str(exc)[:300]
                warnings.warn(f"HybridRanker leaves out {name!r}: {exc}", stacklevel=2)
            times[f"fit_early_{name}"] = time.perf_counter() - t
            self._log(f"fitted {name} on the earlier events in {times[f'fit_early_{name}']:.1f} s")
        if not fitted:
            raise DataError(f"no base model could be fitted: {skipped}")
        self.model_names_ = list(fitted)
        self.feature_names_ = feature_names(self.model_names_)
        self.skipped_ = skipped
        self.cutoff_ = int(cutoff)

        # training candidates: users with history before and new items after the cut
        seen_early = early.seen()
        lu, li = interactions.users[later_mask], interactions.items[later_mask]
        new = np.asarray(seen_early[lu, li]).ravel() == 0
        lu, li = lu[new], li[new]
        has_hist = np.diff(seen_early.indptr) > 0
        users = np.unique(lu[has_hist[lu]])
        if len(users) == 0:
            raise DataError("no user has both events before the time cut and new items after "
                            "it; the ranker cannot be trained")
        if len(users) > int(self.max_train_users):
            users = np.sort(rng.choice(users, int(self.max_train_users), replace=False))
        labels = sp.csr_matrix((np.ones(len(lu), np.float32), (lu, li)),
                               shape=(interactions.n_users, interactions.n_items))
        labels.data[:] = 1.0
        ctx = item_context(early, catalogue, float(self.recent_days))
        t = time.perf_counter()
        x, y, groups, recall = self._training_rows(fitted, early, seen_early, ctx, users,
                                                   labels)
        times["candidates"] = time.perf_counter() - t
        self._log(f"{len(groups)} users, {len(y)} candidate pairs, candidate recall "
                  f"{recall:.3f} ({times['candidates']:.1f} s)")
        if len(groups) == 0:
            raise DataError("no training user had a relevant item among the candidates; "
                            "raise n_candidates or give more data")
        t = time.perf_counter()
        self._train_ranker(x, y, groups, rng, ranker_configs)
        times["ranker"] = time.perf_counter() - t
        self._log(f"trained the ranker in {times['ranker']:.1f} s ({self.n_trees_} trees)")
        self.train_stats_ = {"users": int(len(groups)), "pairs": int(len(y)),
                             "positives": int(y.sum()), "candidate_recall": float(recall),
                             "seconds": {k: round(v, 3) for k, v in times.items()}}

        # serving: the base models on everything
        if self.refit:
            for name in self.model_names_:
                t = time.perf_counter()
                _fit_model(models[name], interactions, catalogue, embeddings, name)
                times[f"refit_{name}"] = time.perf_counter() - t
                self._log(f"refitted {name} on all events in {times[f'refit_{name}']:.1f} s")
        else:
            for name in self.model_names_:
                models[name]._check_fitted()
                if models[name].n_items_ != interactions.n_items:
                    raise DataError(f"model {name!r} was fitted on {models[name].n_items_} "
                                    f"items, the interactions have {interactions.n_items}")
        self.attach(models)
        self._set_serving_data(interactions, catalogue)
        self.train_stats_["seconds"] = {k: round(v, 3) for k, v in times.items()}
        self.train_stats_["total_seconds"] = round(time.perf_counter() - t0, 3)
        return self

    def refit_models(self, interactions: Interactions, catalogue: pd.DataFrame | None = None,
                     *, item_embeddings: Mapping[str, np.ndarray] | None = None
                     ) -> HybridRanker:
        """Refit the attached base models on ``interactions`` (e.g. all the data for serving,
        with a larger index) and keep the trained ranker; returns ``self``."""
        self._check_fitted()
        check_interactions(interactions, type(self).__name__)
        embeddings: dict[str, np.ndarray] = dict(item_embeddings or {})
        for name in self.model_names_:
            _fit_model(self._models[name], interactions, catalogue, embeddings, name)
        self._set_serving_data(interactions, catalogue)
        return self

    def attach(self, models: Mapping[str, Recommender]) -> None:
        """Give the hybrid its (fitted) base models, e.g. after loading; checks names and sizes.
        """
        missing = [n for n in getattr(self, "model_names_", []) if n not in models]
        if missing:
            raise RegistryError(f"the hybrid needs base models {missing}, which are missing "
                                f"(have {sorted(models)})")
        self._models = {n: models[n] for n in self.model_names_}

    # -- internals ------------------------------------------------------------------------
    def _log(self, msg: str) -> None:
        if self.verbose:
            print(f"[HybridRanker] {msg}", flush=True)

    def _check_settings(self) -> None:
        for name in ("n_candidates", "rank_depth", "max_train_users", "n_estimators",
                     "num_leaves", "min_child_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise DataError(f"{name} must be a positive integer, got {v!r}")
        if not 0 < float(self.valid_fraction) < 1:
            raise DataError(f"valid_fraction must be in (0, 1), got {self.valid_fraction!r}")
        if self.holdout not in ("time", "last"):
            raise DataError(f"holdout must be 'time' or 'last', got {self.holdout!r}")
        if self.valid_days is not None and not float(self.valid_days) > 0:
            raise DataError(f"valid_days must be > 0 or None, got {self.valid_days!r}")
        if not 0 <= float(self.early_stopping_fraction) < 1:
            raise DataError("early_stopping_fraction must be in [0, 1), got "
                            f"{self.early_stopping_fraction!r}")

    def _cutoff(self, interactions: Interactions) -> int:
        ts = interactions.ts[interactions.weights > 0]
        lo, hi = int(ts.min()), int(ts.max())
        if self.valid_days is not None:
            return int(hi - float(self.valid_days) * 86_400)
        return int(hi - float(self.valid_fraction) * (hi - lo))

    def _block_size(self, n_items: int) -> int:
        return int(max(16, min(1024, 20_000_000 // max(n_items * max(len(self.model_names_),
                                                                      1), 1))))

    def _model_scores(self, models: Mapping[str, Recommender], users: np.ndarray,
                      exclude: np.ndarray | None) -> list[np.ndarray]:
        out = []
        for name in self.model_names_:
            s = models[name].score(users).astype(np.float32, copy=False)
            if exclude is not None:
                s = np.where(exclude, -np.inf, s).astype(np.float32)
            out.append(s)
        return out

    def _training_rows(self, models: Mapping[str, Recommender], early: Interactions,
                       seen_early: sp.csr_matrix, ctx: ItemContext, users: np.ndarray,
                       labels: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        xs, ys, groups = [], [], []
        found = total = 0
        matrix = early.matrix()
        last_ts, n_events = user_summary(early)
        step = self._block_size(early.n_items)
        for start in range(0, len(users), step):
            batch = users[start:start + step]
            exclude = seen_early[batch].toarray() > 0
            scores = self._model_scores(models, batch, exclude)
            block = user_block(matrix, last_ts, n_events, batch)
            pu, pi, x, _ = candidate_features(scores, block, ctx, int(self.n_candidates),
                                              int(self.rank_depth))
            y = np.asarray(labels[batch[pu], pi]).ravel().astype(np.float32)
            total += int(labels[batch].sum())
            found += int(y.sum())
            counts = np.bincount(pu, minlength=len(batch))
            pos = np.bincount(pu, weights=y, minlength=len(batch))
            keep_user = pos > 0
            keep = keep_user[pu]
            xs.append(x[keep])
            ys.append(y[keep])
            groups.append(counts[keep_user])
        recall = found / total if total else 0.0
        return (np.vstack(xs), np.concatenate(ys), np.concatenate(groups).astype(np.int64),
                recall)

    def _lgbm(self, seed: int, n_estimators: int | None = None):
        import lightgbm as lgb

        return lgb.LGBMRanker(
            objective="lambdarank", n_estimators=int(n_estimators or self.n_estimators),
            learning_rate=float(self.learning_rate), num_leaves=int(self.num_leaves),
            min_child_samples=int(self.min_child_samples),
            colsample_bytree=float(self.colsample_bytree), reg_lambda=float(self.reg_lambda),
            subsample=1.0, random_state=seed, n_jobs=int(self.n_jobs), verbose=-1,
            lambdarank_truncation_level=20, deterministic=True, force_row_wise=True,
        )

    def _train_ranker(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                      rng: np.random.Generator,
                      configs: Sequence[Mapping[str, Any]] | None = None) -> None:
        import lightgbm as lgb

        seed = int(rng.integers(2**31 - 1))
        n_groups = len(groups)
        n_hold = int(round(float(self.early_stopping_fraction) * n_groups))
        names = self.feature_names_
        holdout = n_hold >= 10 and n_groups - n_hold >= 10
        if holdout:
            hold = np.zeros(n_groups, dtype=bool)
            hold[rng.choice(n_groups, n_hold, replace=False)] = True
            row_hold = np.repeat(hold, groups)
            fit_x = pd.DataFrame(x[~row_hold], columns=names)
            eval_x = pd.DataFrame(x[row_hold], columns=names)
        trials = []
        best = None
        for extra in (configs or [{}]):
            bad = sorted(set(extra) - set(_RANKER_PARAMS))
            if bad:
                raise DataError(f"ranker_configs may set {list(_RANKER_PARAMS)}, got {bad}")
            original = {k: getattr(self, k) for k in extra}
            self.set_params(**extra)
            ranker = self._lgbm(seed)
            self.set_params(**original)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                if holdout:
                    ranker.fit(fit_x, y[~row_hold], group=groups[~hold],
                               eval_X=(eval_x,), eval_y=(y[row_hold],), eval_group=[groups[hold]],
                               eval_at=[10], callbacks=[lgb.early_stopping(30, verbose=False)])
                    n_trees = int(ranker.best_iteration_ or ranker.n_estimators)
                    score = float(ranker.best_score_["valid_0"]["ndcg@10"])
                else:
                    ranker.fit(pd.DataFrame(x, columns=names), y, group=groups)
                    n_trees, score = int(ranker.n_estimators), float("nan")
            trials.append({"params": dict(extra), "ndcg@10": score, "trees": n_trees})
            self._log(f"ranker {extra or '(given settings)'}: held-out NDCG@10 {score:.4f}")
            if best is None or score > best[0]:
                best = (score, extra, ranker, n_trees)
        _, extra, ranker, n_trees = best
        self.set_params(**extra)
        self.ranker_trials_ = trials
        self.n_trees_ = n_trees
        self.ranker_model_ = ranker.booster_.model_to_string(num_iteration=n_trees)
        self._booster = lgb.Booster(model_str=self.ranker_model_)
        self.holdout_ndcg_: dict[str, float] = {}
        if holdout:  # the ranker against each base model's own order, same users and metric
            cols = {m: eval_x[f"{m}_z"].to_numpy() for m in self.model_names_}
            cols["ranker"] = self._booster.predict(eval_x.to_numpy(), num_threads=int(self.n_jobs))
            self.holdout_ndcg_ = {k: ev.grouped_ndcg(v, y[row_hold], groups[hold])
                                  for k, v in cols.items()}
            self._log(f"held-out NDCG@10: {self.holdout_ndcg_}")
        gain = self._booster.feature_importance(importance_type="gain")
        self.feature_importance_ = (gain / max(gain.sum(), 1e-12)).astype(np.float64)

    def _set_serving_data(self, interactions: Interactions,
                          catalogue: pd.DataFrame | None) -> None:
        self._fit_base(interactions)
        self._set_context(item_context(interactions, catalogue, float(self.recent_days)))
        self.user_last_ts_, self.user_events_ = user_summary(interactions)

    def _set_context(self, ctx: ItemContext) -> None:
        for key, value in ctx.arrays().items():
            setattr(self, f"{key}_", value)
        self.now_ = int(ctx.now)

    def _context(self) -> ItemContext:
        arrays = {k[:-1]: getattr(self, k) for k in vars(self)
                  if k.startswith("ctx_") and k.endswith("_")}
        return ItemContext.from_arrays(arrays, self.now_)

    def _models_ready(self) -> Mapping[str, Recommender]:
        models = getattr(self, "_models", None)
        if models is None:
            raise RegistryError("this HybridRanker has no base models attached; call "
                                "attach(models) (load_bundle does it)")
        return models

    def _block(self, users: np.ndarray) -> UserBlock:
        return user_block(self.seen_, self.user_last_ts_, self.user_events_, users)

    def _rank_scores(self, scores: list[np.ndarray | None], block: UserBlock,
                     exclude: np.ndarray | None, adjust: np.ndarray | None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Dense hybrid scores (n, n_items) and the source model of each candidate (-1 else)."""
        ctx = self._context()
        n = block.rows.shape[0]
        pu, pi, x, source = candidate_features(scores, block, ctx, int(self.n_candidates),
                                               int(self.rank_depth))
        out = np.broadcast_to(_FLOOR + ctx.pop_pct.astype(np.float32),
                              (n, self.n_items_)).copy()
        src = np.full((n, self.n_items_), -1, dtype=np.int16)
        if len(pu):
            pred = self._booster.predict(x, num_threads=int(self.n_jobs))
            out[pu, pi] = pred.astype(np.float32)
            src[pu, pi] = source
        if adjust is not None:
            out = out + np.broadcast_to(adjust, out.shape).astype(np.float32)
        if exclude is not None:
            out[np.broadcast_to(exclude, out.shape)] = -np.inf
        return out, src

    def _split_filter(self, filter_items: np.ndarray | None, n: int
                      ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if filter_items is None:
            return None, None
        f = np.asarray(filter_items)
        if f.shape[-1] != self.n_items_ or f.ndim not in (1, 2) or (
                f.ndim == 2 and f.shape[0] != n):
            raise DataError(f"filter_items must have shape ({self.n_items_},) or "
                            f"({n}, {self.n_items_}); got {f.shape}")
        if f.dtype == bool:
            return f, None
        f = f.astype(np.float32)
        drop = ~np.isfinite(f) & (f < 0)
        return drop, np.where(np.isfinite(f), f, 0).astype(np.float32)

    # -- verbs ----------------------------------------------------------------------------
    def score(self, users: np.ndarray | int) -> np.ndarray:
        """Hybrid scores (len(users), n_items): ranker scores on candidates drawn from all
        items (seen ones included); other items get a floor ordered by popularity."""
        self._check_fitted()
        users = check_users(users)
        models = self._models_ready()
        out = np.empty((len(users), self.n_items_), dtype=np.float32)
        step = self._block_size(self.n_items_)
        for start in range(0, len(users), step):
            batch = users[start:start + step]
            scores = self._model_scores(models, batch, None)
            out[start:start + step] = self._rank_scores(scores, self._block(batch), None,
                                                        None)[0]
        return out

    def recommend(
        self,
        users: np.ndarray | int,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        filter_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items per user; see :meth:`recommend_with_sources`."""
        items, scores, _ = self.recommend_with_sources(users, k, exclude_seen=exclude_seen,
                                                       filter_items=filter_items)
        return items, scores

    def recommend_with_sources(
        self,
        users: np.ndarray | int,
        k: int = 10,
        *,
        exclude_seen: bool = True,
        filter_items: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-``k`` items per user, with the base model behind each.

        Excluded items (seen ones, ``filter_items`` masks) are removed before candidates are
        drawn, so the list stays full. Float ``filter_items`` (boost/bury) are added to the
        hybrid scores.

        Returns
        -------
        items : int64 (len(users), k), padded with -1
        scores : float32 (len(users), k), padded with -inf
        sources : int16 (len(users), k)
            Index into ``model_names_`` of the model that ranked each item best; -1 for an
            item that no model proposed (popularity filler) and for padding.
        """
        self._check_fitted()
        users = check_users(users)
        k = _check_k(k)
        models = self._models_ready()
        drop, adjust = self._split_filter(filter_items, len(users))
        items_out = np.full((len(users), k), -1, dtype=np.int64)
        scores_out = np.full((len(users), k), -np.inf, dtype=np.float32)
        src_out = np.full((len(users), k), -1, dtype=np.int16)
        step = self._block_size(self.n_items_)
        for start in range(0, len(users), step):
            sl = slice(start, start + step)
            batch = users[sl]
            exclude = np.zeros((len(batch), self.n_items_), dtype=bool)
            if exclude_seen:
                known = np.flatnonzero(batch < self.n_users_)
                if len(known):
                    exclude[known] = self.seen_[batch[known]].toarray() > 0
            if drop is not None:
                exclude |= drop if drop.ndim == 1 else drop[sl]
            adj = None if adjust is None else (adjust if adjust.ndim == 1 else adjust[sl])
            scores = self._model_scores(models, batch, exclude)
            hybrid, src = self._rank_scores(scores, self._block(batch), exclude, adj)
            items_out[sl], scores_out[sl] = top_k(hybrid, k)
            rows = np.arange(len(batch))[:, None]
            got = np.where(items_out[sl] >= 0, items_out[sl], 0)
            src_out[sl] = np.where(items_out[sl] >= 0, src[rows, got], -1)
        return items_out, scores_out, src_out

    def rerank(
        self,
        model_scores: Mapping[str, np.ndarray],
        *,
        user_features: Mapping[str, float] | None = None,
        k: int = 10,
        exclude: np.ndarray | None = None,
        filter_items: np.ndarray | None = None,
        history: Sequence[int] | np.ndarray | None = None,
        history_weights: Sequence[float] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Re-rank live scores of ONE user (the serving entry point).

        Parameters
        ----------
        model_scores : mapping of str to float array (n_items,)
            Each base model's scores for the user (e.g. after folding in live events, see
            :func:`history_scores`). Models not given count as missing features.
        user_features : mapping, optional
            Overrides of ``log_events``, ``log_items``, ``user_idle_days`` (else computed
            from ``history``).
        k : int
            Items returned.
        exclude : int array of item indices or bool mask (n_items,), optional
            Items never returned (already bought, in the cart, ...).
        filter_items : bool or float array (n_items,), optional
            As in :meth:`recommend` (True drops; floats are added, -inf drops).
        history, history_weights : optional
            The user's items (oldest first) and their event weights, for the category, brand
            and price features.

        Returns
        -------
        items : int64 (k,), padded with -1
        scores : float32 (k,), padded with -inf
        sources : int16 (k,)
            Index into ``model_names_`` of the model behind each item (-1: none / padding).
        """
        self._check_fitted()
        k = _check_k(k)
        if not isinstance(model_scores, Mapping):
            raise DataError("model_scores must be a dict model name -> scores (n_items,)")
        unknown = sorted(set(model_scores) - set(self.model_names_))
        if unknown:
            raise DataError(f"model_scores has unknown model(s) {unknown}; the hybrid uses "
                            f"{self.model_names_}")
        excl = np.zeros((1, self.n_items_), dtype=bool)
        if exclude is not None:
            e = np.asarray(exclude)
            if e.dtype == bool:
                if e.shape != (self.n_items_,):
                    raise DataError(f"exclude mask must have shape ({self.n_items_},), "
                                    f"got {e.shape}")
                excl[0] = e
            else:
                excl[0, check_items(e, self.n_items_)] = True
        drop, adjust = self._split_filter(filter_items, 1)
        if drop is not None:
            excl |= drop.reshape(1, -1)
        scores: list[np.ndarray | None] = []
        for name in self.model_names_:
            s = model_scores.get(name)
            if s is None:
                scores.append(None)
                continue
            s = np.asarray(s, dtype=np.float32).reshape(1, -1)
            if s.shape[1] != self.n_items_:
                raise DataError(f"model_scores[{name!r}] has {s.shape[1]} items, expected "
                                f"{self.n_items_}")
            scores.append(np.where(excl, -np.inf, s).astype(np.float32))
        if all(s is None for s in scores):
            raise DataError("model_scores holds no model's scores")
        hist = np.zeros(0, np.int64) if history is None else np.asarray(history, np.int64)
        block = history_block(hist, history_weights, self.n_items_,
                              last_ts=self.now_ if len(hist) else -1)
        uf = dict(user_features or {})
        if "log_events" in uf:
            block.n_events = np.array([np.expm1(float(uf["log_events"]))])
        if "user_idle_days" in uf:
            block.last_ts = np.array([int(self.now_ - float(uf["user_idle_days"]) * 86_400)])
        hybrid, src = self._rank_scores(scores, block, excl, adjust)
        items, vals = top_k(hybrid, k)
        got = np.where(items[0] >= 0, items[0], 0)
        sources = np.where(items[0] >= 0, src[0, got], -1).astype(np.int16)
        return items[0], vals[0], sources

    def complete_basket(self, items: Sequence[int] | np.ndarray, k: int = 10
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` items that best complete a basket: the basket as a live history, its items
        excluded. Returns 1-D (items, scores, sources)."""
        self._check_fitted()
        basket = check_items(items, self.n_items_)
        if len(basket) == 0:
            raise DataError("complete_basket needs at least one item in the basket")
        scores = history_scores(self._models_ready(), basket)
        return self.rerank(scores, k=k, exclude=basket, history=basket)

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """For each item, the ``k`` items the hybrid ranks first after a history of just it."""
        self._check_fitted()
        items = check_items(items, self.n_items_)
        out_i = np.full((len(items), k), -1, dtype=np.int64)
        out_s = np.full((len(items), k), -np.inf, dtype=np.float32)
        models = self._models_ready()
        for r, item in enumerate(items):
            scores = history_scores(models, [int(item)])
            out_i[r], out_s[r], _ = self.rerank(scores, k=k, exclude=np.array([item]),
                                                history=[int(item)])
        return out_i, out_s

    # -- persistence -------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, values = super()._get_state()
        values.pop("ranker_model_", None)
        return arrays, values

    def save(self, path: str | Path) -> Path:
        """Write the ranker (LightGBM text model + arrays); base models are saved apart
        (see :func:`storemind.recommend.save_bundle`)."""
        folder = super().save(path)
        (folder / _RANKER_FILE).write_text(self.ranker_model_)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Estimator:
        """Read a saved ranker; :meth:`attach` its base models before asking it."""
        import lightgbm as lgb

        obj = super().load(path)
        try:
            text = (Path(path) / _RANKER_FILE).read_text()
        except FileNotFoundError:
            raise RegistryError(f"{path} has no {_RANKER_FILE}") from None
        obj.ranker_model_ = text
        obj._booster = lgb.Booster(model_str=text)
        return obj


def default_models(n_items: int, random_state: int | None = None,
                   fast: bool = True) -> dict[str, Recommender]:
    """The base models of a default hybrid: popularity, item-kNN, EASE (if the catalogue has
    at most 5,000 items), ALS, BPR and bought-together (SASRec and content are added by the
    pipeline when asked, they cost more)."""
    from storemind.recommend.als import ALS
    from storemind.recommend.bought_together import BoughtTogether
    from storemind.recommend.bpr import BPR
    from storemind.recommend.ease import EASE
    from storemind.recommend.itemknn import ItemKNN
    from storemind.recommend.popularity import Popularity

    threads = 1  # OpenMP threads spin badly on a shared machine
    models: dict[str, Recommender] = {
        "popularity": Popularity(half_life_days=14.0, random_state=random_state),
        "itemknn": ItemKNN(n_neighbors=100, similarity="bm25", shrinkage=0.0,
                           random_state=random_state),
    }
    if n_items <= 5_000:
        models["ease"] = EASE(l2=200.0, random_state=random_state)
    models["als"] = ALS(factors=64, iterations=10 if fast else 15, num_threads=threads,
                        random_state=random_state)
    models["bpr"] = BPR(factors=64, iterations=50 if fast else 100, random_state=random_state)
    models["bought_together"] = BoughtTogether(min_support=2, random_state=random_state)
    return models
