"""Top-k ranking metrics: known answers, properties, and scikit-learn's ndcg_score."""
from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError
from storemind.evaluation import (
    catalogue_coverage,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    ndcg_from_ranks,
    popularity_bias,
    precision_at_k,
    recall_at_k,
)

ACCURACY = (ndcg_at_k, recall_at_k, precision_at_k, hit_rate_at_k, mrr_at_k, map_at_k)
LOG2_3 = np.log2(3)


def test_known_answers_for_two_users() -> None:
    rec = np.array([[1, 2, 3], [4, 5, -1]])
    rel = [np.array([2]), np.array([9, 4])]
    np.testing.assert_allclose(
        ndcg_at_k(rec, rel, 3, per_user=True), [1 / LOG2_3, 1 / (1 + 1 / LOG2_3)]
    )
    np.testing.assert_allclose(recall_at_k(rec, rel, 2, per_user=True), [1.0, 0.5])
    np.testing.assert_allclose(recall_at_k(rec, rel, 1, per_user=True), [0.0, 0.5])
    np.testing.assert_allclose(
        recall_at_k(rec, rel, 1, per_user=True, denominator="min"), [0.0, 1.0]
    )
    np.testing.assert_allclose(precision_at_k(rec, rel, 3, per_user=True), [1 / 3, 1 / 3])
    np.testing.assert_allclose(hit_rate_at_k(rec, rel, 1, per_user=True), [0.0, 1.0])
    np.testing.assert_allclose(mrr_at_k(rec, rel, 3, per_user=True), [0.5, 1.0])
    # AP@3: user 0 hit at rank 2 -> (1/2) / min(1, 3); user 1 hit at rank 1 -> 1 / min(2, 3)
    np.testing.assert_allclose(map_at_k(rec, rel, 3, per_user=True), [0.5, 0.5])
    assert mrr_at_k(rec, rel, 3) == pytest.approx(0.75)


def test_map_by_hand() -> None:
    # hits at ranks 1 and 3 of 4, three relevant: (1/1 + 2/3) / min(3, 4)
    rec = np.array([[7, 1, 8, 2]])
    assert map_at_k(rec, [[7, 8, 9]], 4) == pytest.approx((1 + 2 / 3) / 3)


def test_users_without_relevant_items_are_skipped() -> None:
    rec = np.array([[1, 2], [3, 4], [5, 6]])
    rel = [[1], [], [9]]
    assert hit_rate_at_k(rec, rel, 2) == pytest.approx(0.5)
    values = ndcg_at_k(rec, rel, 2, per_user=True)
    assert np.isnan(values[1]) and values[0] == 1.0 and values[2] == 0.0


def test_padding_and_duplicate_relevant_items() -> None:
    rec = np.array([[-1, 3, -1]])
    assert mrr_at_k(rec, [[3, 3]], 3) == pytest.approx(0.5)
    assert recall_at_k(rec, [[3, 3]], 3) == 1.0  # duplicates in relevant count once
    assert precision_at_k(rec, [[3]], 3) == pytest.approx(1 / 3)


def test_sparse_relevant_matrix_matches_lists() -> None:
    rel = [[0, 2], [], [1, 3, 4]]
    mat = sp.csr_matrix((np.ones(5), ([0, 0, 2, 2, 2], [0, 2, 1, 3, 4])), shape=(3, 6))
    rec = np.array([[2, 1, 0], [0, 1, 2], [5, 4, 3]])
    for metric in ACCURACY:
        assert metric(rec, mat, 3) == pytest.approx(metric(rec, rel, 3))


@st.composite
def rankings(draw):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(3, 15))
    k = draw(st.integers(1, n_items))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    rec = np.stack([rng.permutation(n_items) for _ in range(n_users)])
    relevant = []
    for _ in range(n_users):
        size = int(rng.integers(1, n_items))
        relevant.append(rng.choice(n_items, size=size, replace=False))
    return rec, relevant, k, n_items


@settings(max_examples=80, deadline=None)
@given(rankings())
def test_metrics_lie_in_unit_interval_and_perfect_ranking_scores_one(data) -> None:
    rec, rel, k, _ = data
    for metric in ACCURACY:
        values = metric(rec, rel, k, per_user=True)
        assert np.all((values >= 0) & (values <= 1 + 1e-12))
    perfect = np.stack(
        [np.r_[r, np.setdiff1d(np.arange(rec.shape[1]), r)] for r in rel]
    )
    for metric in (ndcg_at_k, hit_rate_at_k, mrr_at_k, map_at_k):
        assert metric(perfect, rel, k) == pytest.approx(1.0)
    assert recall_at_k(perfect, rel, k, denominator="min") == pytest.approx(1.0)


@settings(max_examples=80, deadline=None)
@given(rankings())
def test_reversing_a_perfect_ranking_does_not_improve_ndcg(data) -> None:
    rec, rel, k, n_items = data
    perfect = np.stack([np.r_[r, np.setdiff1d(np.arange(n_items), r)] for r in rel])
    reverse = perfect[:, ::-1]
    assert np.all(
        ndcg_at_k(reverse, rel, k, per_user=True) <= ndcg_at_k(perfect, rel, k, per_user=True)
    )
    # when the k last items of the perfect list are all irrelevant, the reversed top k misses
    no_hits = np.array([n_items - len(r) >= k for r in rel])
    assert np.all(ndcg_at_k(reverse, rel, k, per_user=True)[no_hits] == 0.0)


@settings(max_examples=80, deadline=None)
@given(rankings())
def test_permuting_users_changes_nothing(data) -> None:
    rec, rel, k, _ = data
    perm = np.random.default_rng(0).permutation(len(rel))
    for metric in ACCURACY:
        before = metric(rec, rel, k, per_user=True)
        after = metric(rec[perm], [rel[i] for i in perm], k, per_user=True)
        np.testing.assert_allclose(after, before[perm])
        assert metric(rec[perm], [rel[i] for i in perm], k) == pytest.approx(
            metric(rec, rel, k)
        )


@settings(max_examples=80, deadline=None)
@given(rankings())
def test_ndcg_matches_sklearn(data) -> None:
    rec, rel, k, n_items = data
    # scores that rank the catalogue exactly as rec does (no ties)
    scores = np.zeros(rec.shape, dtype=float)
    np.put_along_axis(scores, rec, np.arange(n_items, 0, -1, dtype=float)[None, :], axis=1)
    truth = np.zeros(rec.shape)
    for u, r in enumerate(rel):
        truth[u, r] = 1
    assert ndcg_at_k(rec, rel, k) == pytest.approx(skm.ndcg_score(truth, scores, k=k))


def test_ndcg_from_ranks_equals_ndcg_on_the_top_lists() -> None:
    """Reading NDCG@k from where each relevant item ranks gives ndcg_at_k's number (untied
    random scores, 1-4 relevant items per user, a user without any left out)."""
    rng = np.random.default_rng(3)
    scores = rng.random((40, 30))
    relevant = [rng.choice(30, rng.integers(1, 5), replace=False) for _ in range(39)] + [
        np.zeros(0, dtype=np.int64)]
    top = np.argsort(-scores, axis=1)[:, :10]
    users = np.repeat(np.arange(40), [len(r) for r in relevant])
    items = np.concatenate(relevant)
    ranks = (scores[users] > scores[users, items][:, None]).sum(axis=1)
    assert ndcg_from_ranks(ranks, users, 40, 10) == pytest.approx(ndcg_at_k(top, relevant, 10))
    np.testing.assert_allclose(ndcg_from_ranks(ranks, users, 40, 10, per_user=True),
                               ndcg_at_k(top, relevant, 10, per_user=True), equal_nan=True)


def test_coverage_and_popularity_bias() -> None:
    rec = np.array([[0, 1, -1], [1, 2, 3]])
    assert catalogue_coverage(rec, 10, 2) == pytest.approx(3 / 10)
    assert catalogue_coverage(rec, 10, 3) == pytest.approx(4 / 10)
    pop = np.array([10.0, 2.0, 4.0, 0.0])
    np.testing.assert_allclose(popularity_bias(rec, pop, 3, per_user=True), [6.0, 2.0])
    assert popularity_bias(rec, pop, 3) == pytest.approx(4.0)


def test_errors_are_clear() -> None:
    rec = np.array([[1, 2, 3]])
    with pytest.raises(DataError, match="at least k=4 columns"):
        ndcg_at_k(rec, [[1]], 4)
    with pytest.raises(DataError, match="expected 1 entries"):
        recall_at_k(rec, [[1], [2]], 2)
    with pytest.raises(DataError, match="twice in row 0"):
        hit_rate_at_k(np.array([[1, 1, 2]]), [[1]], 3)
    with pytest.raises(DataError, match="no user has a relevant item"):
        mrr_at_k(rec, [[]], 2)
    with pytest.raises(DataError, match="2-D"):
        map_at_k(np.array([1, 2]), [[1]], 1)
    with pytest.raises(DataError, match="denominator"):
        recall_at_k(rec, [[1]], 2, denominator="k")
    with pytest.raises(DataError, match="outside the catalogue"):
        catalogue_coverage(rec, 3, 3)
    with pytest.raises(DataError, match="no entry in item_popularity"):
        popularity_bias(rec, [1.0, 2.0], 3)


def test_vectorised_on_100k_users() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items, k = 100_000, 5_000, 20
    rec = rng.integers(0, n_items, size=(n_users, k))
    rec = np.sort(rec, axis=1)
    rec[:, 1:][rec[:, 1:] == rec[:, :-1]] = -1  # padding instead of repeats
    rel = [rng.integers(0, n_items, size=3) for _ in range(n_users)]
    start = time.perf_counter()
    value = ndcg_at_k(rec, rel, k)
    elapsed = time.perf_counter() - start
    assert 0.0 <= value < 0.05  # random lists rarely hit
    assert elapsed < 10.0, f"ndcg_at_k on 100k users took {elapsed:.1f} s"
