"""An order-lines export into orders, order_items, events, items and users: validation,
order-level checks, quarantine lines, idempotency, and the real Online Retail file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from storemind.cli import app
from storemind.errors import IngestError
from storemind.store import Store

MAP = {"Invoice": "order_id", "Customer": "user_id", "Date": "ts", "SKU": "item_id",
       "Qty": "quantity", "Price": "unit_price", "Country": "country", "Title": "title"}

# line 1 is the header: data rows are on lines 2..14
LINES = """Invoice,Customer,Date,SKU,Qty,Price,Country,Title
A1,u1,2024-01-01 10:00,mug,1,10,UK,Mug
A1,u1,2024-01-01 10:05,tea,2,5,UK,Tea
A1,u1,2024-01-01 10:00,mug,1,10,UK,Mug
A2,u2,2024-01-02,mug,1,10,FR,Mug
A2,u3,2024-01-02,tea,1,5,FR,
R3,u1,2024-01-03,mug,-1,10,UK,
R3,u1,2024-01-03,tea,-2,5,UK,
A4,u4,2024-01-04,cup,3,2,DE,Cup
A4,u4,2024-01-04,cup,-1,2,DE,Cup
A5,,2024-01-05,mug,2,12,UK,
A6,u5,2024-01-06,tea,0,5,UK,
A7,u6,not a date,cup,1,3,UK,
,u7,2024-01-07,cup,1,3,UK,
"""


def lines_file(tmp_path: Path, text: str = LINES, name: str = "lines.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_lines_fill_every_table_and_bad_lines_are_quarantined(store: Store,
                                                                tmp_path: Path) -> None:
    report = store.ingest("order_lines", lines_file(tmp_path), mapping=MAP)
    # 13 lines: 7 good (A1 x3, R3 x2, A4's positive line, A5); 6 quarantined
    assert (report.read, report.stored, report.duplicates, report.quarantined) == (13, 7, 0, 6)
    assert report.read == report.stored + report.duplicates + report.quarantined
    assert set(report.derived) == {"orders", "order_items", "events", "items", "users"}
    orders = store.frame("orders").set_index("order_id")
    assert sorted(orders.index) == ["A1", "A4", "A5", "R3"]
    assert orders.loc["A1", "total"] == pytest.approx(30.0)  # 1x10 + 2x5 + 1x10
    assert orders.loc["A1", "ts"] == pd.Timestamp("2024-01-01 10:00")  # the earliest line
    assert orders.loc["R3", "kind"] == "return" and orders.loc["R3", "total"] == 20.0
    assert orders.loc["A4", "total"] == 6.0 and orders.loc["A4", "kind"] == "sale"
    assert pd.isna(orders.loc["A5", "user_id"])  # a guest order is kept
    items = store.frame("order_items")
    assert (items.quantity > 0).all()
    assert sorted(items[items.order_id == "A1"].line_no) == [0, 1, 2]
    events = store.frame("events").set_index("event_id")
    # purchases: sale lines of known customers only (not the return, not the guest)
    assert sorted(events.index) == ["ol-A1-0", "ol-A1-1", "ol-A1-2", "ol-A4-0"]
    assert set(events.event_type) == {"purchase"} and events.loc["ol-A1-1", "value"] == 2.0
    cat = store.frame("items").set_index("item_id")
    assert cat.loc["mug", "title"] == "Mug" and cat.loc["mug", "price"] == 10.0
    assert sorted(store.frame("users").user_id) == ["u1", "u4"]
    q = store.frame("quarantine")
    assert set(q.table_name) == {"order_lines"}
    where = dict(zip(q.line, q.reason, strict=True))
    assert where[5].startswith("the order's lines name different user_ids")
    assert where[6].startswith("the order's lines name different user_ids")
    assert where[10].startswith("negative quantity in an order whose other lines are positive")
    assert where[12] == "zero quantity in column quantity"
    assert where[13] == "not a timestamp in column ts"
    assert where[14] == "missing required value in column order_id"
    # the quarantined row shows the source's columns, not the ingester's own
    assert all("_sm_" not in raw for raw in q.raw)


def test_reingest_stores_nothing_twice_and_keeps_what_is_stored(store: Store,
                                                                tmp_path: Path) -> None:
    store.ingest("items", pd.DataFrame({"item_id": ["mug"], "title": ["Our own mug"],
                                        "price": [11.0]}))
    path = lines_file(tmp_path)
    store.ingest("order_lines", path, mapping=MAP)
    counts = store.counts()
    again = store.ingest("order_lines", path, mapping=MAP)
    assert (again.read, again.stored, again.duplicates, again.quarantined) == (13, 0, 7, 6)
    assert all(r.stored == 0 for r in again.derived.values())
    assert store.counts() == counts  # quarantine included: no line recorded twice
    mug = store.frame("items").set_index("item_id").loc["mug"]
    assert mug.title == "Our own mug" and mug.price == 11.0  # the catalogue entry stays


def test_given_kind_and_line_numbers(store: Store) -> None:
    frame = pd.DataFrame({
        "order_id": ["S1", "S1", "X2", "X2", "S3"],
        "line_no": [7, 9, 0, 1, 0],
        "user_id": ["u1", "u1", "u1", "u1", "u2"],
        "ts": ["2024-02-01"] * 5,
        "item_id": ["a", "b", "a", "b", "a"],
        "quantity": [1, 1, 1, -1, -2],
        "unit_price": [3, 4, 3, 4, 3],
        "kind": ["sale", "sale", "cancellation", "Cancellation", "sale"],
    })
    report = store.ingest("order_lines", frame)
    assert report.quarantined == 1
    assert report.reasons == {"negative quantity on a line of a sale order in column quantity": 1}
    orders = store.frame("orders").set_index("order_id")
    assert orders.kind.to_dict() == {"S1": "sale", "X2": "cancellation"}
    assert orders.loc["X2", "total"] == 7.0  # a cancellation's lines count as positive
    assert sorted(store.frame("order_items").line_no) == [0, 1, 7, 9]
    assert sorted(store.frame("events").event_id) == ["ol-S1-7", "ol-S1-9"]


def test_unreadable_or_incomplete_sources_fail_clearly(store: Store, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"lacks required column\(s\) \['unit_price'\]"):
        store.ingest("order_lines", pd.DataFrame({
            "order_id": ["o1"], "ts": ["2024-01-01"], "item_id": ["a"], "quantity": [1]}))
    with pytest.raises(IngestError, match="mapping names column"):
        store.ingest("order_lines", lines_file(tmp_path), mapping={"Nope": "order_id"})
    with pytest.raises(IngestError, match="no such file"):
        store.ingest("order_lines", tmp_path / "missing.csv")
    assert sum(store.counts().values()) == 0  # nothing stored by the failures


def test_malformed_csv_line_shifts_nothing(store: Store, tmp_path: Path) -> None:
    """A line the CSV parser rejects is quarantined, and the order-level reasons still name
    the right lines of the file."""
    text = ("order_id,ts,item_id,quantity,unit_price\n"
            "o1,2024-01-01,a,1,2\n"
            "o1,2024-01-01,b,1,2,EXTRA,FIELDS\n"
            "o2,2024-01-02,a,1,2\n"
            "o2,2024-01-02,b,0,2\n")
    report = store.ingest("order_lines", lines_file(tmp_path, text))
    assert report.read == 4 and report.stored == 2 and report.quarantined == 2
    q = store.frame("quarantine").set_index("line")
    assert q.loc[3, "reason"].startswith("malformed CSV line")
    assert q.loc[5, "reason"] == "zero quantity in column quantity"


def test_cli_ingests_order_lines(home: Path, tmp_path: Path) -> None:
    args = ["ingest", "order_lines", str(lines_file(tmp_path))]
    for theirs, ours in MAP.items():
        args += ["--map", f"{theirs}={ours}"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "read 13 = stored 7 + duplicates 0 + quarantined 6" in out
    assert "orders <- " in out and "read 4 = stored 4" in out
    assert "events <- " in out and "zero quantity in column quantity" in out


def test_online_retail_export_matches_the_curated_loader(data_dir: Path, store: Store,
                                                         tmp_path: Path) -> None:
    """The raw UCI file, as a shop would export it, fills the tables customers and behaviour
    need, and agrees with the curated loader (datasets.online_retail), which names the
    C-invoices cancellations and drops 'A' bad-debt invoices and stock adjustments (here: the
    2 bad-debt lines with a negative price are quarantined; the adjustments become zero-value
    returns without a customer)."""
    from storemind.customers.pipeline import evaluate
    from storemind.datasets import load_dataset

    report = store.ingest("order_lines", data_dir / "online_retail" / "online_retail.csv.gz",
                          mapping={"InvoiceNo": "order_id", "CustomerID": "user_id",
                                   "InvoiceDate": "ts", "StockCode": "item_id",
                                   "Quantity": "quantity", "UnitPrice": "unit_price",
                                   "Description": "title", "Country": "country"})
    assert (report.read, report.stored, report.quarantined) == (541_909, 541_907, 2)
    assert report.reasons == {"negative value in column unit_price": 2}
    d = report.derived
    assert (d["orders"].stored, d["events"].stored, d["users"].stored, d["items"].stored) == (
        25_898, 397_924, 4_372, 4_070)
    o = store.frame("orders")
    assert (o.kind == "sale").sum() == 20_726  # the loader's 20,725 + the bad-debt sale
    returns = o[o.kind == "return"]
    # the loader's 3,836 cancellations (same value) + 1,336 zero-value stock adjustments
    assert len(returns) == 5_172 and returns.total.sum() == pytest.approx(896_812.49)
    assert (returns.total > 0).sum() == 3_836  # the adjustments are worth 0

    curated = Store(tmp_path / "curated.duckdb")
    load_dataset("online_retail", curated, data_dir=data_dir)
    ours, theirs = evaluate(store), evaluate(curated)
    curated.close()
    for key in ("holdout_customers", "purchases_mae", "purchases_actual"):
        assert ours[key] == pytest.approx(theirs[key]), key


def test_order_level_columns_on_the_first_line_only(store: Store) -> None:
    """Shopify-style exports fill order-level columns (time, e-mail) on an order's first line
    only, and write times as "2024-05-01 10:00:00 +0200": every line still counts."""
    lines = pd.DataFrame({
        "Name": ["#1001", "#1001", "#1001", "#1002", "#1003"],
        "Email": ["ann@example.com", "", "", "bob@example.com", "cy@example.com"],
        "Created at": ["2024-05-01 10:00:00 +0200", "", "", "2024-05-02 09:30:00 +0200", ""],
        "Lineitem sku": ["MUG", "TEA", "CUP", "MUG", "MUG"],
        "Lineitem quantity": [1, 2, 1, 1, 1],
        "Lineitem price": [8.5, 4.0, 3.0, 8.5, 8.5]})
    report = store.ingest("order_lines", lines, mapping={
        "Name": "order_id", "Email": "user_id", "Created at": "ts", "Lineitem sku": "item_id",
        "Lineitem quantity": "quantity", "Lineitem price": "unit_price"})
    # #1003 has no time on any line: quarantined; the rest all stored
    assert (report.stored, report.quarantined) == (4, 1)
    assert report.reasons == {"missing required value in column ts": 1}
    orders = store.frame("orders").set_index("order_id")
    assert orders.loc["#1001", "ts"] == pd.Timestamp("2024-05-01 08:00")  # in UTC
    assert orders.loc["#1001", "total"] == 19.5 and orders.loc["#1001", "user_id"] == \
        "ann@example.com"
    events = store.frame("events")
    assert (events[events.event_id.str.startswith("ol-#1001")].user_id == "ann@example.com").all()
    assert len(events) == 4
