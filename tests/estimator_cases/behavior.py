"""Shared-check cases for storemind.behavior estimators."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.behavior import ChurnModel, NextCategory, PurchasePropensity, SequenceChurn

_rng = np.random.default_rng(0)
_n = 400
_X = pd.DataFrame({
    "recency_days": _rng.integers(0, 200, _n).astype(float),
    "frequency": _rng.integers(1, 10, _n).astype(float),
    "channel": _rng.choice(["web", "app", None], _n),
})
_logit = 0.02 * (_X.recency_days - 100) - 0.3 * (_X.frequency - 5)
_y = (_rng.uniform(size=_n) < 1 / (1 + np.exp(-_logit))).astype(int)

_L = 12
_kind = _rng.integers(1, 4, (200, _L))
_kind[:100, :6] = 0  # half the customers have short histories ...
_ys = (_kind == 0).any(1).astype(int)  # ... and those churn
_seqs = {"kind": _kind, "cat": _rng.integers(0, 5, (200, _L)),
         "gap": _rng.uniform(0, 2, (200, _L)).astype(np.float32),
         "age": _rng.uniform(0, 3, (200, _L)).astype(np.float32),
         "value": np.zeros((200, _L), dtype=np.float32)}

_cats = _rng.integers(1, 5, (300, 8))
_next = _cats[:, -1]

CASES = [
    Case(
        name="ChurnModel",
        make=lambda seed: ChurnModel(n_estimators=60, random_state=seed),
        fit=lambda m: m.fit(_X, _y),
        verb=lambda m: m.predict_proba(_X),
        bad_fit=lambda m: m.fit(_X, np.zeros(_n)),
    ),
    Case(
        name="PurchasePropensity",
        make=lambda seed: PurchasePropensity(n_estimators=60, random_state=seed),
        fit=lambda m: m.fit(_X, 1 - _y),
        verb=lambda m: m.predict_proba(_X),
        bad_fit=lambda m: m.fit(_X, _y[:10]),
    ),
    Case(
        name="SequenceChurn",
        make=lambda seed: SequenceChurn(hidden=8, epochs=2, random_state=seed),
        fit=lambda m: m.fit(_seqs, _ys),
        verb=lambda m: m.predict_proba(_seqs),
        bad_fit=lambda m: m.fit({"kind": _kind}, _ys),
    ),
    Case(
        name="NextCategory",
        make=lambda seed: NextCategory(),
        fit=lambda m: m.fit(_cats, _next),
        verb=lambda m: m.predict_proba(_cats),
        bad_fit=lambda m: m.fit(_cats[:, 0], _next),
    ),
]
