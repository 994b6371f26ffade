"""Minimum quality on the benchmark's own protocols (MovieLens 100K and Amazon Beauty).

The splits are ``benchmarks/recommend.py``'s (``benchmarks/_recommend_data.py``): MovieLens
100K with the last 20% of the time span as test (relevant = ratings >= 4), Beauty leave-last-out.
Each model is fitted once with the settings the benchmark run chose (see
``benchmarks/results/recommend.md``), scored on the whole catalogue, and must stay within a
small tolerance of the number pinned here. Re-measure with

    .venv/bin/python tests/test_recommend_quality.py

(prints every number this file pins; the SASRec fit is shortened to ``BEAUTY_SASREC_EPOCHS``
epochs to keep CI short, so its pin is below the benchmark's fully trained figure).
"""
from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _recommend_data import K, build_protocol, clean_top, compute_metrics  # noqa: E402
from storemind.recommend import ALS, EASE, ItemKNN, Popularity  # noqa: E402
from storemind.recommend.hybrid import HybridRanker  # noqa: E402
from storemind.recommend.sasrec import SASRec  # noqa: E402

BEAUTY_SASREC_EPOCHS = 4
HYBRID_SEEDS = (0, 1, 2)
#: measured 2026-11-29 with the command in the module docstring (seed 0, one thread)
PINNED = {
    # benchmark rows (session 11): Popularity 0.2531, EASE 0.1325, ALS 0.0957, SASRec 0.1470
    # (the hybrid here re-ranks the first three and item-kNN only, with the default ranker
    # settings; mean of three seeds)
    "movielens": {"Popularity": 0.2531, "EASE": 0.1325, "ALS": 0.0957, "SASRec": 0.1470,
                  "Hybrid": 0.1806},
    # benchmark rows (session 11): Popularity 0.0061, ALS 0.0344; SASRec 0.0603 after the 20
    # epochs the benchmark chose (4 here)
    "beauty": {"Popularity": 0.0061, "ALS": 0.0344, "SASRec": 0.0245},
}
TOLERANCE = {"movielens": 0.01, "beauty": 0.003}  # absolute NDCG@10


@cache
def protocol(key: str):
    return build_protocol(key)


def _ndcg(key: str, model) -> float:
    task = protocol(key).test
    top, _ = model.recommend(task.users, k=K, exclude_seen=True)
    return compute_metrics(["NDCG@10"], task, clean_top(top))["NDCG@10"]


def movielens_models() -> dict:
    """The benchmark run's chosen settings on MovieLens 100K."""
    return {
        "Popularity": Popularity(half_life_days=14.0, count_users=False),
        "itemknn": ItemKNN(n_neighbors=100, similarity="bm25", bm25_k1=1.2, bm25_b=0.75),
        "EASE": EASE(l2=500.0),
        "ALS": ALS(factors=128, regularization=1.0, alpha=40.0, iterations=15, num_threads=1,
                   random_state=0),
    }


def measure_movielens() -> dict[str, float]:
    train = protocol("movielens").test.train
    models = movielens_models()
    got = {}
    for name, model in models.items():
        model.fit(train)
        if name in PINNED["movielens"]:
            got[name] = _ndcg("movielens", model)
    # the hybrid's ranker learns from the few hundred users active in the training split's
    # last fifth, so one seed swings its test NDCG@10 by +-0.05 (0.1292, 0.2005 and 0.1553
    # for seeds 0-2 with session 9's base settings): the pin and the check read the mean over
    # three seeds
    runs = []
    for seed in HYBRID_SEEDS:
        hybrid = HybridRanker(valid_fraction=0.2, refit=False, random_state=seed)
        hybrid.fit(train, {n.lower(): m for n, m in models.items()})
        runs.append(_ndcg("movielens", hybrid))
    got["Hybrid"] = sum(runs) / len(runs)
    # the benchmark's SASRec: recency-weighted targets, the 18 epochs its validation chose
    sasrec = SASRec(half_life_days=14.0, epochs=18, lr=0.001, dropout=0.3, n_threads=1,
                    random_state=0)
    got["SASRec"] = _ndcg("movielens", sasrec.fit(train))
    return got


def measure_beauty() -> dict[str, float]:
    train = protocol("beauty").test.train
    got = {}
    got["Popularity"] = _ndcg("beauty", Popularity(half_life_days=None).fit(train))
    als = ALS(factors=128, regularization=0.1, alpha=40.0, iterations=15, num_threads=1,
              random_state=0)
    got["ALS"] = _ndcg("beauty", als.fit(train))
    sasrec = SASRec(epochs=BEAUTY_SASREC_EPOCHS, lr=0.001, dropout=0.3, n_threads=2,
                    random_state=0)
    got["SASRec"] = _ndcg("beauty", sasrec.fit(train))
    return got


@pytest.mark.parametrize("key", ["movielens", "beauty"])
def test_minimum_quality_on_the_benchmark_protocols(key: str) -> None:
    got = measure_movielens() if key == "movielens" else measure_beauty()
    for name, pinned in PINNED[key].items():
        assert got[name] >= pinned - TOLERANCE[key], (key, name, got[name], pinned)
    if key == "movielens":
        # the hybrid re-ranks the personalised models' candidates and beats each of them; it
        # does not beat popularity on this split (see docs/recommend.md)
        assert got["Hybrid"] > max(got["EASE"], got["ALS"])
    else:
        # a sequence model beats popularity by far on next-item prediction
        assert got["SASRec"] > 3 * got["Popularity"]


if __name__ == "__main__":
    print({"movielens": measure_movielens(), "beauty": measure_beauty()})
