"""Shared-check cases for storemind.customers estimators."""
from __future__ import annotations

import numpy as np

from estimator_checks import Case
from storemind.customers import BGNBD, GammaGamma

_rng = np.random.default_rng(0)
_T = _rng.uniform(10, 40, 300)
_R = _T * _rng.uniform(0, 1, 300)
_F = np.where(_R > 0, _rng.poisson(2, 300), 0).astype(float)
_M = np.where(_F > 0, _rng.gamma(3, 10, 300), 0.0)

CASES = [
    Case(
        name="BGNBD",
        make=lambda seed: BGNBD(),
        fit=lambda m: m.fit(_F, _R, _T),
        verb=lambda m: m.predict(10, _F, _R, _T),
        bad_fit=lambda m: m.fit(_F, _T + 1, _T),
    ),
    Case(
        name="GammaGamma",
        make=lambda seed: GammaGamma(),
        fit=lambda m: m.fit(_F, _M),
        verb=lambda m: m.predict(_F, _M),
        bad_fit=lambda m: m.fit(["a", "b"], [1, 2]),
    ),
]
