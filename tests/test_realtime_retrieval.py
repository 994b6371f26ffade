"""Top-k retrieval: exact below the threshold, faiss above it with recall >= 0.99."""
from __future__ import annotations

import numpy as np
import pytest

from storemind.errors import DataError
from storemind.recommend.retrieval import TopKIndex


def factor_like(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Clustered vectors with varying norms, like ALS item factors."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((256, d), dtype=np.float32)
    x = centres[rng.integers(0, 256, n)] + 0.7 * rng.standard_normal((n, d), dtype=np.float32)
    return x * rng.uniform(0.5, 1.5, (n, 1)).astype(np.float32)


def test_faiss_recall_at_100k_items():
    x = factor_like(100_000, 64)
    index = TopKIndex(x, threshold=50_000)
    assert index.kind == "faiss"
    rng = np.random.default_rng(1)
    queries = x[rng.integers(0, len(x), (100, 5))].mean(axis=1) + 0.2 * rng.normal(
        size=(100, 64)).astype(np.float32)
    scores_all = queries @ x.T
    exact_all = np.argpartition(-scores_all, 10, axis=1)[:, :10]
    hits = 0
    for q, exact in zip(queries, exact_all, strict=True):
        got, scores = index.search(q, 10)
        assert len(got) == 10 and np.all(np.diff(scores) <= 1e-6)
        hits += len(set(got.tolist()) & set(exact.tolist()))
    recall = hits / (10 * len(queries))
    # measured 0.998 (nlist 1264, nprobe 79) with this test's data
    assert recall >= 0.99, recall


@pytest.mark.parametrize("sigma", [0.3, 1.5])
def test_faiss_recall_with_unequal_norms(sigma):
    """ALS factors have very unequal norms; the earlier IVF index on raw inner product found
    0.873 (sigma 0.3) and 0.575 (sigma 1.5) of the exact top-10 on this data, and 0.67 on the
    serving benchmark's real ALS factors. The norm-ranged Euclidean twin must reach 0.99."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((256, 64), dtype=np.float32)
    x = centres[rng.integers(0, 256, 100_000)] + 0.7 * rng.standard_normal(
        (100_000, 64), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x *= rng.lognormal(0.0, sigma, (len(x), 1)).astype(np.float32)
    index = TopKIndex(x, threshold=50_000)
    assert index.kind == "faiss"
    queries = x[rng.integers(0, len(x), (100, 5))].mean(axis=1) + 0.2 * rng.normal(
        size=(100, 64)).astype(np.float32)
    exact_all = np.argpartition(-(queries @ x.T), 10, axis=1)[:, :10]
    hits = sum(len(set(index.search(q, 10)[0].tolist()) & set(e.tolist()))
               for q, e in zip(queries, exact_all, strict=True))
    # measured 0.996 (sigma 0.3) and 1.0 (sigma 1.5)
    assert hits / 1000 >= 0.99, hits / 1000


def test_faiss_skips_excluded_items_at_any_history_length():
    """Exclusions are applied inside the index scan: a customer who saw 3,000 items (above
    what asking the index for extra items could cover) still gets k allowed items, none
    excluded, matching the exact top-k of the allowed items."""
    x = factor_like(100_000, 64)
    index = TopKIndex(x, threshold=50_000)
    rng = np.random.default_rng(2)
    hits = total = 0
    for q in x[rng.integers(0, len(x), 40)] + 0.2 * rng.normal(size=(40, 64)).astype(
            np.float32):
        scores = x @ q
        seen = np.argsort(-scores)[:6_000][::2]  # 3,000 of the customer's best items
        mask = np.zeros(len(x), bool)
        mask[seen] = True
        got, got_scores = index.search(q, 10, exclude=mask)
        assert len(got) == 10 and not mask[got].any()
        assert np.all(np.diff(got_scores) <= 1e-6)
        exact, _ = index.exact(q, 10, mask)
        hits += len(set(got.tolist()) & set(exact.tolist()))
        total += 10
    assert hits / total >= 0.99, hits / total


@pytest.mark.parametrize("n_excluded", [0, 40, 1500])
def test_an_exclusion_list_gives_the_same_answer_as_a_mask(n_excluded):
    """Exclusions given as item indices (repeated, or out of range, as callers may pass)
    give the same answer as the equivalent mask, including excluded items of the exact head
    (the largest norms) and lists long enough to need the bitmap's fallback checks."""
    rng = np.random.default_rng(n_excluded)
    x = factor_like(60_000, 32, seed=3)
    x *= rng.lognormal(0.0, 1.0, (len(x), 1)).astype(np.float32)  # a real head
    index = TopKIndex(x, threshold=50_000)
    assert index.kind == "faiss" and len(index._head) > 0
    for q in x[rng.integers(0, len(x), 5)]:
        best = np.argsort(-(x @ q))[:n_excluded]  # the items it would return first
        ids = np.concatenate([best, best[:3], [-1, len(x) + 5]]) if n_excluded else best
        mask = np.zeros(len(x), bool)
        mask[best] = True
        by_ids, s_ids = index.search(q, 10, exclude=ids)
        by_mask, s_mask = index.search(q, 10, exclude=mask)
        np.testing.assert_array_equal(by_ids, by_mask)
        np.testing.assert_allclose(s_ids, s_mask)
        assert len(by_ids) == 10 and not mask[by_ids].any()


def test_threads_searching_at_once_get_their_own_answers():
    """Each thread keeps its own faiss bitmap and search parameters: threads searching at
    once with different exclusions get exactly the answers of one-at-a-time searches, and an
    unmasked search after a masked one excludes nothing."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(5)
    x = factor_like(60_000, 32, seed=5)
    index = TopKIndex(x, threshold=50_000)
    assert index.kind == "faiss"
    queries = x[rng.integers(0, len(x), 40)]
    masks = []
    for q in queries:
        mask = np.zeros(len(x), bool)
        mask[np.argsort(-(x @ q))[: rng.integers(0, 30)]] = True  # hide some of its best
        masks.append(mask)
    serial = [index.search(q, 10, exclude=m)[0] for q, m in zip(queries, masks, strict=True)]
    plain = [index.search(q, 10)[0] for q in queries]

    def both(i: int) -> tuple[np.ndarray, np.ndarray]:
        got = [index.search(queries[i], 10, exclude=masks[i])[0] for _ in range(20)]
        assert all(np.array_equal(g, got[0]) for g in got)
        return got[0], index.search(queries[i], 10)[0]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(both, range(len(queries))))
    for i, (masked, unmasked) in enumerate(answers):
        np.testing.assert_array_equal(masked, serial[i])
        np.testing.assert_array_equal(unmasked, plain[i])
        assert not masks[i][masked].any()
    assert any(masks[i][plain[i]].any() for i in range(len(queries)))  # masks did matter


def test_exact_below_threshold_and_exclusions():
    x = factor_like(500, 8)
    index = TopKIndex(x, threshold=1000)
    assert index.kind == "exact"
    q = x[3]
    full = x @ q
    items, scores = index.search(q, 5)
    np.testing.assert_array_equal(items, np.argsort(-full, kind="stable")[:5])
    items2, _ = index.search(q, 5, exclude=items[:2])
    assert not set(items[:2].tolist()) & set(items2.tolist())
    mask = np.ones(500, bool)
    mask[[7, 9]] = False
    only, _ = index.search(q, 5, exclude=mask)  # fewer left than asked: what there is
    assert sorted(only.tolist()) == [7, 9]


def test_faiss_exclusions_fall_back_to_exact():
    x = factor_like(5_000, 16)
    index = TopKIndex(x, threshold=1_000)
    q = x[0]
    mask = np.ones(5_000, bool)
    mask[np.arange(100, 130)] = False  # a narrow filter: the index alone would miss items
    items, _ = index.search(q, 10, exclude=mask)
    exact, _ = index.exact(q, 10, mask)
    np.testing.assert_array_equal(items, exact)


def test_bad_input():
    with pytest.raises(DataError, match="2-D"):
        TopKIndex(np.zeros(5))
    with pytest.raises(DataError, match="dimensions"):
        TopKIndex(np.ones((10, 4))).search(np.ones(3), 2)


def _mixed_queries(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return x[rng.integers(0, len(x), (n, 5))].mean(axis=1) + 0.2 * rng.normal(
        size=(n, x.shape[1])).astype(np.float32)


def test_calibrated_nprobe_reaches_its_target_on_new_queries():
    """Calibration keeps the smallest nprobe of 1, 2, 4, ... whose recall on its sample
    reaches the target; queries it never saw (same kind, another seed) still get >= 0.99."""
    x = factor_like(100_000, 64)
    default = TopKIndex(x, threshold=50_000)
    index = TopKIndex(x, threshold=50_000, queries=_mixed_queries(x, 300, 7),
                      recall_target=0.999)
    steps = [n for n, _ in index.calibration]
    assert steps == [2 ** i for i in range(len(steps))]  # the ladder, stopped at the target
    assert index.calibration[-1][1] >= 0.999 > max(r for _, r in index.calibration[:-1])
    assert index.nprobe == steps[-1]
    queries = _mixed_queries(x, 100, 3)
    exact_all = np.argpartition(-(queries @ x.T), 10, axis=1)[:, :10]
    hits = sum(len(set(index.search(q, 10)[0].tolist()) & set(e.tolist()))
               for q, e in zip(queries, exact_all, strict=True))
    assert hits / 1000 >= 0.99, (hits / 1000, index.calibration)
    # measured: 128 cells (recall 0.9997 on the sample) where the default nlist / 16 visits
    # 78 (recall about 0.998 here, under the target): calibration raises nprobe as well as
    # lowering it (on the serving benchmark's store it lowers it, to 4)
    assert default.calibration == [] and index.nprobe != default.nprobe


def test_calibration_visits_every_cell_when_the_target_needs_it():
    x = factor_like(60_000, 16, seed=4)
    index = TopKIndex(x, threshold=50_000, queries=_mixed_queries(x, 50, 1), recall_target=1.0)
    nlist = index._index.nlist
    assert index.calibration[-1][0] <= nlist and index.nprobe in (n for n, _ in
                                                                   index.calibration)
    if index.calibration[-1][1] < 1.0:  # not reached: the last step is every cell
        assert index.nprobe == nlist


def test_calibration_bad_queries_and_exact_index():
    x = factor_like(60_000, 8)
    index = TopKIndex(x, threshold=50_000)
    with pytest.raises(DataError, match="calibration queries"):
        index.calibrate(np.ones((4, 3), np.float32))
    small = TopKIndex(x[:500], threshold=1000, queries=x[:20])
    assert small.kind == "exact" and small.nprobe is None and small.calibration == []
    assert small.calibrate(x[:20]) == 0
