"""Runs the shared estimator checks over every registered case (see estimator_checks.py)."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import storemind
from estimator_checks import ALL_CHECKS, Case
from storemind._base import Estimator

CASES_DIR = Path(__file__).parent / "estimator_cases"


def _cases() -> list[Case]:
    cases: list[Case] = []
    for info in pkgutil.iter_modules([str(CASES_DIR)]):
        module = importlib.import_module(f"estimator_cases.{info.name}")
        cases.extend(module.CASES)
    return cases


CASES = _cases()


def _public_estimators() -> set[type]:
    found = set()
    for info in pkgutil.iter_modules(storemind.__path__):
        if info.name.startswith("_") or not info.ispkg:
            continue
        module = importlib.import_module(f"storemind.{info.name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, Estimator) and obj is not Estimator:
                found.add(obj)
    # base classes (e.g. Recommender) are checked through their concrete subclasses
    return {c for c in found if not any(o is not c and issubclass(o, c) for o in found)}


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_shared_check(case: Case, check, tmp_path: Path) -> None:
    if "tmp" in inspect.signature(check).parameters:
        check(case, tmp_path)
    else:
        check(case)


def test_every_public_estimator_has_a_case() -> None:
    covered = {type(c.make(0)) for c in CASES}
    missing = sorted(cls.__name__ for cls in _public_estimators() - covered)
    assert not missing, f"estimators without shared-check cases: {missing}"
