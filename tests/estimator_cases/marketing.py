"""Shared-check cases for storemind.marketing estimators."""
from __future__ import annotations

import numpy as np
import pandas as pd

from estimator_checks import Case
from storemind.marketing import (
    AutoUplift,
    ClassTransformation,
    ClickModel,
    DRLearner,
    SLearner,
    TLearner,
    XLearner,
)

_rng = np.random.default_rng(0)
_n = 600
_X = pd.DataFrame({"a": _rng.normal(size=_n), "b": _rng.uniform(size=_n),
                   "c": _rng.choice(["web", "phone"], _n)})
_arm = _rng.choice(["control", "mail", "sms"], _n)
_p = 0.2 + 0.3 * (_arm == "mail") * (_X.a > 0) + 0.2 * (_arm == "sms") * (_X.c == "web")
_y = (_rng.uniform(size=_n) < _p).astype(float)
_small = {"n_estimators": 20, "min_child_samples": 10}


def _uplift_case(cls: type) -> Case:
    return Case(
        name=cls.__name__,
        make=lambda seed: cls(**_small, n_bags=2, random_state=seed),
        fit=lambda m: m.fit(_X, _arm, _y),
        verb=lambda m: (m.predict_uplift(_X), m.predict_interval(_X)),
        bad_fit=lambda m: m.fit(_X, np.full(_n, "control"), _y),
    )


_clicks = (_rng.uniform(size=_n) < 0.1 + 0.2 * (_X.c == "web")).astype(float)

CASES = [
    *[_uplift_case(c) for c in (SLearner, TLearner, XLearner, DRLearner, ClassTransformation)],
    Case(
        name="ClickModel",
        make=lambda seed: ClickModel(n_estimators=20, min_child_samples=10, random_state=seed),
        fit=lambda m: m.fit(_X, _clicks),
        verb=lambda m: m.predict_proba(_X),
        bad_fit=lambda m: m.fit(_X, np.full(_n, 3.0)),
    ),
    Case(
        name="AutoUplift",
        make=lambda seed: AutoUplift(candidates=["t_linear", "s_lightgbm"], random_state=seed),
        fit=lambda m: m.fit(_X, _arm, _y),
        verb=lambda m: (m.predict_uplift(_X), m.predict_interval(_X)),
        bad_fit=lambda m: m.fit(_X, np.full(_n, "control"), _y),
    ),
]
