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

# -- segments and clusters ------------------------------------------------------------------
import pandas as pd  # noqa: E402

from storemind.customers import BehaviorClusters, RFMSegmenter  # noqa: E402

_rec = _rng.integers(0, 300, 300).astype(float)
_freq = _rng.integers(1, 12, 300).astype(float)
_mon = _rng.gamma(2, 50, 300)
_centres = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
_grp = _rng.integers(0, 3, 240)
_X = pd.DataFrame(_centres[_grp] + _rng.normal(0, 0.05, (240, 3)),
                  columns=["share_a", "share_b", "share_c"])
_X["frequency"] = _rng.poisson(3, 240).astype(float)

CASES += [
    Case(
        name="RFMSegmenter",
        make=lambda seed: RFMSegmenter(),
        fit=lambda m: m.fit(_rec, _freq, _mon),
        verb=lambda m: m.predict(_rec, _freq, _mon),
        bad_fit=lambda m: m.fit(_rec, _freq[:10], _mon),
    ),
    Case(
        name="BehaviorClusters",
        make=lambda seed: BehaviorClusters(k_range=(2, 4), sample_size=200, random_state=seed),
        fit=lambda m: m.fit(_X),
        verb=lambda m: m.predict(_X),
        bad_fit=lambda m: m.fit(_X.assign(share_a="x")[["share_a"]]),
    ),
]
