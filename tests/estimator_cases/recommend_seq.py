"""Shared-check cases for the sequence and content recommenders (SASRec, ContentRecommender)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.recommend import Interactions
from storemind.recommend.content import ContentRecommender
from storemind.recommend.sasrec import SASRec


def _events() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for u in range(24):
        start = int(rng.integers(10))
        for t in range(6):
            rows.append((f"u{u}", f"i{(start + t) % 10}", ["view", "cart", "purchase"][t % 3],
                         1_700_000_000 + 60 * t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "ts"])


DATA = Interactions.from_frame(_events())
USERS = np.arange(DATA.n_users + 2)  # two cold users as well
EMPTY = DATA.subset(np.zeros(DATA.n_events, dtype=bool))
EMBEDDINGS = np.random.default_rng(2).standard_normal((DATA.n_items, 8)).astype(np.float32)
LIVE = [np.array([0, 1]), np.array([5, -1, 6]), np.array([], dtype=np.int64)]


def _sasrec(seed: int) -> SASRec:
    return SASRec(hidden_size=8, n_heads=2, n_blocks=1, max_len=6, epochs=3, batch_size=8,
                  n_threads=1, random_state=seed)


CASES = [
    Case(
        name="SASRec",
        make=_sasrec,
        fit=lambda m: m.fit(DATA),
        verb=lambda m: m.recommend(USERS, k=4),
        bad_fit=lambda m: m.fit(EMPTY),
    ),
    Case(
        name="SASRec-live-sequences",
        make=_sasrec,
        fit=lambda m: m.fit(DATA),
        verb=lambda m: m.recommend_sequences(LIVE, k=4),
        bad_fit=lambda m: m.fit(DATA, valid=_events()),  # a frame, not Interactions
    ),
    Case(
        name="ContentRecommender",
        make=lambda seed: ContentRecommender(random_state=seed),
        fit=lambda m: m.fit(DATA, embeddings=EMBEDDINGS),
        verb=lambda m: m.recommend(USERS, k=4),
        bad_fit=lambda m: m.fit(DATA),  # no item text at all
    ),
    Case(
        name="ContentRecommender-live-sequences",
        make=lambda seed: ContentRecommender(random_state=seed),
        fit=lambda m: m.fit(DATA, embeddings=EMBEDDINGS),
        verb=lambda m: m.recommend_sequences(LIVE, k=4),
        bad_fit=lambda m: m.fit(EMPTY, embeddings=EMBEDDINGS),
    ),
]
