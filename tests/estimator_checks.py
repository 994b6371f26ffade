"""Checks that every estimator of storemind must pass, run over each registered case.

A capability registers its estimators in ``tests/estimator_cases/<capability>.py`` as a list
``CASES`` of :class:`Case`. ``test_estimators.py`` runs every check on every case, and fails when
an :class:`storemind._base.Estimator` subclass exported by a public package has no case.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from storemind._base import Estimator
from storemind.errors import DataError, NotFittedError


@dataclass
class Case:
    """How to build, fit and ask one estimator on tiny data."""

    name: str
    make: Callable[[int], Estimator]  # random_state -> unfitted estimator
    fit: Callable[[Estimator], Any]  # fits it on small data, returns what fit returned
    verb: Callable[[Estimator], Any]  # asks the capability's verb, returns the answer
    bad_fit: Callable[[Estimator], Any] | None = None  # must raise DataError
    seeded: bool = True  # same seed gives the same answer


def assert_same(a: Any, b: Any, what: str) -> None:
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        assert len(a) == len(b), what
        for x, y in zip(a, b, strict=True):
            assert_same(x, y, what)
    elif isinstance(a, pd.DataFrame | pd.Series):
        pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b), check_exact=False,
                                      rtol=1e-6, obj=what)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for k in a:
            assert_same(a[k], b[k], f"{what}[{k}]")
    else:
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        if a_arr.dtype.kind in "fc":
            np.testing.assert_allclose(a_arr, b_arr, rtol=1e-5, atol=1e-7, err_msg=what)
        else:
            np.testing.assert_array_equal(a_arr, b_arr, err_msg=what)


def check_params_only_stored(case: Case) -> None:
    est = case.make(0)
    params = est.get_params()
    clone = type(est)(**params)
    assert clone.get_params().keys() == params.keys()
    assert not est.is_fitted, "__init__ must not create learned (trailing _) attributes"


def check_not_fitted_error(case: Case) -> None:
    est = case.make(0)
    try:
        case.verb(est)
    except NotFittedError as exc:
        assert type(est).__name__ in str(exc) or "fit" in str(exc)
    else:
        raise AssertionError(f"{case.name}: verb before fit did not raise NotFittedError")


def check_fit_returns_self(case: Case) -> None:
    est = case.make(0)
    assert case.fit(est) is est, f"{case.name}: fit must return self"
    assert est.is_fitted


def check_seed(case: Case) -> None:
    if not case.seeded:
        return
    a, b = case.make(7), case.make(7)
    case.fit(a)
    case.fit(b)
    assert_same(case.verb(a), case.verb(b), f"{case.name}: same seed, different answers")


def check_save_load(case: Case, tmp: Path) -> None:
    est = case.make(0)
    case.fit(est)
    before = case.verb(est)
    est.save(tmp / case.name)
    loaded = type(est).load(tmp / case.name)
    assert_same(case.verb(loaded), before, f"{case.name}: loaded model answers differently")
    npz = tmp / case.name / "arrays.npz"
    with np.load(npz, allow_pickle=False) as z:  # would raise if anything needed pickle
        _ = [z[k] for k in z.files]


def check_bad_input(case: Case) -> None:
    if case.bad_fit is None:
        return
    est = case.make(0)
    try:
        case.bad_fit(est)
    except DataError as exc:
        assert str(exc), "the error must say what was wrong"
    else:
        raise AssertionError(f"{case.name}: malformed input did not raise DataError")


ALL_CHECKS = [
    check_params_only_stored,
    check_not_fitted_error,
    check_fit_returns_self,
    check_seed,
    check_save_load,
    check_bad_input,
]
