"""Shared-check cases for storemind.recommend estimators."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.recommend import (
    ALS,
    BPR,
    EASE,
    BoughtTogether,
    Interactions,
    ItemKNN,
    Popularity,
)


def _events() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(30):
        block = u % 3
        for n, i in enumerate(rng.choice(6, size=4, replace=False)):
            rows.append((f"u{u}", f"i{block}_{i}", ["view", "cart", "purchase"][n % 3],
                         1_700_000_000 + 3600 * len(rows), f"s{u}"))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts", "session_id"])


DATA = Interactions.from_frame(_events())
USERS = np.arange(DATA.n_users + 2)  # two cold users as well
EMPTY = DATA.subset(np.zeros(DATA.n_events, dtype=bool))


def _case(name: str, make) -> Case:
    return Case(
        name=name,
        make=make,
        fit=lambda m: m.fit(DATA),
        verb=lambda m: m.recommend(USERS, k=5),
        bad_fit=lambda m: m.fit(EMPTY),
    )


CASES = [
    _case("Popularity", lambda seed: Popularity(random_state=seed)),
    _case("ItemKNN", lambda seed: ItemKNN(n_neighbors=5, random_state=seed)),
    _case("ItemKNN-bm25", lambda seed: ItemKNN(similarity="bm25", random_state=seed)),
    _case("EASE", lambda seed: EASE(l2=10.0, random_state=seed)),
    _case("ALS", lambda seed: ALS(factors=4, iterations=3, random_state=seed)),
    _case("BPR", lambda seed: BPR(factors=4, iterations=10, random_state=seed)),
    _case("BoughtTogether", lambda seed: BoughtTogether(min_support=1, random_state=seed)),
    Case(
        name="EASE-similar-items",
        make=lambda seed: EASE(random_state=seed),
        fit=lambda m: m.fit(DATA),
        verb=lambda m: m.similar_items(np.arange(3), k=2),
        bad_fit=lambda m: m.fit(_events()),  # a frame, not Interactions
    ),
]
