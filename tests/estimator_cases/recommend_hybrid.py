"""Shared-check case for storemind.recommend's HybridRanker (its verb: recommend, and the
serving entry point rerank, which needs no attached base models after load)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.recommend import Interactions, ItemKNN, Popularity
from storemind.recommend.hybrid import HybridRanker


def _events() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(60):
        block = u % 3
        for step in range(8):
            rows.append((f"u{u}", f"i{block}_{(u + step) % 8}", ["view", "cart", "purchase"][
                step % 3], 86_400 * (int(rng.integers(0, 20)) + 3 * step), f"s{u}"))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts", "session_id"])


DATA = Interactions.from_frame(_events())
EMPTY = DATA.subset(np.zeros(DATA.n_events, dtype=bool))
SCORES = {"popularity": np.linspace(0, 1, DATA.n_items, dtype=np.float32),
          "itemknn": np.cos(np.arange(DATA.n_items, dtype=np.float32))}


def _models():
    return {"popularity": Popularity(), "itemknn": ItemKNN(n_neighbors=5)}


CASES = [
    Case(
        name="HybridRanker",
        make=lambda seed: HybridRanker(n_estimators=20, min_child_samples=5,
                                       random_state=seed),
        fit=lambda m: m.fit(DATA, _models()),
        verb=lambda m: m.rerank(SCORES, k=5, history=np.array([0, 1])),
        bad_fit=lambda m: m.fit(EMPTY, _models()),
    ),
]
