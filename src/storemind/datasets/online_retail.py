"""UCI Online Retail: 541,909 invoice lines of a UK online gift retailer, Dec 2010 - Dec 2011.

- ``orders``: one per invoice; invoices starting with ``C`` are ``kind='cancellation'``, the
  others ``'sale'``; ``total`` = sum of quantity x unit price, in GBP; guest invoices (no
  CustomerID) are kept with ``user_id`` NULL.
- ``order_items``: one per invoice line (``line_no`` = position in the invoice), quantities
  positive (a cancellation's lines are stored with the sign flipped; the order's kind says the
  direction). Exact duplicate lines in the source stay separate lines.
- ``items``: one per StockCode (also those only on dropped lines): the most frequent
  description as title, the median positive sale price; postage, fees and manual codes
  (``POST``, ``M``, ``BANK CHARGES``, ...) get ``category='non-product'``.
- ``users``: one per CustomerID, with the country it buys from most.
- ``events``: one ``purchase`` per sale line of a known customer, ``value`` = quantity.

Dropped, each counted in ``notes``: stock-adjustment lines (negative quantity on a
non-cancellation invoice; all have price 0 and no customer) and the ``A`` bad-debt adjustment
invoices (StockCode ``B``). Lines with a negative price or a zero quantity, or a cancellation
line with a positive quantity, would be dropped and counted the same way.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from storemind.datasets._base import Dataset, Frames
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["ONLINE_RETAIL", "read_online_retail"]

_REPO, _COMMIT = "BenJMcCarty/UCI_Dataset_Online_Retail", "60b05ebffd34b8430ddb12563e1698de24dde07b"
_PRODUCT_CODE = r"^\d{5}[A-Za-z]{0,2}$"


def _parquet_to_csv_gz(data: bytes) -> bytes:
    """The upstream parquet as the gzip CSV this loader reads (CustomerID as an integer)."""
    import io

    frame = pd.read_parquet(io.BytesIO(data))
    frame["CustomerID"] = frame["CustomerID"].astype("Int64")
    return frame.to_csv(index=False, compression=None).encode("utf-8")


def _read_raw(path: Path) -> pd.DataFrame:
    text = {"InvoiceNo": str, "StockCode": str, "Description": str, "CustomerID": str,
            "Country": str}
    raw = pd.read_csv(path, dtype=text, keep_default_na=False,
                      converters={"Quantity": int, "UnitPrice": float})
    raw["InvoiceDate"] = pd.to_datetime(raw["InvoiceDate"], format="%Y-%m-%d %H:%M:%S")
    return raw


def _read(data_dir: Path) -> Frames:
    raw = _read_raw(data_dir / "online_retail.csv.gz")
    notes: dict[str, int] = {}
    inv = raw.InvoiceNo.str.strip()
    cancel = inv.str.startswith("C")
    adjust_invoice = inv.str.startswith("A")
    drops = {
        "order_items: stock-adjustment lines dropped (negative Quantity on a non-cancellation "
        "invoice)": ~cancel & ~adjust_invoice & (raw.Quantity < 0),
        "order_items: bad-debt adjustment lines dropped (invoice number starting with 'A')":
            adjust_invoice,
        "order_items: cancellation lines with a positive Quantity dropped": cancel
            & (raw.Quantity > 0),
        "order_items: lines with a negative UnitPrice dropped": ~adjust_invoice
            & (raw.UnitPrice < 0),
        "order_items: lines with zero Quantity dropped": raw.Quantity == 0,
    }
    keep = np.ones(len(raw), dtype=bool)
    for reason, mask in drops.items():
        mask = mask.to_numpy() & keep
        if mask.any():
            notes[reason] = int(mask.sum())
        keep &= ~mask
    df = raw[keep].copy()
    df["order_id"] = inv[keep]
    df["kind"] = np.where(cancel[keep], "cancellation", "sale")
    df["quantity"] = df.Quantity.abs().astype(float)
    df["line_no"] = df.groupby("order_id", sort=False).cumcount()
    df["user_id"] = df.CustomerID.str.strip().replace("", None)
    df["line_total"] = df.quantity * df.UnitPrice

    g = df.groupby("order_id", sort=False)
    orders = pd.DataFrame({
        "user_id": g.user_id.first(),
        "ts": g.InvoiceDate.min(),
        "total": g.line_total.sum().round(2),
        "currency": "GBP",
        "country": g.Country.first(),
        "kind": g.kind.first(),
    }).reset_index()
    multi_time = int((g.InvoiceDate.nunique() > 1).sum())
    if multi_time:
        notes["orders: invoices whose lines carry more than one InvoiceDate (ts = the earliest)"] \
            = multi_time
    guests = int(df.user_id.isna().sum())
    if guests:
        notes["order_items: lines without CustomerID (kept; order user_id NULL, no purchase "
              "event)"] = guests

    order_items = df[["order_id", "line_no", "StockCode", "quantity", "UnitPrice"]].rename(
        columns={"StockCode": "item_id", "UnitPrice": "unit_price"})

    # items: most frequent non-blank description, median positive sale price
    desc = raw[raw.Description.str.strip() != ""]
    title = (desc.groupby(["StockCode", "Description"]).size().rename("n").reset_index()
             .sort_values(["StockCode", "n"], ascending=[True, False])
             .drop_duplicates("StockCode").set_index("StockCode").Description)
    priced = df[(df.kind == "sale") & (df.UnitPrice > 0)]
    price = priced.groupby("StockCode").UnitPrice.median()
    codes = pd.Index(pd.unique(raw.StockCode), name="item_id")
    items = pd.DataFrame({
        "item_id": codes,
        "title": title.reindex(codes).to_numpy(),
        "category": np.where(codes.str.match(_PRODUCT_CODE), None, "non-product"),
        "price": price.reindex(codes).to_numpy(),
    })

    known = df[df.user_id.notna()]
    by_country = (known.groupby(["user_id", "Country"]).size().rename("n").reset_index()
                  .sort_values(["user_id", "n"], ascending=[True, False]))
    multi_country = int(by_country.user_id.duplicated().sum())
    if multi_country:
        notes["users: customers buying from more than one country (country = the most "
              "frequent)"] = int(by_country.loc[by_country.user_id.duplicated(), "user_id"]
                                 .nunique())
    users = (by_country.drop_duplicates("user_id")[["user_id", "Country"]]
             .rename(columns={"Country": "country"}))

    sales = known[known.kind == "sale"]
    events = pd.DataFrame({
        "event_id": "retail-" + sales.order_id + "-" + sales.line_no.astype(str),
        "user_id": sales.user_id,
        "item_id": sales.StockCode,
        "event_type": "purchase",
        "value": sales.quantity,
        "ts": sales.InvoiceDate,
    })
    return Frames({"items": items, "users": users, "orders": orders,
                   "order_items": order_items, "events": events}, notes=notes)


def read_online_retail(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """UCI Online Retail as canonical ``items``, ``users``, ``orders``, ``order_items`` and
    ``events``; ``.notes`` counts what was dropped or adjusted and why.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return ONLINE_RETAIL.read(data_dir, download=download)


ONLINE_RETAIL = Dataset(
    name="online_retail",
    folder="online_retail",
    description="UCI Online Retail: 541,909 invoice lines, 25,900 invoices, 4,372 customers, "
                "4,070 products, Dec 2010 - Dec 2011 (baskets, RFM/CLV, returns, demand).",
    tables=("items", "users", "orders", "order_items", "events"),
    reader=_read,
    files=(RemoteFile("online_retail.csv.gz",
                      github_raw(_REPO, _COMMIT, "data/Online%20Retail.parquet"),
                      (_parquet_to_csv_gz, gzip_bytes)),),
    terms="CC BY 4.0 (UCI Machine Learning Repository); cite Chen, Sain & Guo (2012).",
)
