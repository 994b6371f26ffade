"""Candidates and their features for the hybrid re-ranker (private).

For a block of users, every base model's full score rows (seen and filtered items already set
to -inf) give each model's top ``n_candidates``; their union is the candidate set. Each
(user, candidate) pair gets:

- per model: the score standardised over the user's row (``z``), the gap to the user's best
  score in standard deviations (``gap``) and ``log1p(rank)`` (ranks beyond ``rank_depth`` are
  cut there);
- agreement: how many models have it in their top ``n_candidates``, its best rank;
- item: popularity percentile over the whole data and over the last ``recent_days``, trend,
  age and idle days, log price;
- user x item: share of the user's history in the item's category and brand, log price minus
  the user's mean log price;
- user: log events, log distinct items, days since the last event.

Standardised scores and ranks keep the features on one scale when the base models are refitted
on more data for serving.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storemind.recommend._base import Recommender
from storemind.recommend._interactions import Interactions

__all__ = ["ItemContext", "UserBlock", "item_context", "user_block", "candidate_features",
           "feature_names", "user_summary", "history_block", "history_scores"]

_DAY = 86_400.0
_ITEM_FEATURES = ("pop_pct", "recent_pct", "trend", "age_days", "idle_days", "log_price")
_USER_ITEM_FEATURES = ("category_share", "brand_share", "price_diff")
_USER_FEATURES = ("log_events", "log_items", "user_idle_days")
_AGREEMENT = ("n_models", "best_rank")


@dataclass
class ItemContext:
    """Per-item arrays the features read (all length n_items)."""

    pop_pct: np.ndarray
    recent_pct: np.ndarray
    trend: np.ndarray
    age_days: np.ndarray
    idle_days: np.ndarray
    log_price: np.ndarray
    category: np.ndarray  # int32 code, -1 unknown
    brand: np.ndarray  # int32 code, -1 unknown
    now: int

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"ctx_{k}": getattr(self, k) for k in
                ("pop_pct", "recent_pct", "trend", "age_days", "idle_days", "log_price",
                 "category", "brand")}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], now: int) -> ItemContext:
        return cls(**{k[4:]: v for k, v in arrays.items() if k.startswith("ctx_")}, now=now)


@dataclass
class UserBlock:
    """History summaries of a block of users."""

    rows: sp.csr_matrix  # (n, n_items) weights, positive only
    last_ts: np.ndarray  # (n,) int64, -1 for no history
    n_events: np.ndarray  # (n,) float


def _percentile(values: np.ndarray) -> np.ndarray:
    """Rank percentile in [0, 1], ties share the mean rank; zeros stay at 0."""
    out = np.zeros(len(values), dtype=np.float32)
    pos = values > 0
    if pos.any():
        ranks = pd.Series(values[pos]).rank(method="average").to_numpy()
        out[pos] = (ranks / pos.sum()).astype(np.float32)
    return out


def _codes(item_ids: np.ndarray, catalogue: pd.DataFrame | None, column: str) -> np.ndarray:
    if catalogue is None or column not in catalogue.columns or "item_id" not in catalogue:
        return np.full(len(item_ids), -1, dtype=np.int32)
    dedup = catalogue.drop_duplicates("item_id", keep="last")
    series = pd.Series(dedup[column].to_numpy(), index=dedup["item_id"].astype(str).to_numpy())
    aligned = series.reindex(np.asarray(item_ids, dtype=str))
    codes, _ = pd.factorize(aligned.astype("string"), use_na_sentinel=True)
    return codes.astype(np.int32)


def item_context(interactions: Interactions, catalogue: pd.DataFrame | None,
                 recent_days: float = 7.0) -> ItemContext:
    """Item arrays from the (training) interactions and the catalogue."""
    n = interactions.n_items
    pos = interactions.weights > 0
    items, users, ts = interactions.items[pos], interactions.users[pos], interactions.ts[pos]
    now = int(ts.max()) if len(ts) else 0
    width = max(n, 1)
    pairs = np.unique(users.astype(np.int64) * width + items)
    pop = np.bincount(pairs % width, minlength=n).astype(np.float64)
    recent = ts >= now - recent_days * _DAY
    rpairs = np.unique(users[recent].astype(np.int64) * width + items[recent])
    rpop = np.bincount(rpairs % width, minlength=n).astype(np.float64)
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    if len(items):
        first_ts = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(first_ts, items, ts)
        last_ts = np.full(n, np.iinfo(np.int64).min)
        np.maximum.at(last_ts, items, ts)
        has = pop > 0
        first[has] = (now - first_ts[has]) / _DAY
        last[has] = (now - last_ts[has]) / _DAY
    span_days = max((now - int(ts.min())) / _DAY, 1.0) if len(ts) else 1.0
    share_recent = min(recent_days / span_days, 1.0)
    trend = np.where(pop > 0, rpop / np.maximum(pop, 1.0) / share_recent, 0.0)
    price = np.full(n, np.nan)
    if catalogue is not None and "price" in catalogue.columns and "item_id" in catalogue:
        dedup = catalogue.drop_duplicates("item_id", keep="last")
        series = pd.Series(pd.to_numeric(dedup["price"], errors="coerce").to_numpy(),
                           index=dedup["item_id"].astype(str).to_numpy())
        price = series.reindex(np.asarray(interactions.item_ids, dtype=str)).to_numpy(float)
    log_price = np.log1p(np.clip(price, 0, None))
    return ItemContext(
        pop_pct=_percentile(pop), recent_pct=_percentile(rpop),
        trend=trend.astype(np.float32), age_days=first.astype(np.float32),
        idle_days=last.astype(np.float32), log_price=log_price.astype(np.float32),
        category=_codes(interactions.item_ids, catalogue, "category"),
        brand=_codes(interactions.item_ids, catalogue, "brand"), now=now,
    )


def user_summary(interactions: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Per user: time of the last weighted event (-1 if none) and the number of such events."""
    last = np.full(interactions.n_users, -1, dtype=np.int64)
    cnt = np.zeros(interactions.n_users, dtype=np.float64)
    pos = interactions.weights > 0
    if pos.any():
        np.maximum.at(last, interactions.users[pos], interactions.ts[pos])
        cnt = np.bincount(interactions.users[pos], minlength=interactions.n_users).astype(
            np.float64)
    return last, cnt


def user_block(matrix: sp.csr_matrix, last_ts: np.ndarray, n_events: np.ndarray,
               users: np.ndarray) -> UserBlock:
    """History of ``users`` (indices; beyond the matrix's rows = empty history).

    ``matrix`` is the user x item weight matrix, ``last_ts`` and ``n_events`` come from
    :func:`user_summary`.
    """
    users = np.asarray(users, dtype=np.int64)
    n_users = matrix.shape[0]
    known = users < n_users
    safe = np.where(known, users, 0)
    rows = sp.csr_matrix(matrix[safe], dtype=np.float32)
    if (~known).any():
        rows = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ rows)
    rows.data = np.clip(rows.data, 0, None)
    rows.eliminate_zeros()
    return UserBlock(rows=rows, last_ts=np.where(known, last_ts[safe], -1),
                     n_events=np.where(known, n_events[safe], 0.0))


def history_block(items: np.ndarray, weights: np.ndarray | None, n_items: int,
                  last_ts: int = -1) -> UserBlock:
    """A one-user block from a live history (item indices, optional weights)."""
    items = np.asarray(items, dtype=np.int64)
    items = items[(items >= 0) & (items < n_items)]
    w = np.ones(len(items), np.float32) if weights is None else np.asarray(weights, np.float32)
    if weights is not None:
        w = w[: len(items)]
    row = sp.csr_matrix((w, (np.zeros(len(items), dtype=np.int64), items)),
                        shape=(1, n_items), dtype=np.float32)
    row.sum_duplicates()
    row.data = np.clip(row.data, 0, None)
    row.eliminate_zeros()
    return UserBlock(rows=row, last_ts=np.array([last_ts], dtype=np.int64),
                     n_events=np.array([float(len(items))]))


def feature_names(model_names: list[str]) -> list[str]:
    """Column names of the feature matrix, in order."""
    per_model = [f"{m}_{f}" for m in model_names for f in ("z", "gap", "log_rank")]
    return [*per_model, *_AGREEMENT, *_ITEM_FEATURES, *_USER_ITEM_FEATURES, *_USER_FEATURES]


def _share(rows: sp.csr_matrix, codes: np.ndarray, pu: np.ndarray,
           pi: np.ndarray) -> np.ndarray:
    """For each pair, the share of the user's history weight in the item's group."""
    out = np.zeros(len(pu), dtype=np.float32)
    valid = codes >= 0
    if not valid.any() or rows.nnz == 0:
        return out
    n_codes = int(codes.max()) + 1
    onehot = sp.csr_matrix((np.ones(int(valid.sum()), np.float32),
                            (np.flatnonzero(valid), codes[valid])),
                           shape=(len(codes), n_codes))
    per = sp.csr_matrix(rows @ onehot)
    total = np.asarray(rows.sum(axis=1)).ravel()
    c = codes[pi]
    ok = c >= 0
    if ok.any():
        vals = np.asarray(per[pu[ok], c[ok]]).ravel()
        out[ok] = vals / np.maximum(total[pu[ok]], 1e-9)
    return out


def candidate_features(
    scores: list[np.ndarray | None],
    block: UserBlock,
    ctx: ItemContext,
    n_candidates: int,
    rank_depth: int,
    add_all: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidates and features of a block of users.

    Parameters
    ----------
    scores : list of (n, n_items) float arrays or None
        Each model's scores (excluded items -inf); None for a model without scores here.
    block : UserBlock
        The users' histories.
    ctx : ItemContext
        Item arrays.
    n_candidates : int
        Top items taken from each model.
    rank_depth : int
        Ranks are computed exactly up to here and cut there.
    add_all : bool (n, n_items), optional
        Extra candidates (e.g. the labels' items when measuring recall; not used in serving).

    Returns
    -------
    pu, pi : int64 arrays
        Row in the block and item of each candidate pair (sorted by row).
    x : float32 (n_pairs, n_features)
    source : int16 array
        Index of the model ranking each pair best (the one that contributed it).
    """
    present = [s for s in scores if s is not None]
    n, n_items = present[0].shape
    depth = int(min(max(rank_depth, n_candidates), n_items))
    cand = np.zeros((n, n_items), dtype=bool)
    ranks, stats = [], []
    for s in scores:
        if s is None:
            ranks.append(None)
            stats.append(None)
            continue
        finite = np.isfinite(s)
        safe = np.where(finite, s, np.nan)
        with np.errstate(all="ignore"):
            mean = np.nanmean(safe, axis=1)
            std = np.nanstd(safe, axis=1)
            top = np.nanmax(np.where(finite, s, -np.inf), axis=1)
        std = np.where(std > 0, std, 1.0)
        part = np.argpartition(-np.where(finite, s, -np.inf), depth - 1, axis=1)[:, :depth]
        vals = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        part = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        rank = np.full((n, n_items), depth + 1, dtype=np.int32)
        rows = np.repeat(np.arange(n), depth)
        ok = np.isfinite(vals).ravel()
        rank[rows[ok], part.ravel()[ok]] = np.tile(np.arange(1, depth + 1), n)[ok]
        take = min(n_candidates, depth)
        sel = np.isfinite(vals[:, :take])
        r_idx = np.repeat(np.arange(n), take).reshape(n, take)
        cand[r_idx[sel], part[:, :take][sel]] = True
        ranks.append(rank)
        stats.append((mean, std, top))
    if add_all is not None:
        cand |= add_all
    pu, pi = np.nonzero(cand)
    pu, pi = pu.astype(np.int64), pi.astype(np.int64)
    cols = []
    rank_stack = []
    for s, rank, st in zip(scores, ranks, stats, strict=True):
        if s is None:
            nan = np.full(len(pu), np.nan, dtype=np.float32)
            cols += [nan, nan, nan]
            rank_stack.append(np.full(len(pu), depth + 1, dtype=np.int32))
            continue
        mean, std, top = st
        v = s[pu, pi].astype(np.float64)
        v = np.where(np.isfinite(v), v, np.nan)
        cols.append(((v - mean[pu]) / std[pu]).astype(np.float32))
        cols.append(((top[pu] - v) / std[pu]).astype(np.float32))
        r = rank[pu, pi]
        rank_stack.append(r)
        cols.append(np.log1p(r).astype(np.float32))
    rk = np.vstack(rank_stack) if rank_stack else np.zeros((1, len(pu)), np.int32)
    cols.append((rk <= n_candidates).sum(axis=0).astype(np.float32))
    cols.append(np.log1p(rk.min(axis=0)).astype(np.float32))
    source = rk.argmin(axis=0).astype(np.int16)
    for name in _ITEM_FEATURES:
        cols.append(getattr(ctx, name)[pi].astype(np.float32))
    cols.append(_share(block.rows, ctx.category, pu, pi))
    cols.append(_share(block.rows, ctx.brand, pu, pi))
    rows = block.rows
    lp = np.nan_to_num(ctx.log_price, nan=0.0)
    has_price = (~np.isnan(ctx.log_price)).astype(np.float32)
    num = np.asarray(rows @ lp).ravel()
    den = np.asarray(rows @ has_price).ravel()
    with np.errstate(all="ignore"):
        user_price = np.where(den > 0, num / np.maximum(den, 1e-9), np.nan)
    cols.append((ctx.log_price[pi] - user_price[pu]).astype(np.float32))
    n_items_user = np.diff(rows.indptr).astype(np.float64)
    cols.append(np.log1p(block.n_events)[pu].astype(np.float32))
    cols.append(np.log1p(n_items_user)[pu].astype(np.float32))
    idle = np.where(block.last_ts >= 0, (ctx.now - block.last_ts) / _DAY, np.nan)
    cols.append(idle[pu].astype(np.float32))
    x = np.column_stack(cols).astype(np.float32) if len(pu) else np.zeros(
        (0, len(cols)), np.float32)
    return pu, pi, x, source


def history_scores(models: Mapping[str, Recommender], history: Sequence[int] | np.ndarray,
                   weights: Sequence[float] | np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each model's scores (n_items,) for a live history (item indices, oldest first).

    Uses each model's no-refit entry point: ``score_history`` (ItemKNN, EASE),
    ``recalculate_user`` + ``score_factors`` (ALS, BPR), ``score_sequences`` (SASRec, content),
    the rules from the history (bought together) and the item scores (popularity). A model
    without any of these is left out.
    """
    hist = np.asarray(history, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for name, model in models.items():
        n = model.n_items_
        h = hist[(hist >= 0) & (hist < n)]
        w = (np.ones(len(h), np.float32) if weights is None
             else np.asarray(weights, np.float32)[(hist >= 0) & (hist < n)])
        row = sp.csr_matrix((w, (np.zeros(len(h), dtype=np.int64), h)), shape=(1, n),
                            dtype=np.float32)
        row.sum_duplicates()
        if hasattr(model, "item_scores_"):
            out[name] = np.asarray(model.item_scores_, dtype=np.float32).copy()
        elif hasattr(model, "rules_"):
            out[name] = np.asarray((row.sign() @ model.rules_).todense(),
                                   dtype=np.float32).ravel()
        elif hasattr(model, "score_history"):
            out[name] = np.asarray(model.score_history(row), dtype=np.float32).ravel()
        elif hasattr(model, "recalculate_user"):
            if len(h) == 0:
                out[name] = np.asarray(model.popularity_, dtype=np.float32).copy()
            else:
                out[name] = model.score_factors(model.recalculate_user(row)).ravel()
        elif hasattr(model, "score_sequences"):
            out[name] = np.asarray(model.score_sequences([h]), dtype=np.float32).ravel()
    return out
