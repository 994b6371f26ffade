"""An order-lines export (one row per order line) into orders, order_items, events, items and
users, in one validated pass.

Shops export orders line by line: order number, customer, time, SKU, quantity, unit price
(Shopify, WooCommerce, an ERP's invoice lines, UCI Online Retail). The canonical tables hold an
order once and its lines apart, so such a file used to need a script of its own before
customers, behaviour and operations could train. ``Store.ingest("order_lines", file)`` does it:

1. Every line is typed and checked like any table's rows (:data:`ORDER_LINES` below); a bad
   line goes to ``quarantine`` (``table_name = 'order_lines'``) with its file line, column and
   reason. Without a ``line_no`` column a line's number is its position among its order's lines
   in the file, so ingesting the same file again stores nothing twice. A line without a time
   takes its order's (exports such as Shopify's fill order-level columns on an order's first
   line only; the customer, country and the like are taken per order anyway).
2. Then each order is checked as a whole; these lines go to quarantine too:

   - a zero quantity;
   - an order whose lines name different customers, or different kinds;
   - a negative quantity on a line of a sale: in an order without a ``kind`` column whose
     other lines are positive, or whose kind is ``sale``.

3. What is left fills, each with its own report (``report.derived``):

   - ``orders``: one per order; ``ts`` is its earliest line's, ``total`` is the sum of
     quantity x unit price. Its ``kind`` is the given one, else ``return`` when every line's
     quantity is negative, else ``sale``.
   - ``order_items``: the lines, quantities positive (the order's kind gives the direction).
   - ``events``: one ``purchase`` per sale line of a known customer (``value`` = quantity,
     ``event_id`` = ``ol-<order_id>-<line_no>``).
   - ``items`` and ``users``: rows for ids not stored yet (a stored catalogue entry or
     customer is never changed). Title, category and brand are the most frequent on the
     lines; the price is the median sale price; a customer's country is the most frequent.

The lines' own report counts ``read = stored + duplicates + quarantined``: a line is stored
when its order line is new, a duplicate when it was stored before or repeats a (order_id,
line_no) of the same file.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from storemind.store._ingest import IngestReport, _lit, _q, _quarantine, _Stager, ingest_source
from storemind.store._store import _ddl
from storemind.store.schema import ORDER_LINES

__all__ = ["ingest_order_lines"]

#: order-level checks: (SQL condition over a line ``l`` and its order's summary ``o``, the
#: column named, the reason), first match wins
_ORDER_CHECKS = (
    ("l.quantity = 0", "quantity", "zero quantity"),
    ("o.n_users > 1", "user_id", "the order's lines name different user_ids"),
    ("o.n_kinds > 1", "kind", "the order's lines give different kinds"),
    ("o.kind_given = 'sale' AND l.quantity < 0", "quantity",
     "negative quantity on a line of a sale order"),
    ("o.kind_given IS NULL AND o.has_positive AND l.quantity < 0", "quantity",
     "negative quantity in an order whose other lines are positive (give a return its own "
     "order_id, or a kind column)"),
)


def _source_of(target: str, staged: list[str], mapping: dict[str, str]) -> str | None:
    """The staged column that fills ``target`` (as :func:`_validate_and_store` decides)."""
    for col in staged:
        if mapping.get(col, col if col not in mapping.values() else None) == target:
            return col
    return None


def _prepare(stager: _Stager, mapping: dict[str, str]) -> dict[str, str]:
    """Before validation: number the lines within each order (unless the source has
    ``line_no``), keep each line's place in the source, and give a line without a time its
    order's (exports such as Shopify's fill order-level columns on an order's first line)."""
    staged = stager.staged_columns()
    extra = {"_sm_source_line": "CAST(_line AS VARCHAR)"}
    replace = {}
    order_col = _source_of("order_id", staged, mapping)
    if order_col is not None:
        order = f"PARTITION BY NULLIF(TRIM({_q(order_col)}), '')"
        if _source_of("line_no", staged, mapping) is None:
            extra["_sm_line_no"] = (f"CAST(row_number() OVER ({order} ORDER BY _line) - 1 "
                                    "AS VARCHAR)")
        ts_col = _source_of("ts", staged, mapping)
        if ts_col is not None:
            t = f"NULLIF(TRIM({_q(ts_col)}), '')"
            replace[ts_col] = (f"COALESCE({t}, first_value({t} IGNORE NULLS) OVER ({order} "
                               "ORDER BY _line ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
                               "FOLLOWING))")
    stager.extend(extra, replace)
    out = dict(mapping)
    out["_sm_source_line"] = "source_line"
    if "_sm_line_no" in extra:
        out["_sm_line_no"] = "line_no"
    return out


def _check_orders(con: duckdb.DuckDBPyConnection, stager: _Stager, source_name: str,
                  report: IngestReport) -> None:
    """Quarantine the lines that fail an order-level check; ``_ol_good`` holds the rest."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _ol_summary AS SELECT order_id, "
        "count(DISTINCT user_id) AS n_users, count(DISTINCT lower(kind)) AS n_kinds, "
        "min(lower(kind)) AS kind_given, bool_or(quantity > 0) AS has_positive "
        "FROM order_lines GROUP BY order_id")
    reason = "CASE " + " ".join(f"WHEN {cond} THEN {_lit(why)}"
                                for cond, _, why in _ORDER_CHECKS) + " END"
    column = "CASE " + " ".join(f"WHEN {cond} THEN {_lit(col)}"
                                for cond, col, _ in _ORDER_CHECKS) + " END"
    cols = ", ".join(f"l.{_q(c)}" for c in ORDER_LINES.names)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _ol_lines AS SELECT {cols}, {reason} AS _reason, "
        f"{column} AS _column FROM order_lines l JOIN _ol_summary o USING (order_id)")
    con.execute("CREATE OR REPLACE TEMP TABLE _ol_good AS SELECT * EXCLUDE (_reason, _column) "
                "FROM _ol_lines WHERE _reason IS NULL")
    bad = con.execute("SELECT count(*) FROM _ol_lines WHERE _reason IS NOT NULL").fetchone()[0]
    if not bad:
        return
    shown = ", ".join(f"{_q(c)} := {_q(c)}" for c in ORDER_LINES.names if c != "source_line")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _checked AS SELECT source_line AS _line, _reason, "
        f"_column, to_json(struct_pack({shown}))::VARCHAR AS _raw "
        "FROM _ol_lines WHERE _reason IS NOT NULL")
    try:  # one INSERT into quarantine; the parse rejects the validation recorded are skipped
        counted = _quarantine(con, ORDER_LINES, stager, source_name)
    finally:
        con.execute("DROP TABLE IF EXISTS _checked")
    report.reasons.update({r: int(n) for r, n in counted})
    report.quarantined += int(bad)


_ORDERS_SQL = """
SELECT order_id, any_value(user_id) AS user_id, min(ts) AS ts, min(status) AS status,
       round(sum(abs(quantity) * unit_price), 2) AS total, min(currency) AS currency,
       min(country) AS country, min(channel) AS channel,
       coalesce(min(lower(kind)), CASE WHEN bool_and(quantity < 0) THEN 'return' ELSE 'sale'
                END) AS kind, min(source_line) AS _first
FROM _ol_good GROUP BY order_id"""

#: each table's rows from the good lines (``_ol_good``) and their orders (``_ol_orders``), in
#: source order
_DERIVED_SQL = {
    "items": """
SELECT l.item_id, mode(l.title) AS title, mode(l.category) AS category, mode(l.brand) AS brand,
       median(l.unit_price) FILTER (WHERE o.kind = 'sale' AND l.unit_price > 0) AS price
FROM _ol_good l JOIN _ol_orders o USING (order_id) GROUP BY l.item_id
ORDER BY min(l.source_line)""",
    "users": """
SELECT user_id, mode(country) AS country FROM _ol_orders WHERE user_id IS NOT NULL
GROUP BY user_id ORDER BY min(_first)""",
    "orders": "SELECT * EXCLUDE (_first) FROM _ol_orders ORDER BY _first",
    "order_items": """
SELECT order_id, line_no, item_id, abs(quantity) AS quantity, unit_price FROM _ol_good
ORDER BY source_line""",
    "events": """
SELECT 'ol-' || l.order_id || '-' || CAST(l.line_no AS VARCHAR) AS event_id, o.user_id,
       l.item_id, 'purchase' AS event_type, abs(l.quantity) AS value, l.ts
FROM _ol_good l JOIN _ol_orders o USING (order_id)
WHERE o.kind = 'sale' AND o.user_id IS NOT NULL ORDER BY l.source_line""",
}


def ingest_order_lines(
    con: duckdb.DuckDBPyConnection,
    source: Any,
    store_file: Callable[[str, Path, str], IngestReport],
    *,
    mapping: dict[str, str] | None = None,
    defaults: dict[str, str] | None = None,
    source_name: str | None = None,
    **options: Any,
) -> IngestReport:
    """Validate an order-lines source and fill the canonical tables from it (module
    docstring). ``store_file(table, path, source_name)`` stores a table's derived rows (a
    Parquet file) the way :meth:`Store.ingest` does; ``options`` (fmt, delimiter,
    time_format, decimal, encoding) go to the reader."""
    derived: dict[str, IngestReport] = {}

    def finish(stager: _Stager, report: IngestReport) -> None:
        _check_orders(con, stager, report.source, report)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ol_orders AS {_ORDERS_SQL}")
        name = f"{report.source} (order lines)"
        # each table's rows through a Parquet file: the engine writes and reads them, with
        # no Python object per value (a frame would cost minutes at tens of millions of lines)
        with tempfile.TemporaryDirectory(prefix="storemind-lines-") as folder:
            for table, sql in _DERIVED_SQL.items():
                path = Path(folder) / f"{table}.parquet"
                con.execute(f"COPY ({sql}) TO {_lit(str(path))} (FORMAT parquet)")
                derived[table] = store_file(table, path, name)

    con.execute(_ddl(ORDER_LINES, temp=True))
    try:
        report = ingest_source(con, ORDER_LINES, source, mapping=mapping, defaults=defaults,
                               source_name=source_name, prepare=_prepare, finish=finish,
                               **options)
    finally:
        for t in ("order_lines", "_ol_summary", "_ol_lines", "_ol_good", "_ol_orders"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    # a line counts as stored when its order line is new (re-ingesting stores nothing)
    items = derived.get("order_items")
    if items is not None:
        report.stored = items.stored
        report.duplicates += items.duplicates
        report.quarantined += items.quarantined
        report.reasons.update(items.reasons)
    report.derived = derived
    return report
