"""Top-k ranking metrics for full-ranking evaluation of recommenders.

Every metric takes the top-k lists a model produced over the whole catalogue (never sampled
negatives):

* ``recommended``: 2-D integer array of shape (n_users, >= k), row u holding user u's item
  indices best first; ``-1`` is padding (a slot with no item, never a hit).
* ``relevant``: a sequence of length n_users of 1-D integer arrays (user u's held-out relevant
  items; order and duplicates do not matter), or a scipy sparse matrix of shape
  (n_users, n_items) whose non-zero entries mark the relevant items.

Relevance is binary. Accuracy metrics return the mean over the users that have at least one
relevant item (the others are skipped), or with ``per_user=True`` an array of length n_users
holding NaN for skipped users. Everything is vectorised: one sort of the (user, item) keys, no
Python loop over users.
"""
from __future__ import annotations

from typing import Any, Literal

import numpy as np

from storemind.errors import DataError

__all__ = [
    "ndcg_at_k",
    "ndcg_from_ranks",
    "recall_at_k",
    "precision_at_k",
    "hit_rate_at_k",
    "mrr_at_k",
    "map_at_k",
    "catalogue_coverage",
    "popularity_bias",
    "grouped_ndcg",
]


# ----------------------------------------------------------------------------- input checks
def _top_k(recommended: Any, k: int) -> np.ndarray:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise DataError(f"k: expected an integer >= 1, got {k!r}")
    rec = np.asarray(recommended)
    if rec.ndim != 2:
        raise DataError(
            f"recommended: expected a 2-D array (n_users, >= k) of item indices, "
            f"got shape {rec.shape}"
        )
    if rec.size and rec.dtype.kind not in "iu":
        if rec.dtype.kind == "f" and np.all(np.isfinite(rec)) and np.all(rec == np.round(rec)):
            rec = rec.astype(np.int64)
        else:
            raise DataError(f"recommended: expected integer item indices, got dtype {rec.dtype}")
    if rec.shape[1] < k:
        raise DataError(
            f"recommended: expected at least k={k} columns, got shape {rec.shape}; "
            "pad short lists with -1"
        )
    top = rec[:, :k].astype(np.int64, copy=False)
    if (top < -1).any():
        row, col = np.argwhere(top < -1)[0]
        raise DataError(
            f"recommended: expected item indices >= 0 or -1 for padding, got {top[row, col]} "
            f"at row {row}, column {col}"
        )
    _check_no_repeats(top)
    return top


def _check_no_repeats(top: np.ndarray) -> None:
    if top.shape[1] < 2:
        return
    s = np.sort(top, axis=1)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if dup.any():
        row, col = np.argwhere(dup)[0]
        raise DataError(
            f"recommended: expected distinct items in each top-k list, got item "
            f"{s[row, col + 1]} twice in row {row}"
        )


def _relevant_flat(relevant: Any, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(user index, item index) of every relevant pair, duplicates removed."""
    if hasattr(relevant, "tocsr") and hasattr(relevant, "shape"):  # scipy sparse
        mat = relevant.tocsr()
        mat.eliminate_zeros()
        if mat.shape[0] != n_users:
            raise DataError(
                f"relevant: expected {n_users} rows (one per row of recommended), "
                f"got shape {mat.shape}"
            )
        users = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(mat.indptr))
        items = mat.indices.astype(np.int64)
    else:
        if isinstance(relevant, str | bytes) or not hasattr(relevant, "__len__"):
            raise DataError(
                f"relevant: expected a sequence of 1-D integer arrays, one per user, "
                f"got {type(relevant).__name__}"
            )
        if len(relevant) != n_users:
            raise DataError(
                f"relevant: expected {n_users} entries (one per row of recommended), "
                f"got {len(relevant)}"
            )
        arrays = [np.asarray(r).reshape(-1) for r in relevant]
        lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=n_users)
        items = np.concatenate(arrays) if arrays else np.zeros(0)
        if items.size and items.dtype.kind not in "iu":
            if items.dtype.kind == "f" and np.all(items == np.round(items)):
                items = items.astype(np.int64)
            else:
                raise DataError(f"relevant: expected integer item indices, got {items.dtype}")
        items = items.astype(np.int64, copy=False)
        users = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    if (items < 0).any():
        pos = int(np.flatnonzero(items < 0)[0])
        raise DataError(
            f"relevant: expected item indices >= 0, got {items[pos]} for user {users[pos]}"
        )
    return users, items


def _hits(recommended: Any, relevant: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean (n_users, k) hit matrix and the number of relevant items per user."""
    top = _top_k(recommended, k)
    n_users = top.shape[0]
    users, items = _relevant_flat(relevant, n_users)
    width = int(max(items.max(initial=-1), top.max(initial=-1))) + 1
    keys = np.sort(users * width + items)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if keys.size else keys
    n_relevant = np.bincount(keys // max(width, 1), minlength=n_users)[:n_users]
    if keys.size == 0:
        return np.zeros(top.shape, dtype=bool), n_relevant
    rec_keys = np.arange(n_users, dtype=np.int64)[:, None] * width + top
    pos = np.searchsorted(keys, rec_keys)
    hits = (keys[np.minimum(pos, keys.size - 1)] == rec_keys) & (top >= 0)
    return hits, n_relevant


def _reduce(
    values: np.ndarray, n_relevant: np.ndarray, per_user: bool, metric: str
) -> float | np.ndarray:
    evaluable = n_relevant > 0
    if per_user:
        out = values.astype(np.float64)
        out[~evaluable] = np.nan
        return out
    if not evaluable.any():
        raise DataError(
            f"{metric}: no user has a relevant item, so the mean is undefined "
            f"({len(n_relevant)} users given)"
        )
    return float(values[evaluable].mean())


_DISCOUNT_CACHE: dict[int, np.ndarray] = {}


def _discounts(k: int) -> np.ndarray:
    if k not in _DISCOUNT_CACHE:
        _DISCOUNT_CACHE[k] = 1.0 / np.log2(np.arange(2, k + 2))
    return _DISCOUNT_CACHE[k]


# ----------------------------------------------------------------------------- accuracy
def ndcg_at_k(
    recommended: Any, relevant: Any, k: int, per_user: bool = False
) -> float | np.ndarray:
    """Normalised discounted cumulative gain at k with binary relevance.

    ``DCG@k = sum_{j=1..k} rel_j / log2(j + 1)`` and ``NDCG@k = DCG@k / IDCG@k`` where the ideal
    ``IDCG@k = sum_{j=1..min(|R|, k)} 1 / log2(j + 1)`` puts all relevant items first. Equals
    scikit-learn's ``ndcg_score(..., k=k)`` on binary relevance with untied scores.

    Parameters
    ----------
    recommended : array-like of int, shape (n_users, >= k)
        Top lists, best first; -1 is padding.
    relevant : sequence of 1-D int arrays, or scipy sparse matrix (n_users, n_items)
        Relevant items per user.
    k : int
        Cut-off.
    per_user : bool, default False
        Return one value per user (NaN where the user has no relevant item).

    Returns
    -------
    float or ndarray
        Mean NDCG@k in [0, 1] over users with relevant items, or per-user values.
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _ndcg(hits @ _discounts(k), n_rel, k, per_user, "ndcg_at_k")


def ndcg_from_ranks(
    ranks: Any, users: Any, n_users: int, k: int, per_user: bool = False
) -> float | np.ndarray:
    """:func:`ndcg_at_k` read from where each relevant item ranks, without the top-k lists.

    Parameters
    ----------
    ranks : array-like of int
        0-based position of each relevant item in its user's full ranking (the other relevant
        items counted among those above it), e.g. how many allowed items score higher.
    users : array-like of int
        The user (0 .. ``n_users - 1``) each relevant item belongs to.
    n_users : int
        Number of users; a user without a relevant item is left out of the mean.
    k : int
        Cut-off.
    per_user : bool, default False
        Return one value per user (NaN where the user has no relevant item).
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    users = np.asarray(users, dtype=np.int64)
    disc = _discounts(k)
    gain = np.where(ranks < k, disc[np.clip(ranks, 0, k - 1)], 0.0)
    dcg = np.bincount(users, weights=gain, minlength=n_users)[:n_users]
    n_rel = np.bincount(users, minlength=n_users)[:n_users]
    return _ndcg(dcg, n_rel, k, per_user, "ndcg_from_ranks")


def _ndcg(dcg: np.ndarray, n_rel: np.ndarray, k: int, per_user: bool,
          metric: str) -> float | np.ndarray:
    ideal = np.concatenate([[0.0], np.cumsum(_discounts(k))])[np.minimum(n_rel, k)]
    values = np.divide(dcg, ideal, out=np.zeros_like(dcg, dtype=np.float64), where=ideal > 0)
    return _reduce(values, n_rel, per_user, metric)


def recall_at_k(
    recommended: Any,
    relevant: Any,
    k: int,
    per_user: bool = False,
    denominator: Literal["relevant", "min"] = "relevant",
) -> float | np.ndarray:
    """Recall at k: the share of a user's relevant items found in the top k.

    ``Recall@k = |top_k ∩ R| / |R|`` (``denominator="relevant"``, the standard definition; it
    cannot reach 1 when ``|R| > k``) or ``|top_k ∩ R| / min(|R|, k)`` (``denominator="min"``,
    the variant some papers and RecBole-style tables call recall, which reaches 1 whenever the
    top k is all relevant).

    Parameters
    ----------
    recommended, relevant, k, per_user
        As in :func:`ndcg_at_k`.
    denominator : {"relevant", "min"}, default "relevant"
        Which denominator to use (see above).

    Returns
    -------
    float or ndarray
    """
    if denominator not in ("relevant", "min"):
        raise DataError(f"denominator: expected 'relevant' or 'min', got {denominator!r}")
    hits, n_rel = _hits(recommended, relevant, k)
    denom = n_rel if denominator == "relevant" else np.minimum(n_rel, k)
    found = hits.sum(axis=1).astype(np.float64)
    values = np.divide(found, denom, out=np.zeros_like(found), where=denom > 0)
    return _reduce(values, n_rel, per_user, "recall_at_k")


def precision_at_k(
    recommended: Any, relevant: Any, k: int, per_user: bool = False
) -> float | np.ndarray:
    """Precision at k: ``|top_k ∩ R| / k`` (padding slots count as misses).

    Parameters
    ----------
    recommended, relevant, k, per_user
        As in :func:`ndcg_at_k`.

    Returns
    -------
    float or ndarray
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _reduce(hits.sum(axis=1) / k, n_rel, per_user, "precision_at_k")


def hit_rate_at_k(
    recommended: Any, relevant: Any, k: int, per_user: bool = False
) -> float | np.ndarray:
    """Hit rate at k: 1 if at least one relevant item is in the top k, else 0.

    Parameters
    ----------
    recommended, relevant, k, per_user
        As in :func:`ndcg_at_k`.

    Returns
    -------
    float or ndarray
    """
    hits, n_rel = _hits(recommended, relevant, k)
    return _reduce(hits.any(axis=1).astype(np.float64), n_rel, per_user, "hit_rate_at_k")


def mrr_at_k(
    recommended: Any, relevant: Any, k: int, per_user: bool = False
) -> float | np.ndarray:
    """Mean reciprocal rank at k: ``1 / rank`` of the first relevant item in the top k, else 0.

    Parameters
    ----------
    recommended, relevant, k, per_user
        As in :func:`ndcg_at_k`.

    Returns
    -------
    float or ndarray
    """
    hits, n_rel = _hits(recommended, relevant, k)
    first = hits.argmax(axis=1)
    values = np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0)
    return _reduce(values, n_rel, per_user, "mrr_at_k")


def map_at_k(
    recommended: Any, relevant: Any, k: int, per_user: bool = False
) -> float | np.ndarray:
    """Mean average precision at k.

    ``AP@k = sum_{j=1..k} P@j * rel_j / min(|R|, k)``, where ``P@j`` is the precision of the
    first j items; dividing by ``min(|R|, k)`` (not ``|R|``) lets a perfect top k score 1.

    Parameters
    ----------
    recommended, relevant, k, per_user
        As in :func:`ndcg_at_k`.

    Returns
    -------
    float or ndarray
    """
    hits, n_rel = _hits(recommended, relevant, k)
    precision = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    total = (precision * hits).sum(axis=1)
    denom = np.minimum(n_rel, k)
    values = np.divide(total, denom, out=np.zeros_like(total), where=denom > 0)
    return _reduce(values, n_rel, per_user, "map_at_k")


# ----------------------------------------------------------------------------- beyond accuracy
def catalogue_coverage(recommended: Any, n_items: int, k: int) -> float:
    """Share of the catalogue that appears in at least one user's top k.

    ``|union_u top_k(u)| / n_items`` (padding ignored).

    Parameters
    ----------
    recommended : array-like of int, shape (n_users, >= k)
        Top lists; -1 is padding.
    n_items : int
        Catalogue size; every item index must be below it.
    k : int
        Cut-off.

    Returns
    -------
    float
        Coverage in [0, 1].
    """
    top = _top_k(recommended, k)
    if isinstance(n_items, bool) or not isinstance(n_items, int | np.integer) or n_items < 1:
        raise DataError(f"n_items: expected an integer >= 1, got {n_items!r}")
    items = top[top >= 0]
    if items.size and items.max() >= n_items:
        raise DataError(
            f"recommended: item index {int(items.max())} is outside the catalogue of "
            f"n_items={n_items}"
        )
    return float(np.unique(items).size / n_items)


def popularity_bias(
    recommended: Any, item_popularity: Any, k: int, per_user: bool = False
) -> float | np.ndarray:
    """Average recommendation popularity (ARP): mean popularity of the recommended items.

    For each user the mean of ``item_popularity[i]`` over the (non-padding) items of the top k,
    then the mean over users with at least one recommended item. Higher means the recommender
    leans towards popular items; compare with the same quantity for a popularity baseline.

    Parameters
    ----------
    recommended : array-like of int, shape (n_users, >= k)
        Top lists; -1 is padding.
    item_popularity : array-like of shape (n_items,)
        Popularity of each item, e.g. its interaction count or share in the training data.
    k : int
        Cut-off.
    per_user : bool, default False
        Return one value per user (NaN for users with only padding).

    Returns
    -------
    float or ndarray
    """
    top = _top_k(recommended, k)
    pop = np.asarray(item_popularity, dtype=np.float64)
    if pop.ndim != 1 or pop.size == 0:
        raise DataError(
            f"item_popularity: expected a non-empty 1-D array indexed by item, got shape "
            f"{pop.shape}"
        )
    valid = top >= 0
    if valid.any() and top[valid].max() >= pop.size:
        raise DataError(
            f"recommended: item index {int(top[valid].max())} has no entry in item_popularity "
            f"(length {pop.size})"
        )
    values = np.where(valid, pop[np.where(valid, top, 0)], 0.0).sum(axis=1)
    counts = valid.sum(axis=1)
    means = np.divide(values, counts, out=np.full(values.shape, np.nan), where=counts > 0)
    if per_user:
        return means
    if not (counts > 0).any():
        raise DataError("popularity_bias: every top-k list is empty (all padding)")
    return float(np.nanmean(means))


def grouped_ndcg(scores: Any, labels: Any, groups: Any, k: int = 10) -> float:
    """Mean NDCG@k of candidate lists scored in place, as a learning-to-rank model is
    evaluated (not full ranking): the rows form consecutive groups of sizes ``groups`` (one
    per user), each ordered by ``scores`` (ties in row order), gain ``2**label - 1``; a group
    without a positive counts 1, as LightGBM's ``ndcg@k`` does."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    g = np.asarray(groups, dtype=np.int64).ravel()
    if len(y) != len(s) or (g < 0).any() or int(g.sum()) != len(s):
        raise DataError(f"grouped_ndcg: {len(s)} scores, {len(y)} labels and group sizes "
                        f"summing to {int(g.sum())} must agree")
    if int(k) < 1:
        raise DataError(f"k must be >= 1, got {k!r}")
    if len(g) == 0:
        return float("nan")
    gid = np.repeat(np.arange(len(g)), g)
    pos = np.arange(len(s)) - np.repeat(np.cumsum(g) - g, g)  # place within the group
    disc = np.where(pos < k, 1.0 / np.log2(pos + 2.0), 0.0)
    gain = 2.0 ** y - 1.0
    order = np.lexsort((np.arange(len(s)), -s, gid))  # by group, score down, row
    ideal = np.lexsort((-gain, gid))
    dcg = np.bincount(gid, weights=gain[order] * disc, minlength=len(g))
    idcg = np.bincount(gid, weights=gain[ideal] * disc, minlength=len(g))
    return float(np.where(idcg > 0, dcg / np.where(idcg > 0, idcg, 1.0), 1.0).mean())
