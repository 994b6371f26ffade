"""The same Ibis pipeline gives the same answer on DuckDB and on Spark (local[2])."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from storemind.customers._features import rfm
from storemind.store import SparkStore, Store


def _orders(seed: int = 3, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200 * 86400, n), unit="s")
    return pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)],
        "user_id": rng.choice([f"u{i}" for i in range(40)] + [None], n),
        "ts": ts,
        "total": np.round(rng.gamma(2.0, 20.0, n), 2),
        "kind": rng.choice(["sale", "sale", "sale", "return"], n),
    })


@pytest.mark.spark
def test_rfm_is_identical_on_duckdb_and_spark(store: Store, spark, tmp_path) -> None:
    report = store.ingest("orders", _orders())
    assert report.stored == 400
    as_of = datetime(2024, 6, 1)
    on_duck = store.execute(rfm(store, as_of)).reset_index(drop=True)
    sstore = SparkStore.from_store(store, spark, tables=["orders"], workdir=tmp_path / "spark")
    on_spark = sstore.execute(rfm(sstore, as_of)).reset_index(drop=True)
    assert len(on_duck) > 20
    assert on_duck.recency_days.min() >= 0
    pd.testing.assert_frame_equal(
        on_duck.astype({"frequency": "int64", "recency_days": "int64", "tenure_days": "int64"}),
        on_spark.astype({"frequency": "int64", "recency_days": "int64", "tenure_days": "int64"}),
        check_dtype=False, check_exact=False, rtol=1e-9,
    )
    # and the expression really reads the store: sale orders only, before as_of
    orders = store.frame("orders")
    sales = orders[(orders.kind == "sale") & orders.user_id.notna() & (orders.ts < as_of)]
    expected = sales.groupby("user_id").total.sum().sort_index()
    np.testing.assert_allclose(on_duck.set_index("user_id").monetary.sort_index(), expected)


def test_rfm_defaults_as_of_to_last_order(store: Store) -> None:
    store.ingest("orders", _orders())
    out = store.execute(rfm(store))
    assert out.recency_days.min() == 0
    assert (out.frequency >= 1).all()


@pytest.mark.spark
def test_event_sequences_are_identical_on_duckdb_and_spark(store: Store, spark, tmp_path
                                                           ) -> None:
    from storemind.behavior import sequences

    rng = np.random.default_rng(4)
    store.ingest("items", pd.DataFrame({"item_id": [f"i{j}" for j in range(12)],
                                        "category": ["A", "B", "C", None] * 3}))
    n = 300
    # whole seconds on a coarse grid, so that several events share an instant (baskets)
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 100, n) * 7200, unit="s")
    store.ingest("events", pd.DataFrame({
        "user_id": rng.choice([f"u{j}" for j in range(15)], n),
        "item_id": rng.choice([f"i{j}" for j in range(12)], n),
        "event_type": rng.choice(["view", "cart", "purchase"], n), "ts": ts,
        "value": np.round(rng.gamma(2.0, 10.0, n), 2)}))
    users = pd.Index([f"u{j}" for j in range(16)])  # u15 has no events
    cut = datetime(2024, 1, 12)
    on_duck = sequences(store, cut, users, max_len=8)
    sstore = SparkStore.from_store(store, spark, tables=["events", "items"],
                                   workdir=tmp_path / "spark")
    on_spark = sequences(sstore, cut, users, max_len=8)
    assert on_duck["categories"] == on_spark["categories"] == ["A", "B", "C"]
    assert (on_duck["count"] > np.log1p(1) + 1e-6).any()  # some steps merge several events
    assert on_duck["kind"][-1].sum() == 0 and (on_duck["kind"][:-1] > 0).any(axis=1).all()
    for k in ("kind", "cat", "gap", "age", "value", "count"):
        np.testing.assert_allclose(on_duck[k], on_spark[k], rtol=1e-6, err_msg=k)


@pytest.mark.spark
def test_train_on_spark_gives_the_duckdb_results(spark, tmp_path, monkeypatch) -> None:
    """`storemind train --engine local[2]` computes every feature on Spark (the tables go over
    as Parquet) and registers the same metrics as training on DuckDB; without pyspark's
    session it says what is missing instead of a traceback."""
    from typer.testing import CliRunner

    from storemind.cli import app
    from storemind.config import Settings
    from storemind.datasets import simulate
    from storemind.registry import Registry

    monkeypatch.setenv("STOREMIND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STOREMIND_ENGINE", "duckdb")  # restored after the CLI sets it
    settings = Settings()
    with Store.open(settings) as store:
        simulate(store, n_users=300, n_items=80, n_days=60, fraud_rate=0.05, progress=False)
    caps = ["customers", "operations", "risk"]
    runner = CliRunner()
    on_spark = runner.invoke(app, ["train", *caps, "--engine", "local[2]"])
    assert on_spark.exit_code == 0, on_spark.output
    assert "computing features on Spark (local[2])" in on_spark.output
    registry = Registry(settings.models_path)

    def metrics(cap: str) -> dict:
        return {k: round(v, 9) if isinstance(v, float) else v
                for k, v in registry.get(cap).metrics.items() if "seconds" not in k}

    spark_metrics = {cap: metrics(cap) for cap in caps}
    on_duck = runner.invoke(app, ["train", *caps, "--engine", "duckdb"])
    assert on_duck.exit_code == 0 and "Spark" not in on_duck.output
    assert all(registry.get(cap).version == "v0002" for cap in caps)
    assert {cap: metrics(cap) for cap in caps} == spark_metrics
    assert len(spark_metrics["customers"]) > 3 and "holdout_wape" in spark_metrics["operations"]
    evaluated = runner.invoke(app, ["evaluate", "operations", "--engine", "local[2]"])
    assert evaluated.exit_code == 0 and "computing features on Spark" in evaluated.output
    assert "holdout_wape" in evaluated.output or "wape" in evaluated.output
    bad = runner.invoke(app, ["train", "customers", "--engine", "hadoop"])
    assert bad.exit_code == 1 and "engine must be" in bad.output
