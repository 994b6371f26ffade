"""The storemind command as a user runs it: exit codes, counts, messages."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from storemind.cli import app

runner = CliRunner()

GOOD = (
    "event_id,user_id,item_id,event_type,value,ts\n"
    "e1,u1,i1,view,,2024-01-01\ne2,u1,i2,cart,1,2024-01-02\n"
)


def test_help_everywhere() -> None:
    for args in (
        ["--help"],
        ["init", "--help"],
        ["ingest", "--help"],
        ["train", "--help"],
        ["evaluate", "--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["status", "--help"],
        ["models", "--help"],
        ["models", "prune", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_init_ingest_status(home: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert (home / "store.duckdb").is_file()
    f = tmp_path / "ev.csv"
    f.write_text(GOOD + "e3,,i1,view,,2024-01-01\n")
    result = runner.invoke(app, ["ingest", "events", str(f)])
    assert result.exit_code == 0, result.output
    assert "read 3 = stored 2 + duplicates 0 + quarantined 1" in " ".join(result.output.split())
    assert "missing required value in column user_id" in result.output
    assert "storemind export quarantine bad.csv --table events" in " ".join(
        result.output.split())  # where to see the rows
    again = runner.invoke(app, ["ingest", "events", str(f)])
    assert again.exit_code == 0
    assert "stored 0 + duplicates 2" in " ".join(again.output.split())
    g = tmp_path / "new.csv"
    g.write_text(GOOD.replace("e1,", "n1,").replace("e2,", "n2,"))
    checked = runner.invoke(app, ["ingest", "events", str(g), "--check"])
    assert checked.exit_code == 0 and "stored 2 + duplicates 0" in " ".join(checked.output.split())
    assert "nothing was stored" in checked.output
    assert "stored 2 + duplicates 0" in " ".join(
        runner.invoke(app, ["ingest", "events", str(g)]).output.split())  # the check stored none
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0
    assert "events" in status.output and "quarantine" in status.output
    assert "storemind export quarantine bad.csv" in status.output


def test_ingest_with_mapping_and_set(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "theirs.csv"
    f.write_text("CustomerID,Sku,When\nc1,s1,2024-03-01 10:00\nc2,s2,2024-03-02 11:00\n")
    result = runner.invoke(
        app,
        [
            "ingest",
            "events",
            str(f),
            "--map",
            "CustomerID=user_id",
            "--map",
            "Sku=item_id",
            "--map",
            "When=ts",
            "--set",
            "event_type=purchase",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "stored 2" in result.output
    us = tmp_path / "us.csv"
    us.write_text("CustomerID,Sku,When\nc1,s1,3/4/2024 10:00\n")
    args = ["ingest", "events", str(us), "--map", "CustomerID=user_id", "--map", "Sku=item_id",
            "--map", "When=ts", "--set", "event_type=view"]
    unread = runner.invoke(app, args)
    assert unread.exit_code == 1 and "which number is the day" in " ".join(unread.output.split())
    read = runner.invoke(app, [*args, "--time-format", "%d/%m/%Y %H:%M"])
    assert read.exit_code == 0 and "stored 1" in read.output, read.output
    prices = tmp_path / "prices.csv"
    prices.write_text("sku;price\ns1;1.250\ns2;3,5\n")  # a European export
    eu = runner.invoke(app, ["ingest", "items", str(prices), "--map", "sku=item_id",
                             "--decimal", ","])
    assert eu.exit_code == 0 and "stored 2" in eu.output, eu.output
    bad = runner.invoke(app, ["ingest", "items", str(prices), "--decimal", ";"])
    assert bad.exit_code == 1 and "decimal separator must be" in bad.output


def test_ingest_a_folder_or_a_pattern_of_daily_exports(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Daily exports go in by one command, in name order; a broken file is reported and the
    others still go in; the total adds up; the command fails when any file failed."""
    monkeypatch.chdir(tmp_path)  # short relative names in the output
    daily = Path("daily")
    daily.mkdir()
    head = "event_id,user_id,item_id,event_type,ts\n"
    (daily / "2024-01-01.csv").write_text(head + "e1,u1,i1,view,2024-01-01\n")
    (daily / "2024-01-02.csv.gz").write_bytes(
        gzip.compress((head + "e2,u1,i2,cart,2024-01-02\ne3,,i2,cart,2024-01-02\n").encode()))
    (daily / "notes.md").write_text("not data\n")  # skipped: not a data file
    result = runner.invoke(app, ["ingest", "events", str(daily)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert out.index("2024-01-01.csv") < out.index("2024-01-02.csv.gz") and "notes" not in out
    assert "events <- 2 files: read 3 = stored 2 + duplicates 0 + quarantined 1" in out
    (daily / "2024-01-03.csv").write_text(head)  # no data rows
    (daily / "2024-01-04.csv").write_text(head + "e4,u2,i1,view,2024-01-04\n")
    again = runner.invoke(app, ["ingest", "events", str(daily / "2024-01-0*.csv")])
    out = " ".join(again.output.split())
    assert again.exit_code == 1
    assert "2024-01-03.csv has no data rows" in out and "e4" not in out
    assert "events <- 3 files: read 2 = stored 1 + duplicates 1 + quarantined 0" in out
    assert "1 of 3 files could not be stored: 2024-01-03.csv" in out
    none = runner.invoke(app, ["ingest", "events", str(daily / "nothing-*.csv")])
    assert none.exit_code == 1 and "no file matches" in none.output
    empty = Path("empty")
    empty.mkdir()
    nodata = runner.invoke(app, ["ingest", "events", str(empty)])
    assert nodata.exit_code == 1 and "without a CSV, Parquet or JSONL file" in nodata.output


def test_quarantine_export_fix_and_ingest_again(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bad rows come out with line, column and reason and their fields as written; fixed
    and ingested again they are stored (the quarantine_* columns skipped), and --clear
    empties what was exported, nothing else."""
    monkeypatch.chdir(tmp_path)
    Path("ev.csv").write_text("event_id,user_id,item_id,event_type,value,ts\n"
                              "e1,u1,i1,view,,2024-01-01\ne2,,i2,cart,1,2024-01-02\n"
                              "e3,u3,i3,purchase,abc,2024-01-03\n")
    Path("items.csv").write_text("item_id,price\nx,-1\n")
    assert runner.invoke(app, ["ingest", "events", "ev.csv"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "items", "items.csv"]).exit_code == 1
    result = runner.invoke(app, ["export", "quarantine", "bad.csv", "--table", "events"])
    assert result.exit_code == 0 and "wrote 2 quarantined rows" in result.output
    bad = pd.read_csv("bad.csv", dtype=str)
    assert bad.quarantine_line.tolist() == ["3", "4"]
    assert bad.quarantine_reason.tolist() == ["missing required value in column user_id",
                                              "not a number in column value"]
    assert bad.event_id.tolist() == ["e2", "e3"] and bad["value"].tolist() == ["1", "abc"]
    bad.loc[0, "user_id"], bad.loc[1, "value"] = "u2", "2"
    bad.to_csv("fixed.csv", index=False)
    again = runner.invoke(app, ["ingest", "events", "fixed.csv"])
    assert again.exit_code == 0 and "stored 2" in again.output
    assert "ignored" not in again.output  # the quarantine_* columns are not data
    cleared = runner.invoke(app, ["export", "quarantine", "done.jsonl", "--source", "ev.csv",
                                  "--clear"])
    assert cleared.exit_code == 0 and "2 cleared" in cleared.output
    assert len(Path("done.jsonl").read_text().splitlines()) == 2
    rest = runner.invoke(app, ["export", "quarantine", "rest.parquet"])
    assert rest.exit_code == 0 and "wrote 1 quarantined rows" in rest.output  # the item
    assert pd.read_parquet("rest.parquet").item_id.tolist() == ["x"]
    odd = runner.invoke(app, ["export", "quarantine", "bad.xls"])
    assert odd.exit_code == 1 and "cannot tell the format" in odd.output


def test_ingest_fails_only_when_nothing_can_be_stored(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,user_id,item_id,event_type,value,ts\ne1,,i1,view,,2024-01-01\n")
    result = runner.invoke(app, ["ingest", "events", str(bad)])
    assert result.exit_code == 1
    assert "no row" in result.output
    missing = runner.invoke(app, ["ingest", "events", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    unknown = runner.invoke(app, ["ingest", "nonsense", str(bad)])
    assert unknown.exit_code == 1 and "canonical tables" in unknown.output
    wrong_map = runner.invoke(app, ["ingest", "events", str(bad), "--map", "oops"])
    assert wrong_map.exit_code == 1 and "NAME=VALUE" in wrong_map.output
    # one column mapped twice: the last mapping used to win without a word
    twice = runner.invoke(app, ["ingest", "events", str(bad), "--map", "ts=event_id",
                                "--map", "ts=user_id"])
    assert twice.exit_code == 1 and "--map gives ts twice" in " ".join(twice.output.split())
    bad_format = runner.invoke(app, ["ingest", "events", str(bad), "--time-format", "%Q"])
    assert bad_format.exit_code == 1 and "time format '%Q' is not valid" in bad_format.output
    nothing = runner.invoke(app, ["ingest"])
    assert nothing.exit_code == 2


def test_status_without_store_says_what_to_do(home: Path) -> None:
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert "storemind init" in result.output


def test_experiment_analyze_on_hillstrom(home: Path) -> None:
    assert runner.invoke(app, ["ingest", "--dataset", "hillstrom"]).exit_code == 0
    unknown = runner.invoke(app, ["experiment", "analyze", "nope"])
    assert unknown.exit_code == 1 and "hillstrom_email" in unknown.output
    result = runner.invoke(app, ["experiment", "analyze", "hillstrom_email"])
    assert result.exit_code == 0, result.output
    assert "sample ratio OK" in result.output
    assert (
        "Mens E-Mail" in result.output and "+72.1%" in result.output
    )  # visit lift, Hillstrom 2008


def test_demo_store_trains_and_exports_segments(home: Path, tmp_path: Path) -> None:
    from storemind.datasets import simulate
    from storemind.store import Store

    store = Store(home / "store.duckdb")
    simulate(store, n_users=300, n_items=60, n_days=60, seed=1, progress=False)
    store.close()
    trained = runner.invoke(app, ["train", "customers"])
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "segments.csv"
    result = runner.invoke(app, ["export", "segments", str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    seg = pd.read_csv(out)
    assert {"user_id", "segment", "clv"} <= set(seg.columns) and len(seg) > 50
    bad = runner.invoke(app, ["export", "segments", str(out), "--format", "xls"])
    assert bad.exit_code == 1 and "csv, parquet or jsonl" in bad.output
    evaluated = runner.invoke(app, ["evaluate", "customers"])
    assert evaluated.exit_code == 0 and "purchases_actual" in evaluated.output
    unknown = runner.invoke(app, ["evaluate", "astrology"])  # was a ModuleNotFoundError trace
    assert unknown.exit_code == 2 and "unknown or not installed capability" in unknown.output
    # a daily retrain with STOREMIND_KEEP_VERSIONS=2 keeps the newest two versions
    for _ in range(2):
        again = runner.invoke(app, ["train", "customers"], env={"STOREMIND_KEEP_VERSIONS": "2"})
        assert again.exit_code == 0, again.output
    assert "customers: deleted v0001 (STOREMIND_KEEP_VERSIONS=2)" in " ".join(again.output.split())
    models = sorted(p.name for p in (home / "models" / "customers").glob("v*"))
    assert models == ["v0002", "v0003"]


def test_ask_answers_or_hands_off(home: Path) -> None:
    from storemind.datasets import simulate
    from storemind.store import Store

    store = Store(home / "store.duckdb")
    simulate(store, n_users=200, n_items=40, n_days=20, seed=4, progress=False)
    store.close()
    assert runner.invoke(app, ["train", "assistant"]).exit_code == 0
    known = runner.invoke(app, ["ask", "how long does shipping take?"])
    assert known.exit_code == 0, known.output
    assert "deliver" in known.output.lower() and "confidence" in known.output
    odd = runner.invoke(app, ["ask", "what is the airspeed of an unladen swallow"])
    assert odd.exit_code == 0 and "handed to a person" in odd.output


def test_plan_campaign_with_budget(home: Path, tmp_path: Path) -> None:
    from storemind.datasets import simulate
    from storemind.store import Store

    store = Store(home / "store.duckdb")
    simulate(store, n_users=400, n_items=40, n_days=40, seed=6, progress=False)
    store.close()
    assert runner.invoke(app, ["train", "marketing"]).exit_code == 0
    out = tmp_path / "plan.csv"
    result = runner.invoke(app, ["plan", "--budget", "50", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pandas as pd

    plan = pd.read_csv(out)
    assert plan.cost.sum() <= 50 + 1e-9
    assert set(plan.group) <= {"treatment", "holdout"} and "holdout" in set(plan.group)
    assert runner.invoke(app, ["plan"]).exit_code == 2


def test_models_list_rollback_prune(home: Path) -> None:
    from storemind.config import Settings
    from storemind.registry import Registry

    reg = Registry(Settings().models_path)
    for i in range(4):
        reg.register("recommend", lambda f, i=i: (f / "w.bin").write_bytes(b"x" * (i + 1) * 2**20),
                     metrics={"ndcg@10": 0.1 * i})
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert all(f"v000{i}" in listed.output for i in range(1, 5))
    assert "4.0 MiB" in listed.output and "ndcg@10=0.3" in listed.output
    back = runner.invoke(app, ["models", "rollback", "recommend"])
    assert back.exit_code == 0 and "current is now v0003 (was v0004)" in back.output
    dry = runner.invoke(app, ["models", "prune", "--keep", "1", "--dry-run"])
    assert dry.exit_code == 0 and "would delete v0001, v0002" in dry.output
    assert len(reg.versions("recommend")) == 4
    done = runner.invoke(app, ["models", "prune", "recommend", "--keep", "1"])
    assert done.exit_code == 0, done.output
    assert "deleted v0001, v0002 (3.0 MiB)" in done.output
    assert [v.version for v in reg.versions("recommend")] == ["v0003", "v0004"]
    assert reg.current_version("recommend") == "v0003"
    bad = runner.invoke(app, ["models", "prune", "nothing"])
    assert bad.exit_code == 1 and "no model registered for ['nothing']" in bad.output
    assert runner.invoke(app, ["models", "prune", "--keep", "0"]).exit_code == 2


def test_export_recommendations_for_a_campaign(trained_home: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Top-k with reasons for every customer, or for a list; the same lists the serving code
    answers; an unknown customer gets the cold-start list; a bad k is refused."""
    from storemind.recommend.service import RecommendService, ServeSettings
    from storemind.registry import Registry

    monkeypatch.setenv("STOREMIND_HOME", str(trained_home))
    out = tmp_path / "recs.csv"
    result = runner.invoke(app, ["export", "recommendations", str(out), "--k", "5"])
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype={"user_id": str, "item_id": str})
    assert list(recs.columns) == ["user_id", "rank", "item_id", "title", "score", "reason",
                                  "strategy", "model_version"]
    per_user = recs.groupby("user_id").size()
    assert len(per_user) > 100 and per_user.max() == 5 and recs.reason.notna().all()
    assert f"wrote {len(recs):,} recommendations for {len(per_user):,} customers" in " ".join(
        result.output.split())
    user = per_user.index[0]
    live = RecommendService(Registry(trained_home / "models"),
                            settings=ServeSettings(cache_size=0)).recommend(user, 5)
    assert recs[recs.user_id == user].item_id.tolist() == [i["item_id"] for i in live["items"]]
    ids = tmp_path / "ids.txt"
    ids.write_text(f"user_id\n{user}\nnobody-yet\n")
    some = tmp_path / "some.jsonl"
    result = runner.invoke(app, ["export", "recommendations", str(some), "--users", str(ids),
                                 "--k", "3"])
    assert result.exit_code == 0, result.output
    rows = pd.read_json(some, lines=True, dtype={"user_id": str, "item_id": str})
    assert rows.groupby("user_id").size().to_dict() == {user: 3, "nobody-yet": 3}
    assert set(rows[rows.user_id == "nobody-yet"].strategy) == {"popular"}
    bad = runner.invoke(app, ["export", "recommendations", str(out), "--k", "100000"])
    assert bad.exit_code == 1 and "k must be an integer" in bad.output
