"""HybridRanker: LambdaRank over base models' candidates; the Bundle round trip."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.errors import DataError, NotFittedError, RegistryError
from storemind.recommend import ALS, EASE, Interactions, ItemKNN, Popularity
from storemind.recommend._bundle import Bundle, load_bundle, save_bundle
from storemind.recommend.hybrid import HybridRanker, history_scores

DAY = 86_400


def _events(n_users: int = 240, n_items: int = 60, days: int = 60, seed: int = 0
            ) -> pd.DataFrame:
    """Users of 4 tastes; each taste walks its own item block in order, so the next items
    are predictable from the history (item-kNN / EASE learn it, popularity cannot)."""
    rng = np.random.default_rng(seed)
    block = n_items // 4
    rows = []
    for u in range(n_users):
        taste = u % 4
        start = int(rng.integers(0, days // 2))
        pos = int(rng.integers(0, block))
        for step in range(int(rng.integers(6, 14))):
            item = taste * block + (pos + step) % block
            etype = ["view", "view", "cart", "purchase"][int(rng.integers(4))]
            rows.append((f"u{u}", f"i{item}", etype,
                         (start + 2 * step) * DAY + int(rng.integers(DAY)), f"s{u}_{step // 3}"))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts", "session_id"])


def _catalogue(n_items: int = 60) -> pd.DataFrame:
    return pd.DataFrame({"item_id": [f"i{i}" for i in range(n_items)],
                         "category": [f"c{i // 15}" for i in range(n_items)],
                         "price": np.linspace(5, 50, n_items)})


@pytest.fixture(scope="module")
def fitted():
    inter = Interactions.from_frame(_events())
    models = {"popularity": Popularity(), "itemknn": ItemKNN(n_neighbors=20),
              "ease": EASE(l2=10.0), "als": ALS(factors=8, iterations=5, num_threads=1)}
    hybrid = HybridRanker(n_estimators=60, random_state=0).fit(inter, models, _catalogue())
    return inter, models, hybrid


def test_hybrid_learns_the_walk_better_than_popularity(fitted):
    inter, models, hybrid = fitted
    # the next item of every user, held out by the time order: the last event of each user
    users = np.arange(inter.n_users)
    top, scores = hybrid.recommend(users, k=5)
    assert top.shape == (inter.n_users, 5) and (top >= 0).all()
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    seen = models["itemknn"].seen_
    assert not any(seen[u, i] > 0 for u, row in enumerate(top) for i in row)
    # items of the user's own taste block dominate the hybrid's lists, not popularity's
    block = inter.n_items // 4
    taste = np.array([int(str(u)[1:]) % 4 for u in inter.user_ids])
    item_block = np.array([int(str(i)[1:]) // block for i in inter.item_ids])
    own = (item_block[top] == taste[:, None]).mean()
    pop_top, _ = models["popularity"].recommend(users, k=5)
    pop_own = (item_block[pop_top] == taste[:, None]).mean()
    # measured 0.84 (users who saw most of their 15-item block must leave it), popularity ~0.25
    assert own > 0.75 and own > pop_own + 0.4
    assert hybrid.train_stats_["candidate_recall"] > 0.5
    assert set(hybrid.model_names_) == set(models)


def test_holdout_ndcg_compares_the_ranker_with_each_base_model(fitted):
    """On the walk, item-kNN / EASE order the held-out users' candidates far better than
    popularity; the ranker's own score is LightGBM's early-stopping NDCG@10, recomputed."""
    from storemind.evaluation import grouped_ndcg

    assert fitted[2].holdout_ndcg_ == {}  # too few users to hold some out: no early stopping
    inter = Interactions.from_frame(_events(n_users=800, seed=1))
    models = {"popularity": Popularity(), "itemknn": ItemKNN(n_neighbors=20),
              "ease": EASE(l2=10.0), "als": ALS(factors=8, iterations=5, num_threads=1)}
    hybrid = HybridRanker(n_estimators=60, random_state=0).fit(inter, models, _catalogue())
    h = hybrid.holdout_ndcg_
    assert set(h) == {"ranker", *models}
    assert all(0 <= v <= 1 for v in h.values())
    best = max(hybrid.ranker_trials_, key=lambda t: t["ndcg@10"])["ndcg@10"]
    assert h["ranker"] == pytest.approx(best, abs=1e-6)
    assert max(h["itemknn"], h["ease"]) > h["popularity"] + 0.2
    assert h["ranker"] > h["popularity"]
    # the metric itself: one group ranked right, one wrong, one without a positive
    y = np.array([1, 0, 0, 0, 1, 0, 0])
    s = np.array([3.0, 2.0, 1.0, 2.0, 1.0, 5.0, 4.0])
    assert grouped_ndcg(s, y, np.array([3, 2, 2])) == pytest.approx(
        (1 + 1 / np.log2(3) + 1) / 3)
    assert grouped_ndcg(np.zeros(3), np.array([0, 0, 1]), [3], k=2) == 0.0  # ties: row order
    with pytest.raises(DataError, match="must agree"):
        grouped_ndcg(s, y, np.array([3, 3]))


def test_sources_filters_and_cold_users(fitted):
    inter, models, hybrid = fitted
    items, _, sources = hybrid.recommend_with_sources(np.array([0, 1]), k=4)
    assert ((sources >= -1) & (sources < len(hybrid.model_names_))).all()
    drop = np.zeros(inter.n_items, dtype=bool)
    drop[items[0, 0]] = True
    again, _ = hybrid.recommend(np.array([0]), k=4, filter_items=drop)
    assert items[0, 0] not in again[0] and (again >= 0).all()
    cold, _ = hybrid.recommend(np.array([inter.n_users + 3]), k=4)
    assert (cold >= 0).all()
    with pytest.raises(DataError):
        hybrid.recommend(np.array([-1]), k=3)
    with pytest.raises(DataError):
        hybrid.recommend(np.array([0]), k=3, filter_items=np.zeros(3, dtype=bool))


def test_rerank_matches_recommend_for_a_known_user(fitted):
    inter, models, hybrid = fitted
    user = 5
    scores = {n: models[n].score(np.array([user]))[0] for n in hybrid.model_names_}
    seen = models["itemknn"].seen_[user].indices
    hist = inter.items[(inter.users == user) & (inter.weights > 0)]
    w = inter.weights[(inter.users == user) & (inter.weights > 0)]
    items, vals, src = hybrid.rerank(scores, k=5, exclude=seen, history=hist,
                                     history_weights=w,
                                     user_features={"log_events": np.log1p(len(hist)),
                                                    "user_idle_days": (hybrid.now_ - inter.ts[
                                                        inter.users == user].max()) / DAY})
    expected, _ = hybrid.recommend(np.array([user]), k=5)
    np.testing.assert_array_equal(items, expected[0])
    assert src.shape == (5,)
    with pytest.raises(DataError, match="unknown model"):
        hybrid.rerank({"nope": scores["ease"]}, k=3)


def test_basket_and_similar_items(fitted):
    inter, models, hybrid = fitted
    basket = inter.item_index(["i3", "i4"])
    items, scores, _ = hybrid.complete_basket(basket, k=5)
    assert not set(items.tolist()) & set(basket.tolist())
    block = inter.n_items // 4
    ids = [int(str(inter.item_ids[i])[1:]) for i in items]
    assert np.mean([i // block == 0 for i in ids]) >= 0.6  # same taste block as i3, i4
    sim, _ = hybrid.similar_items(basket, k=3)
    assert sim.shape == (2, 3) and basket[0] not in sim[0]
    live = history_scores(models, basket)
    assert set(live) == set(models) and all(v.shape == (inter.n_items,) for v in live.values())


def test_bundle_round_trip(fitted, tmp_path):
    inter, models, hybrid = fitted
    bundle = Bundle(inter, models, hybrid, _catalogue().assign(in_stock=True), {"a": 1})
    save_bundle(bundle, tmp_path / "b")
    back = load_bundle(tmp_path / "b")
    users = np.arange(20)
    np.testing.assert_array_equal(back.hybrid.recommend(users, k=5)[0],
                                  hybrid.recommend(users, k=5)[0])
    np.testing.assert_array_equal(back.interactions.user_ids, inter.user_ids)
    assert back.meta == {"a": 1} and back.catalogue["in_stock"].all()
    assert set(back.models) == set(models)
    doc = (tmp_path / "b" / "bundle.json").read_text()
    (tmp_path / "b" / "bundle.json").write_text(doc.replace(
        "storemind.recommend.ease.EASE", "os.system"))
    with pytest.raises(RegistryError, match="only storemind.recommend"):
        load_bundle(tmp_path / "b")


def test_bad_input_and_not_fitted():
    inter = Interactions.from_frame(_events(n_users=40))
    with pytest.raises(NotFittedError):
        HybridRanker().recommend(np.array([0]))
    with pytest.raises(DataError, match="models"):
        HybridRanker().fit(inter, {})
    with pytest.raises(DataError, match="base Recommender"):
        HybridRanker().fit(inter, {"x": "not a model"})
    with pytest.raises(DataError, match="valid_fraction"):
        HybridRanker(valid_fraction=1.5).fit(inter, {"p": Popularity()})
    one_day = _events(n_users=40).assign(ts=0)
    with pytest.raises(DataError, match="both sides"):
        HybridRanker().fit(Interactions.from_frame(one_day), {"p": Popularity()})


def test_movielens_100k_temporal_minimum_quality():
    """MovieLens 100K, one global cut at 80% of the time span; relevant = the new items each
    user rated after it. Measured by this test's code (2026-12, seed 0):
    hybrid NDCG@10 0.1552; EASE 0.1540, popularity 0.1385, ALS 0.1331, item-kNN 0.1318.
    Command: .venv/bin/python -m pytest tests/test_recommend_hybrid.py -k movielens -q -s
    """
    import os
    from pathlib import Path

    from storemind.evaluation import ndcg_at_k
    from storemind.recommend.tune import time_task

    data = Path(os.environ.get("STOREMIND_DATA", Path(__file__).parents[1] / "../shared/data"))
    raw = pd.read_csv(data / "movielens_100k" / "u.data.gz", sep="\t",
                      names=["user_id", "item_id", "value", "ts"])
    events = raw.assign(event_type="rating", user_id=raw.user_id.astype(str),
                        item_id=raw.item_id.astype(str))
    task = time_task(Interactions.from_frame(events), fraction=0.2)
    models = {"popularity": Popularity(half_life_days=None), "itemknn": ItemKNN(),
              "ease": EASE(l2=500.0), "als": ALS(factors=32, iterations=10, num_threads=1,
                                                random_state=0)}
    hybrid = HybridRanker(n_estimators=150, random_state=0).fit(task.train, models)
    got = {n: ndcg_at_k(m.recommend(task.users, k=10)[0], task.relevant, 10)
           for n, m in {**models, "hybrid": hybrid}.items()}
    print(got)
    assert got["hybrid"] >= 0.1552 - 0.01
    assert got["hybrid"] >= max(v for n, v in got.items() if n != "hybrid") - 0.005


def test_holdout_last_trains_on_each_users_last_event():
    """With times that are only an order (leave-last-out data), the ranker's labels are each
    user's last event; the walk is still learnt better than popularity."""
    from storemind.recommend.tune import last_event_mask

    frame = _events(n_users=160)
    # times become positions in each user's sequence, the same for every user
    frame = frame.sort_values(["user_id", "ts"]).assign(
        ts=lambda f: f.groupby("user_id").cumcount())
    inter = Interactions.from_frame(frame)
    mask = last_event_mask(inter)
    assert mask.sum() == inter.n_users  # every user has several events
    last_ts = pd.Series(inter.ts).groupby(inter.users).max().to_numpy()
    assert np.array_equal(inter.ts[mask][np.argsort(inter.users[mask])], last_ts)
    models = {"popularity": Popularity(), "itemknn": ItemKNN(n_neighbors=20)}
    hybrid = HybridRanker(holdout="last", n_estimators=40, random_state=0).fit(inter, models)
    assert hybrid.cutoff_ == -1 and hybrid.train_stats_["users"] > 50
    top, _ = hybrid.recommend(np.arange(inter.n_users), k=5)
    block = inter.n_items // 4
    taste = np.array([int(str(u)[1:]) % 4 for u in inter.user_ids])
    item_block = np.array([int(str(i)[1:]) // block for i in inter.item_ids])
    own = (item_block[top] == taste[:, None]).mean()
    pop_top, _ = models["popularity"].recommend(np.arange(inter.n_users), k=5)
    assert own > 0.75 and own > (item_block[pop_top] == taste[:, None]).mean() + 0.4
    with pytest.raises(DataError, match="holdout"):
        HybridRanker(holdout="sometimes").fit(inter, models)
    with pytest.raises(DataError, match="holdout='time'"):
        HybridRanker(holdout="last").fit(inter, models, cutoff=3)
