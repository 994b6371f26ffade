"""Shared-check cases for storemind.risk estimators."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.risk import ECOD, FraudGBM

_rng = np.random.default_rng(0)
_n = 400
_X = pd.DataFrame({"a": _rng.normal(size=_n), "b": _rng.exponential(size=_n),
                   "m": _rng.choice(["card", "paypal"], _n)})
_y = ((_X.a + _rng.normal(scale=0.5, size=_n) > 1.2) | (_X.m == "paypal") & (_X.b > 2.5))
_y = _y.astype(int).to_numpy()

CASES = [
    Case(
        name="FraudGBM",
        make=lambda seed: FraudGBM(n_estimators=60, random_state=seed),
        fit=lambda m: m.fit(_X, _y),
        verb=lambda m: (m.predict_proba(_X), m.contributions(_X)),
        bad_fit=lambda m: m.fit(_X, np.full(_n, 2)),
    ),
    Case(
        name="ECOD",
        make=lambda seed: ECOD(random_state=seed),
        fit=lambda m: m.fit(_X[["a", "b"]]),
        verb=lambda m: m.score(_X[["a", "b"]]),
        bad_fit=lambda m: m.fit(_X),  # a text column
    ),
]
