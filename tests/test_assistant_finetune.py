"""The fine-tuning option of IntentClassifier: it trains, moves the embeddings the right way,
and survives save and load. Tiny data and one block, so it takes seconds."""
from __future__ import annotations

import numpy as np

from storemind.assistant import IntentClassifier
from storemind.assistant._encoder import MiniLMEncoder

TEXTS = [
    "where is my parcel", "my order has not arrived", "track my delivery",
    "when will the package come", "the courier never came",
    "I want my money back", "how do I get a refund", "refund my purchase please",
    "can I return this for a refund", "give me back what I paid",
    "change my password", "I forgot my password", "reset the password of my account",
    "how to update my password", "my password does not work",
]
INTENTS = ["delivery"] * 5 + ["refund"] * 5 + ["password"] * 5


def _margin(emb: np.ndarray) -> float:
    """Mean cosine to the same intent minus mean cosine to the others."""
    y = np.array(INTENTS)
    sim = emb @ emb.T
    same = (y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)
    return float(sim[same].mean() - sim[y[:, None] != y[None, :]].mean())


def test_fine_tuning_moves_embeddings_and_round_trips(tmp_path) -> None:
    frozen = MiniLMEncoder().encode(TEXTS)
    clf = IntentClassifier(fine_tune_epochs=8, fine_tune_layers=1, fine_tune_lr=2e-4,
                           random_state=0).fit(TEXTS, INTENTS)
    tuned = clf._tuned().encode(TEXTS)
    assert tuned.shape == frozen.shape
    assert np.abs(tuned - frozen).max() > 1e-3  # the encoder changed
    assert _margin(tuned) > _margin(frozen)  # intents pulled apart
    assert clf.tuned_flat_.size > 1_000_000  # one transformer block's weights were kept
    assert (clf.predict(TEXTS) == np.array(INTENTS)).all()
    again = IntentClassifier.load(clf.save(tmp_path / "intent"))
    probe = ["parcel still not here", "I need a refund", "lost my password"]
    assert np.allclose(again.predict_proba(probe), clf.predict_proba(probe), atol=1e-5)
    assert again.predict(probe).tolist() == ["delivery", "refund", "password"]
