"""CDNOW: 69,659 purchases by the 23,570 customers who first bought in Q1 1997, to June 1998.

- ``orders``: one per customer and day (the standard BTYD grouping), ``total`` = the day's
  dollar value, ``kind='sale'``, currency USD. Several source lines on one customer-day become
  one order with several lines (counted in ``notes``).
- ``order_items``: one per source line, ``item_id='cd'`` (the data has no titles), ``quantity``
  = number of CDs, ``unit_price`` = dollar value / CDs.
- ``items``: the one generic item ``cd``.
- ``users``: one per customer, ``signup_ts`` = the day of the first purchase (the cohort's
  defining event).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from storemind.datasets._base import Dataset, Frames
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["CDNOW", "read_cdnow"]

_REPO, _COMMIT = "CamDavidsonPilon/lifetimes", "master"


def _read(data_dir: Path) -> Frames:
    raw = pd.read_csv(data_dir / "CDNOW_master.txt.gz", sep=r"\s+", header=0,
                      names=["customer_id", "date", "number_of_cds", "dollar_value"],
                      dtype={"customer_id": str, "date": str})
    raw["ts"] = pd.to_datetime(raw.date, format="%Y%m%d")
    raw["order_id"] = "cdnow-" + raw.customer_id + "-" + raw.date
    raw["line_no"] = raw.groupby("order_id", sort=False).cumcount()
    g = raw.groupby("order_id", sort=False)
    orders = pd.DataFrame({
        "user_id": g.customer_id.first(),
        "ts": g.ts.first(),
        "total": g.dollar_value.sum().round(2),
        "currency": "USD",
        "kind": "sale",
    }).reset_index()
    cds = raw.number_of_cds.astype(float)
    order_items = pd.DataFrame({
        "order_id": raw.order_id,
        "line_no": raw.line_no,
        "item_id": "cd",
        "quantity": cds,
        "unit_price": np.where(cds > 0, raw.dollar_value / cds.where(cds > 0, 1.0), np.nan),
    })
    users = (raw.groupby("customer_id", sort=False).ts.min().rename("signup_ts")
             .reset_index().rename(columns={"customer_id": "user_id"}))
    items = pd.DataFrame({"item_id": ["cd"], "title": ["CD (title not recorded)"],
                          "category": ["music"]})
    notes = {}
    merged = int((raw.line_no > 0).sum())
    if merged:
        notes["orders: source lines merged into an earlier order of the same customer and day"] \
            = merged
    return Frames({"items": items, "users": users, "orders": orders,
                   "order_items": order_items}, notes=notes)


def read_cdnow(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """CDNOW as canonical ``items``, ``users``, ``orders`` and ``order_items`` frames.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return CDNOW.read(data_dir, download=download)


CDNOW = Dataset(
    name="cdnow",
    folder="cdnow",
    description="CDNOW: 69,659 purchases by 23,570 customers, Jan 1997 - Jun 1998 (CLV, BTYD).",
    tables=("items", "users", "orders", "order_items"),
    reader=_read,
    files=(
        RemoteFile("CDNOW_master.txt.gz",
                   github_raw(_REPO, _COMMIT, "lifetimes/datasets/CDNOW_master.txt"),
                   (gzip_bytes,)),
    ),
    terms="Fader & Hardie, for research and teaching; cite Fader, Hardie & Lee (2005).",
)
