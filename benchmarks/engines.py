"""Training on Spark against training on DuckDB, capability by capability.

A simulated store (``--users`` customers) is trained once with features computed on DuckDB
(the default) and once on Spark (``local[N]``, what ``storemind train --engine local[N]``
does): the tables go to Spark as Parquet, every feature query runs there, the models are
fitted in this process. Reported per capability: wall seconds on each engine, their ratio
(DuckDB seconds / Spark seconds; above 1 means Spark was faster), and whether the registered
metrics are the same. The Parquet hand-over and the session start are timed apart. No goal:
this says what the engine option costs on one machine, where Spark has no cluster to use.

    .venv/bin/python benchmarks/engines.py                     # 20,000 customers
    .venv/bin/python benchmarks/engines.py --users 2000 --master local[2]   # quicker
Writes benchmarks/results/engines.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, markdown_table  # noqa: E402

CAPS = ["customers", "behavior", "marketing", "operations", "risk", "recommend"]


def _metrics(version) -> dict:
    """The registered metrics without timings, comparable (NaN, an undefined AUC on a
    holdout without fraud, equals NaN)."""
    return {k: ("nan" if v != v else round(v, 9)) if isinstance(v, float) else v
            for k, v in version.metrics.items() if "seconds" not in k}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--items", type=int, default=2_000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--caps", default=",".join(CAPS))
    ap.add_argument("--out", default=str(RESULTS / "engines.md"))
    args = ap.parse_args()
    caps = [c for c in args.caps.split(",") if c]
    with tempfile.TemporaryDirectory(prefix="storemind-engines-") as tmp:
        os.environ["STOREMIND_HOME"] = str(Path(tmp) / "home")
        from storemind.config import Settings
        from storemind.datasets import simulate
        from storemind.registry import Registry
        from storemind.store import SparkStore, Store

        settings = Settings()
        store = Store.open(settings)
        t = time.perf_counter()
        simulate(store, n_users=args.users, n_items=args.items, n_days=args.days,
                 progress=False)
        sim_s = time.perf_counter() - t
        counts = store.counts()
        print(f"simulated in {sim_s:.0f} s: {counts['events']:,} events", flush=True)
        registry = Registry(settings.models_path)
        t = time.perf_counter()
        from storemind.store.spark import spark_session

        session = spark_session(args.master)
        start_s = time.perf_counter() - t
        t = time.perf_counter()
        on_spark = SparkStore.from_store(store, session)
        handover_s = time.perf_counter() - t
        rows, same_all = [], True
        for cap in caps:
            module = importlib.import_module(f"storemind.{cap}.pipeline")
            t = time.perf_counter()
            v_duck = module.train(store, registry, settings)
            duck_s = time.perf_counter() - t
            t = time.perf_counter()
            v_spark = module.train(on_spark, registry, settings)
            spark_s = time.perf_counter() - t
            same = _metrics(v_duck) == _metrics(v_spark)
            same_all &= same
            print(f"{cap}: duckdb {duck_s:.1f} s, spark {spark_s:.1f} s, same metrics {same}",
                  flush=True)
            rows.append([cap, f"{duck_s:.1f}", f"{spark_s:.1f}", f"{duck_s / spark_s:.2f}",
                         "yes" if same else "**no**"])
        on_spark.close()
        session.stop()
        store.close()
    lines = [
        "# Training on Spark against DuckDB",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        f"Machine: {machine()}. Command: `.venv/bin/python benchmarks/engines.py "
        f"--users {args.users} --items {args.items} --days {args.days} "
        f"--master {args.master}`.",
        "",
        f"Store: {counts['users']:,} customers, {counts['items']:,} items, "
        f"{counts['events']:,} events, {counts['orders']:,} orders, "
        f"{counts['payments']:,} payments (simulated in {sim_s:.0f} s). Spark session start "
        f"{start_s:.1f} s; the tables to Parquet and into Spark {handover_s:.1f} s (paid once "
        "per `storemind train`, not counted in the rows).",
        "",
        markdown_table(["capability", "DuckDB s", "Spark s", "DuckDB / Spark",
                        "same metrics"], rows),
        "",
        "Same metrics on every capability: " + ("yes." if same_all else "**no** (see rows)."),
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
