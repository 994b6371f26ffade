"""Recommenders on tiny data with a known answer, and the base-class contract."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError, TooLargeError
from storemind.recommend import (
    ALS,
    BPR,
    EASE,
    BoughtTogether,
    Interactions,
    ItemKNN,
    Popularity,
)
from storemind.recommend._base import top_k

N_BLOCKS, USERS_PER, ITEMS_PER = 3, 10, 5


def block_events() -> pd.DataFrame:
    """Users of block b buy the items of block b, except one ("held") item each.

    A user's best unseen item is the held item (the only unseen item of their block), so every
    collaborative model must rank it first.
    """
    rows = []
    for b in range(N_BLOCKS):
        for u in range(USERS_PER):
            for i in range(ITEMS_PER):
                if i != u % ITEMS_PER:
                    rows.append((f"u{b}_{u}", f"i{b}_{i}", "purchase",
                                 1_700_000_000 + 60 * len(rows), f"s{b}_{u}"))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts", "session_id"])


@pytest.fixture(scope="module")
def blocks() -> Interactions:
    return Interactions.from_frame(block_events())


def held_items(it: Interactions) -> np.ndarray:
    ids = [f"i{u[1]}_{int(u.split('_')[1]) % ITEMS_PER}" for u in it.user_ids]
    return it.item_index(ids)


MODELS = [
    lambda: ItemKNN(n_neighbors=10, shrinkage=0.0),
    lambda: ItemKNN(similarity="bm25", n_neighbors=10, shrinkage=0.0),
    lambda: EASE(l2=1.0),
    # one factor per block: with spare factors the item-factor cosines keep random directions
    lambda: ALS(factors=3, regularization=0.1, iterations=10, random_state=0),
    lambda: BPR(factors=8, iterations=200, learning_rate=0.05, random_state=0),
    lambda: BoughtTogether(min_support=1),
]


@pytest.mark.parametrize("make", MODELS, ids=lambda m: repr(m()))
def test_every_model_recovers_the_held_item(make, blocks) -> None:
    model = make().fit(blocks)
    items, scores = model.recommend(np.arange(blocks.n_users), k=1)
    np.testing.assert_array_equal(items[:, 0], held_items(blocks))
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("make", MODELS, ids=lambda m: repr(m()))
def test_similar_items_stay_in_the_block(make, blocks) -> None:
    model = make().fit(blocks)
    items, _ = model.similar_items(np.arange(blocks.n_items), k=2)
    block_of = np.array([int(i[1]) for i in blocks.item_ids])
    assert (items[:, 0] != np.arange(blocks.n_items)).all()  # never itself
    assert (block_of[items[:, 0]] == block_of).all()


def test_popularity_decay_prefers_recent_items() -> None:
    day = 86_400
    ev = pd.DataFrame({
        "user_id": ["a", "b", "c", "d", "e"],
        "item_id": ["old", "old", "old", "new", "new"],
        "event_type": "view",
        "ts": [0, 0, 0, 30 * day, 30 * day],
    })
    it = Interactions.from_frame(ev)
    flat, _ = Popularity(half_life_days=None).fit(it).recommend([99], k=2)
    decayed, scores = Popularity(half_life_days=7).fit(it).recommend([99], k=2)
    assert it.item_ids[flat[0, 0]] == "old"  # 3 users beat 2
    assert it.item_ids[decayed[0, 0]] == "new"  # but 30 days = 4.3 half-lives ago
    assert scores[0, 0] == pytest.approx(2.0)
    assert scores[0, 1] == pytest.approx(3 * 0.5 ** (30 / 7), rel=1e-5)


# -- the base contract ----------------------------------------------------------------------
def test_recommend_excludes_seen_and_pads(blocks) -> None:
    model = EASE(l2=1.0).fit(blocks)
    items, scores = model.recommend([0], k=blocks.n_items)
    seen = set(blocks.seen()[0].indices)
    kept = items[0][items[0] >= 0]
    assert not seen & set(kept.tolist())
    assert len(kept) == blocks.n_items - len(seen)
    assert (items[0, len(kept):] == -1).all() and np.isneginf(scores[0, len(kept):]).all()
    assert (np.diff(scores[0, : len(kept)]) <= 0).all()
    with_seen, _ = model.recommend([0], k=blocks.n_items, exclude_seen=False)
    assert (with_seen >= 0).all()


def test_filter_items_masks_and_adjustments(blocks) -> None:
    model = ItemKNN(n_neighbors=10, shrinkage=0.0).fit(blocks)
    held = held_items(blocks)
    drop = np.zeros(blocks.n_items, dtype=bool)
    drop[held[0]] = True
    items, _ = model.recommend([0], k=3, filter_items=drop)
    assert held[0] not in items[0]
    per_user = np.zeros((2, blocks.n_items), dtype=bool)
    per_user[1, held[1]] = True
    items, _ = model.recommend([0, 1], k=1, filter_items=per_user)
    assert items[0, 0] == held[0] and items[1, 0] != held[1]
    bump = np.zeros(blocks.n_items, dtype=np.float32)
    other = int(np.flatnonzero(np.array([i.startswith("i2") for i in blocks.item_ids]))[0])
    bump[other] = 1e6
    items, _ = model.recommend([0], k=1, filter_items=bump)
    assert items[0, 0] == other
    with pytest.raises(DataError, match="filter_items"):
        model.recommend([0], filter_items=np.zeros(3, dtype=bool))


def test_cold_and_bad_users(blocks) -> None:
    model = ALS(factors=4, iterations=2, random_state=0).fit(blocks)
    items, scores = model.recommend([blocks.n_users + 5], k=3)
    expected = np.argsort(-model.popularity_, kind="stable")[:3]
    assert set(items[0]) == set(expected)
    with pytest.raises(DataError, match=">= 0"):
        model.recommend([-1])
    with pytest.raises(DataError, match="k must"):
        model.recommend([0], k=0)
    with pytest.raises(DataError, match="outside"):
        model.similar_items([blocks.n_items])


def test_fit_rejects_bad_input(blocks) -> None:
    with pytest.raises(DataError, match="Interactions"):
        EASE().fit(block_events())
    with pytest.raises(DataError, match="positive weight"):
        EASE().fit(blocks.subset(np.zeros(blocks.n_events, dtype=bool)))
    with pytest.raises(TooLargeError, match="max_items"):
        EASE(max_items=10).fit(blocks)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(-3, 3), min_size=6, max_size=6), min_size=1, max_size=4),
       st.integers(1, 8))
def test_top_k_matches_a_full_sort(rows, k) -> None:
    scores = np.array(rows, dtype=np.float32)
    scores[scores == -3] = -np.inf
    items, vals = top_k(scores.copy(), k)
    for r, row in enumerate(scores):
        finite = int(np.isfinite(row).sum())
        n = min(k, finite)
        expect = np.sort(row)[::-1][:n]
        np.testing.assert_array_equal(vals[r, :n], expect)
        np.testing.assert_array_equal(row[items[r, :n]], expect)
        assert (items[r, n:] == -1).all() and np.isneginf(vals[r, n:]).all()


# -- live updates -----------------------------------------------------------------------------
def _row(it: Interactions, ids: list[str]) -> sp.csr_matrix:
    row = np.zeros((1, it.n_items), dtype=np.float32)
    row[0, it.item_index(ids)] = 5.0
    return sp.csr_matrix(row)


@pytest.mark.parametrize("make", [
    lambda: ALS(factors=8, regularization=0.01, iterations=10, random_state=0),
    lambda: BPR(factors=8, iterations=200, learning_rate=0.05, random_state=0),
], ids=["ALS", "BPR"])
def test_fold_in_new_user(make, blocks) -> None:
    model = make().fit(blocks)
    history = ["i1_0", "i1_1", "i1_2", "i1_3"]
    factors = model.recalculate_user(_row(blocks, history))
    assert factors.shape == (model.item_factors_.shape[1],)
    scores = model.score_factors(factors)[0]
    scores[blocks.item_index(history)] = -np.inf
    assert blocks.item_ids[int(np.argmax(scores))] == "i1_4"
    with pytest.raises(DataError, match="columns"):
        model.recalculate_user(np.zeros((1, 3)))


def test_als_fold_in_reproduces_training_user(blocks) -> None:
    model = ALS(factors=8, regularization=0.01, iterations=15, random_state=0).fit(blocks)
    folded = model.recalculate_user(model.seen_[[3]])
    cos = folded @ model.user_factors_[3] / (
        np.linalg.norm(folded) * np.linalg.norm(model.user_factors_[3]))
    assert cos > 0.99


@pytest.mark.parametrize("cls", [ItemKNN, EASE])
def test_score_history_matches_score(cls, blocks) -> None:
    model = cls().fit(blocks)
    np.testing.assert_allclose(model.score_history(blocks.seen()[[0, 7]]),
                               model.score([0, 7]), rtol=1e-5)


def test_itemknn_similarities_by_hand() -> None:
    """Cosine (with shrinkage) and BM25 (dot product of BM25-weighted columns) against the
    formulas written out with numpy on a small random matrix."""
    rng = np.random.default_rng(0)
    x = (rng.random((40, 12)) < 0.3).astype(np.float64)
    users, items = np.nonzero(x)
    frame = pd.DataFrame({"user_id": [f"u{u:02d}" for u in users],
                          "item_id": [f"i{i:02d}" for i in items], "event_type": "purchase",
                          "ts": 1_700_000_000 + np.arange(len(users))})
    it = Interactions.from_frame(frame)
    dense = it.seen().toarray().astype(np.float64)  # rows and columns in the model's order
    n_items = dense.shape[1]

    norms = np.linalg.norm(dense, axis=0)
    cosine = dense.T @ dense / (np.outer(norms, norms) + 5.0)
    k1, b = 1.5, 0.6
    idf = np.log(n_items / (1.0 + dense.sum(axis=1))).clip(min=0.0) + 1e-3
    col_len = dense.sum(axis=0)
    norm = k1 * (1.0 - b + b * col_len / col_len[col_len > 0].mean())
    w = dense * (k1 + 1.0) / (dense + norm[None, :]) * idf[:, None]
    bm25 = w.T @ w
    for model, want in ((ItemKNN(n_neighbors=n_items, shrinkage=5.0), cosine),
                        (ItemKNN(n_neighbors=n_items, similarity="bm25", bm25_k1=k1, bm25_b=b),
                         bm25)):
        np.fill_diagonal(want, 0.0)
        got = model.fit(it).similarity_.toarray()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


# -- bought together --------------------------------------------------------------------------
def test_complete_basket_and_thresholds() -> None:
    rows = []
    baskets = ([["a", "b"]] * 4 + [["a", "c"]] * 2 + [["a", "d"]] + [["b", "e"]] * 4
               + [["e", "f"]] * 3 + [["c", "f"]] * 2)
    # 16 baskets; a in 7, b in 8, c in 4, d in 1: lift(a,b) = 4*16/(7*8) = 8/7,
    # lift(a,c) = 2*16/(7*4) = 8/7, lift(a,d) = 16/7
    for n, basket in enumerate(baskets):
        rows += [(f"u{n}", item, "purchase", n, f"o{n}") for item in basket]
    ev = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts", "session_id"])
    it = Interactions.from_frame(ev)
    model = BoughtTogether(min_support=2).fit(it)
    items, scores = model.complete_basket(it.item_index(["a"]), k=3)
    assert list(it.item_ids[items[:2]]) == ["b", "c"]  # d has support 1 < 2
    assert items[2] == -1 and np.isneginf(scores[2])
    assert scores[0] == pytest.approx(4 / 7)  # confidence a -> b
    lifted = BoughtTogether(min_support=1, rank_by="lift").fit(it)
    items, scores = lifted.complete_basket(it.item_index(["a"]), k=3)
    assert list(it.item_ids[items]) == ["d", "b", "c"]  # b, c tie: lower index first
    np.testing.assert_allclose(scores, [16 / 7, 8 / 7, 8 / 7], rtol=1e-6)
    strict = BoughtTogether(min_support=1, min_lift=1.2).fit(it)
    items, _ = strict.complete_basket(it.item_index(["a"]), k=3)
    assert list(it.item_ids[items[items >= 0]]) == ["d"]
    with pytest.raises(DataError, match="at least one"):
        model.complete_basket([], k=3)


def test_bought_together_falls_back_to_user_days() -> None:
    ev = pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u2", "u1"],
        "item_id": ["a", "b", "a", "b", "c"],
        "event_type": "purchase",
        "ts": [0, 60, 100, 200, 3 * 86_400],  # c is bought by u1 on another day
    })
    it = Interactions.from_frame(ev)
    model = BoughtTogether(min_support=1).fit(it)
    assert model.n_baskets_ == 2
    items, _ = model.complete_basket(it.item_index(["a"]), k=2)
    assert list(it.item_ids[items[items >= 0]]) == ["b"]
