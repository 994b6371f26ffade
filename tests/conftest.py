from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # estimator_checks, estimator_cases

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STOREMIND_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared public datasets (present in CI; a missing folder is a failure, not a skip)."""
    assert DATA.is_dir(), f"shared data not found at {DATA}; set STOREMIND_DATA"
    return DATA


@pytest.fixture()
def store(tmp_path):
    from storemind.store import Store

    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    """A fresh STOREMIND_HOME for tests that go through settings (CLI, API)."""
    h = tmp_path / "home"
    monkeypatch.setenv("STOREMIND_HOME", str(h))
    monkeypatch.setenv("STOREMIND_DATA", str(DATA))
    return h


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test run (starting one takes ~7 s)."""
    from storemind.store.spark import spark_session

    session = spark_session("local[2]", "storemind-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory) -> Path:
    """A small simulated store with every capability trained, as `storemind demo` makes it
    (about 15 s); for tests that need a whole trained server. Treat it as read-only."""
    from typer.testing import CliRunner

    from storemind.cli import app

    home = tmp_path_factory.mktemp("trained") / "home"
    r = CliRunner().invoke(app, ["demo", "--no-serve", "--home", str(home), "--users", "400",
                                 "--items", "120", "--days", "60"])
    assert r.exit_code == 0, r.output
    return home
