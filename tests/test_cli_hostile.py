"""The storemind command with wrong arguments on a trained store: every one ends with a clear
message and exit status 1 or 2, never a Python traceback, and changes nothing stored.

(`storemind evaluate astrology` printed a ModuleNotFoundError traceback until 2026-11-29.)
"""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from storemind.cli import app


def _cases(tmp: Path) -> list[list[str]]:
    return [
        ["evaluate", "astrology"],
        ["train", "astrology"],
        ["models", "list", "astrology"],
        ["models", "rollback", "risk", "v9999"],
        ["models", "prune", "--keep", "0"],
        ["plan", "--budget", "-5"],
        ["plan", "--budget", "abc"],
        ["experiment", "analyze", "nope"],
        ["experiment", "analyze", "CMP0001", "--metric", "nonsense.x"],
        ["ask", ""],
        ["ingest"],
        ["ingest", "events", str(tmp / "missing.csv")],
        ["ingest", "events", str(tmp / "empty")],  # a folder without data files
        ["ingest", "events", str(tmp / "nothing-*.csv")],  # a pattern matching nothing
        ["ingest", "events", str(tmp / "events.csv"), "--time-format", "%Q"],
        ["ingest", "events", str(tmp / "events.csv"), "--encoding", "ebcdic"],
        ["ingest", "events", str(tmp / "events.csv"), "--decimal", ";"],
        ["ingest", "events", str(tmp / "events.csv"), "--map", "ts=ts", "--map", "ts=user_id"],
        ["ingest", "astrology", str(tmp / "events.csv")],
        ["ingest", "--dataset", "astrology"],
        ["export", "segments", str(tmp / "out.csv"), "--format", "xls"],
        ["status", "--home", str(tmp / "nowhere")],
    ]


def test_wrong_arguments_end_in_a_message_not_a_traceback(trained_home, tmp_path,
                                                          monkeypatch) -> None:
    from storemind.config import Settings
    from storemind.store import Store

    monkeypatch.setenv("STOREMIND_HOME", str(trained_home))
    (tmp_path / "events.csv").write_text("event_id,user_id,event_type,ts\ne1,u,view,2024-01-01\n")
    (tmp_path / "empty").mkdir()
    with Store.open(Settings(home=trained_home), read_only=True) as store:
        before = store.counts()
    versions = sorted(p.name for p in (trained_home / "models").glob("*/v*"))
    runner = CliRunner()
    for args in _cases(tmp_path):
        result = runner.invoke(app, args)
        out = result.output
        assert result.exit_code in (1, 2), (args, result.exit_code, out[-500:])
        assert "Traceback" not in out and not isinstance(result.exception, AssertionError), args
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            pytest.fail(f"{args}: {result.exception!r}")
        assert "error" in out.lower() or "usage" in out.lower(), (args, out[-300:])
    with Store.open(Settings(home=trained_home), read_only=True) as store:
        assert store.counts() == before
    assert sorted(p.name for p in (trained_home / "models").glob("*/v*")) == versions
