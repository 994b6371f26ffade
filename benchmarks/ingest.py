"""Ingestion speed: `storemind ingest` with validation vs DuckDB's own read_csv into a table.

Both run on the same file, each in a fresh process and a fresh database file, best of
``--repeats``. Goal (issue 2): validation costs at most 2x raw DuckDB (ratio >= 0.5).

    .venv/bin/python benchmarks/ingest.py            # Online Retail + 10M simulated events
    .venv/bin/python benchmarks/ingest.py --rows 1000000 --repeats 1   # quicker
Writes benchmarks/results/ingest.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STOREMIND_DATA", ROOT.parent / "shared" / "data"))
RETAIL = DATA / "online_retail" / "online_retail.csv.gz"
RETAIL_MAP = {
    "CustomerID": "user_id",
    "StockCode": "item_id",
    "InvoiceNo": "session_id",
    "Quantity": "value",
    "InvoiceDate": "ts",
}


def make_events_csv(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of simulated events (with 1% bad rows: blank users, unknown types, bad numbers)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"SELECT setseed({seed / 1000})")
    con.execute(f"""
        COPY (
          SELECT 'e' || i AS event_id,
                 CASE WHEN i % 211 = 0 THEN '' ELSE 'u' || (hash(i) % 200000) END AS user_id,
                 'i' || (hash(i * 7) % 100000) AS item_id,
                 's' || (i // 8) AS session_id,
                 CASE WHEN i % 307 = 0 THEN 'teleport'
                      ELSE ['view','view','view','view','click','cart','purchase']
                           [CAST(1 + hash(i*3) % 7 AS BIGINT)]
                 END AS event_type,
                 CASE WHEN i % 401 = 0 THEN 'n/a' ELSE CAST(round(random() * 100, 2) AS VARCHAR)
                 END AS value,
                 TIMESTAMP '2024-01-01' + to_seconds(i // 4) AS ts
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
    """)
    con.close()


def run_one(kind: str, file: str, table: str, mapping: dict, defaults: dict) -> dict:
    """Runs in a child process: one ingestion into a fresh database; time and peak RSS."""
    import duckdb

    sys.path.insert(0, str(ROOT / "src"))
    from storemind.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        start = time.perf_counter()
        if kind == "duckdb":
            con = duckdb.connect(str(db))
            con.execute(f"CREATE TABLE raw AS SELECT * FROM read_csv('{file}')")
            rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
            con.close()
            info = {"stored": rows, "read": rows}
        else:
            store = Store(db)
            rep = store.ingest(table, file, mapping=mapping, defaults=defaults)
            store.close()
            info = {
                "stored": rep.stored,
                "read": rep.read,
                "duplicates": rep.duplicates,
                "quarantined": rep.quarantined,
            }
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB on Linux
    return {"seconds": seconds, "peak_mib": peak, **info}


def measure(kind: str, file: Path, table: str, mapping: dict, defaults: dict, repeats: int) -> dict:
    best = None
    for _ in range(repeats):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                json.dumps([kind, str(file), table, mapping, defaults]),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or res["seconds"] < best["seconds"]:
            best = res
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="simulated events")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ingest.md"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(*json.loads(args.child))))
        return
    results = []
    cases = [
        (
            "UCI Online Retail (541,909 lines, gzip CSV)",
            RETAIL,
            "events",
            RETAIL_MAP,
            {"event_type": "purchase"},
        )
    ]
    with tempfile.TemporaryDirectory() as tmp:
        sim = Path(tmp) / "events.csv"
        print(f"writing {args.rows:,} simulated events ...", flush=True)
        make_events_csv(sim, args.rows)
        cases.append(
            (f"{args.rows:,} simulated events (plain CSV, 1% bad rows)", sim, "events", {}, {})
        )
        for name, file, table, mapping, defaults in cases:
            raw = measure("duckdb", file, table, mapping, defaults, args.repeats)
            ours = measure("storemind", file, table, mapping, defaults, args.repeats)
            ratio = raw["seconds"] / ours["seconds"]
            print(
                f"{name}: duckdb {raw['seconds']:.2f}s, storemind {ours['seconds']:.2f}s, "
                f"ratio {ratio:.2f}",
                flush=True,
            )
            results.append((name, raw, ours, ratio))
    lines = [
        "# Ingestion benchmark",
        "",
        "`storemind ingest` (stage as text, type and check every value, quarantine bad rows with",
        "line and reason, insert idempotently on the key) against DuckDB's own",
        "`CREATE TABLE raw AS SELECT * FROM read_csv(file)` (type auto-detection, no checks, no",
        "key), on the same file, each in a fresh process and database file, best of "
        f"{args.repeats}.",
        "Ratio = DuckDB seconds / storemind seconds (1.0 = free validation; goal >= 0.5).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.",
        "Command: `.venv/bin/python benchmarks/ingest.py"
        + (f" --rows {args.rows}" if args.rows != 10_000_000 else "")
        + (f" --repeats {args.repeats}" if args.repeats != 3 else "")
        + "`",
        "",
        "| dataset | rows read | DuckDB read_csv s | DuckDB rows/s | storemind s "
        "| storemind rows/s | stored | duplicates | quarantined | ratio "
        "| DuckDB peak MiB | storemind peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, raw, ours, ratio in results:
        lines.append(
            f"| {name} | {ours['read']:,} | {raw['seconds']:.2f} "
            f"| {raw['read'] / raw['seconds']:,.0f}"
            f" | {ours['seconds']:.2f} | {ours['read'] / ours['seconds']:,.0f} | {ours['stored']:,}"
            f" | {ours['duplicates']:,} | {ours['quarantined']:,} | **{ratio:.2f}** "
            f"| {raw['peak_mib']:,.0f} | {ours['peak_mib']:,.0f} |"
        )
    verdict = all(r[3] >= 0.5 for r in results)
    lines += [
        "",
        "Goal (ratio >= 0.5 on every file): "
        + ("**met**." if verdict else "**not met**: see the ratios above."),
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
