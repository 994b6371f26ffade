"""Smoke tests of the recommendation benchmark harness (benchmarks/recommend.py), no RecBole.

The splits must respect time, the tasks must hold exactly the relevant pairs a model can rank,
and the metrics and the report must come out of a tiny end-to-end run.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_recommend",
                                                  ROOT / "benchmarks" / "recommend.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_recommend"] = module
    spec.loader.exec_module(module)
    import _recommend_data

    # the harness's data, protocol and metric code lives in benchmarks/_recommend_data.py
    for name in dir(_recommend_data):
        if not name.startswith("__") and not hasattr(module, name):
            setattr(module, name, getattr(_recommend_data, name))
    return module


def tiny_events(n_users: int = 30, n_items: int = 20, per_user: int = 8,
                seed: int = 0) -> pd.DataFrame:
    """Random purchase events over 60 days; users prefer items near their own index."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        days = np.sort(rng.choice(60, size=per_user, replace=False))
        items = (u + rng.integers(0, 5, size=per_user)) % n_items
        for d, i in zip(days, items, strict=True):
            rows.append((f"u{u}", f"i{i}", "purchase", 1_600_000_000 + int(d) * 86_400 + u))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts"])


def _pairs(task, which: str = "relevant") -> set[tuple[str, str]]:
    tr = task.train
    return {(tr.user_ids[u], tr.item_ids[i]) for u, rel in zip(task.users, task.relevant,
                                                                 strict=True) for i in rel}


def test_leave_last_out_protocol_holds_out_last_and_second_to_last(bench) -> None:
    events = tiny_events()
    valid, test = bench.split_protocol(events, bench.leave_last_out_split)
    last = events.sort_values("ts").groupby("user_id").tail(1)
    second = events.sort_values("ts").groupby("user_id").nth(-2)
    tr = test.train
    # training of the test task = everything but each user's last event
    assert tr.n_events == len(events) - events["user_id"].nunique()
    for u in range(tr.n_users):
        uid = tr.user_ids[u]
        assert tr.ts[tr.users == u].max() < last.loc[last.user_id == uid, "ts"].item()
    vt = valid.train
    assert vt.n_events == len(events) - 2 * events["user_id"].nunique()
    # relevant = the held-out item unless the user already had it
    expected = {(r.user_id, r.item_id) for r in last.itertuples()}
    assert _pairs(test) <= expected
    assert len(_pairs(test)) + test.dropped_seen + test.dropped_unknown == len(expected)
    assert _pairs(valid) <= {(r.user_id, r.item_id) for r in second.itertuples()}


def test_temporal_and_last_days_splits_are_global_cuts(bench) -> None:
    events = tiny_events(seed=1)
    for split in (bench.temporal_span_split(0.2), bench.last_days_split(10)):
        train, test = split(events)
        assert len(train) and len(test) and len(train) + len(test) == len(events)
        assert train["ts"].max() < test["ts"].min()
        inner, valid = split(train)
        assert inner["ts"].max() < valid["ts"].min() <= valid["ts"].max() < test["ts"].min()
    train, test = bench.last_days_split(10)(events)
    assert test["ts"].min() >= events["ts"].max() - 10 * 86_400


def test_make_task_drops_unknown_and_seen_pairs(bench) -> None:
    train = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"],
                          "event_type": "purchase", "ts": [1, 2, 3]})
    target = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c"],
                           "item_id": ["x", "y", "y", "z", "x"],
                           "event_type": "purchase", "ts": [4, 5, 6, 7, 8]})
    task = bench.make_task(train, target)
    assert _pairs(task) == {("b", "y")}
    assert task.dropped_seen == 2  # (a, x), (a, y)
    assert task.dropped_unknown == 2  # item z, user c


def test_metrics_on_known_lists(bench) -> None:
    events = tiny_events(seed=2)
    _, task = bench.split_protocol(events, bench.leave_last_out_split)
    perfect = np.full((len(task.users), bench.K), -1, dtype=np.int64)
    for row, rel in zip(perfect, task.relevant, strict=True):
        row[: len(rel)] = rel
    got = bench.compute_metrics(["HR@10", "NDCG@10", "Recall@20", "Coverage@10", "MeanPop@10"],
                                task, perfect)
    assert got["HR@10"] == 1.0 and got["NDCG@10"] == 1.0 and got["Recall@20"] == 1.0
    assert 0 < got["Coverage@10"] <= 1
    empty = np.full_like(perfect, -1)
    empty[:, 0] = np.array([(r[0] + 1) % task.train.n_items for r in task.relevant])
    assert bench.compute_metrics(["NDCG@10"], task, empty)["NDCG@10"] == 0.0


def test_clean_top_and_draw_configs(bench) -> None:
    top = bench.clean_top(np.array([[3, 3, -5, 1]]), k=6)
    assert top.tolist() == [[3, -1, -1, 1, -1, -1]]
    space = {"a": [1, 2, 3], "b": [4, 5]}
    first = bench.draw_configs(space, {"a": 1, "b": 4}, 4)
    assert first[0] == {"a": 1, "b": 4} and len(first) == 4
    assert len({tuple(sorted(c.items())) for c in first}) == 4
    assert bench.draw_configs(dict(space), {"a": 1, "b": 4}, 4) == first  # same grid, same draw
    assert len(bench.draw_configs(space, {"a": 1, "b": 4}, 50)) == 6  # the whole grid
    # renamed keys with the same values in the same order draw the same settings
    renamed = bench.draw_configs({"x": [1, 2, 3], "y": [4, 5]}, {"x": 1, "y": 4}, 4)
    assert [(c["x"], c["y"]) for c in renamed] == [(c["a"], c["b"]) for c in first]
    # ours and implicit's BM25 item-kNN are tuned on the same settings
    ours = {s.name: s for s in bench.OURS}["ItemKNN BM25"]
    ref = {s.name: s for s in bench.REFERENCES}["implicit BM25"]
    assert [tuple(c.values()) for c in bench.draw_configs(ours.space, ours.default, 4)] == \
        [tuple(c.values()) for c in bench.draw_configs(ref.space, ref.default, 4)]


def test_tiny_run_end_to_end(bench) -> None:
    events = tiny_events(n_users=60, n_items=25, per_user=10, seed=3)
    valid, test = bench.split_protocol(events, bench.temporal_span_split(0.25))
    proto = bench.Protocol("tiny", "tiny", "global temporal split", valid, test,
                           ["NDCG@10", "Recall@20", "Coverage@10", "MeanPop@10"])
    options = bench.Options(budget=2, threads=1)
    specs = {s.name: s for s in bench.OURS + bench.REFERENCES}
    rows = [bench.run_spec(specs[name], proto, options, lambda msg: None)
            for name in ("Popularity", "ItemKNN cosine", "ItemKNN BM25", "ALS",
                         "Hybrid (LambdaRank)", "implicit Cosine")]
    for row in rows:
        assert row.metrics, row.error
        assert 0 <= row.metrics["NDCG@10"] <= 1 and row.n_configs >= 1
        assert row.fit_seconds >= 0 and row.peak_mib >= 0
    hybrid = rows[4]
    # the hybrid re-ranks the base models this run refitted, and tunes its ranker itself
    assert set(hybrid.params["bases"].split("+")) == {"popularity", "itemknn", "als"}
    assert hybrid.n_configs == 2 and hybrid.fit_seconds > rows[3].fit_seconds
    text = bench.report([(proto, rows)], options, "test", 1.0)
    assert "Goal hybrid NDCG@10 >= 1.10x" in text
    assert "| Popularity | ours |" in text and "implicit Cosine" in text
    assert "Best reference NDCG@10" in text


def test_paired_interval(bench) -> None:
    rng = np.random.default_rng(0)
    b = rng.random(400)
    assert bench.paired_interval(b, b) == (0.0, 0.0)
    lo, hi = bench.paired_interval(b + 0.05 + rng.normal(0, 0.01, 400), b)
    assert 0.04 < lo < 0.05 < hi < 0.06
    lo, hi = bench.paired_interval(rng.random(50), rng.random(50))  # noise: spans 0
    assert lo < 0 < hi
