"""Minimum-quality tests of every recommender on MovieLens 100K.

Protocol: one global temporal split (the last 20% of ratings by time are the test set), ratings
>= 4 in the test set are the relevant items, every training rating is an interaction (binary),
full ranking over all training items, items seen in training excluded; test users and items
unknown to training are left out. Numbers were measured with
``.venv/bin/python tests/test_recommend_movielens.py`` (prints the table) and pinned with a
tolerance below.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storemind.recommend import ALS, BPR, EASE, BoughtTogether, Interactions, ItemKNN, Popularity

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STOREMIND_DATA", ROOT.parent / "shared" / "data")).resolve()


def load_split(data: Path = DATA) -> tuple[Interactions, list[np.ndarray]]:
    """Training interactions and, per training user, the relevant test items."""
    raw = pd.read_csv(data / "movielens_100k" / "u.data.gz", sep="\t",
                      names=["user_id", "item_id", "rating", "ts"])
    raw = raw.sort_values("ts", kind="stable").reset_index(drop=True)
    cut = int(len(raw) * 0.8)
    events = pd.DataFrame({
        "user_id": raw["user_id"].astype(str), "item_id": raw["item_id"].astype(str),
        "event_type": "rating", "ts": raw["ts"],
    })
    train = Interactions.from_frame(events.iloc[:cut])
    positives = events.iloc[cut:][raw["rating"].iloc[cut:].to_numpy() >= 4]
    test = Interactions.from_frame(positives, user_ids=train.user_ids, item_ids=train.item_ids)
    seen = train.seen()
    relevant: list[np.ndarray] = [np.array([], dtype=np.int64)] * train.n_users
    for u in np.unique(test.users):
        items = np.unique(test.items[test.users == u])
        items = items[seen[u].toarray().ravel()[items] == 0]
        relevant[u] = items.astype(np.int64)
    return train, relevant


def ndcg_at_k(recommended: np.ndarray, relevant: list[np.ndarray], k: int) -> float:
    """Mean binary-gain NDCG@k over users with relevant items (local helper)."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    values = []
    for rec, rel in zip(recommended, relevant, strict=True):
        if len(rel) == 0:
            continue
        hit = np.isin(rec[:k], rel)
        values.append((hit * discount).sum() / discount[: min(len(rel), k)].sum())
    return float(np.mean(values))


def recall_at_k(recommended: np.ndarray, relevant: list[np.ndarray], k: int) -> float:
    """Mean share of each user's relevant items found in the top k (local helper)."""
    values = [np.isin(rel, rec[:k]).mean() for rec, rel in zip(recommended, relevant, strict=True)
              if len(rel)]
    return float(np.mean(values))


def evaluate(model, train: Interactions, relevant: list[np.ndarray]) -> tuple[float, float]:
    users = np.array([u for u, rel in enumerate(relevant) if len(rel)])
    items, _ = model.recommend(users, k=20)
    rel = [relevant[u] for u in users]
    return ndcg_at_k(items, rel, 10), recall_at_k(items, rel, 20)


# Best settings of a small grid (see docs/recommend.md for the grid), and the measured numbers
# (NDCG@10, Recall@20) from `.venv/bin/python tests/test_recommend_movielens.py`.
MODELS = {
    "Popularity": (lambda: Popularity(half_life_days=7), (0.2197, 0.3025)),
    "ItemKNN": (lambda: ItemKNN(similarity="cosine", n_neighbors=50, shrinkage=0),
                (0.1440, 0.1250)),
    "ItemKNN-bm25": (lambda: ItemKNN(similarity="bm25", n_neighbors=200, shrinkage=0),
                     (0.1285, 0.1103)),
    "EASE": (lambda: EASE(l2=200.0), (0.1531, 0.1939)),
    "ALS": (lambda: ALS(factors=32, regularization=0.1, alpha=1.0, iterations=10,
                        random_state=0), (0.1477, 0.1431)),
    "BPR": (lambda: BPR(factors=32, learning_rate=0.01, iterations=20, random_state=0),
            (0.1398, 0.1373)),
    "BoughtTogether": (lambda: BoughtTogether(event_types=("rating",), basket="user_day",
                                              min_support=2), (0.1582, 0.1881)),
}
TOL = 0.01  # absolute; deterministic models reproduce exactly, the tolerance covers BLAS order


@pytest.fixture(scope="module")
def split(data_dir):
    return load_split(data_dir)


@pytest.mark.parametrize("name", list(MODELS))
def test_movielens_quality(name: str, split) -> None:
    make, (ndcg, recall) = MODELS[name]
    train, relevant = split
    got_ndcg, got_recall = evaluate(make().fit(train), train, relevant)
    assert got_ndcg == pytest.approx(ndcg, abs=TOL), f"{name} NDCG@10"
    assert got_recall == pytest.approx(recall, abs=TOL), f"{name} Recall@20"


if __name__ == "__main__":  # prints the numbers pinned above
    train, relevant = load_split()
    print(f"{train.n_users} users, {train.n_items} items, {train.n_events} training events, "
          f"{sum(len(r) > 0 for r in relevant)} test users", file=sys.stderr)
    for name, (make, _) in MODELS.items():
        t = time.time()
        n, r = evaluate(make().fit(train), train, relevant)
        print(f"{name:15s} NDCG@10 {n:.4f}  Recall@20 {r:.4f}  ({time.time() - t:.1f} s)")
