"""Walmart Recruiting weekly sales: 421,570 store x department weeks, 2010-02-05 .. 2012-10-26.

- ``sales``: one row per department (``item_id``), store (``location_id``) and week (``ts``, the
  week's Friday), ``revenue`` = weekly sales in USD (negative in 1,285 weeks: returns exceed
  sales), ``is_holiday``; ``promo`` = the sum of the five markdowns where any is recorded (they
  exist from Nov 2011 only); temperature, fuel price, the markdowns, CPI, unemployment and the
  store's type and size in attributes.
- ``items``: one per department (``Dept 1`` ...).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from storemind.datasets._base import Dataset, Frames, json_column
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes, unzip_member

__all__ = ["WALMART", "read_walmart"]

_REPO, _COMMIT = "Jasvinder21/WALMART-SALES-FORECASTING", "5928477c9b9eaf0a11afc1a054ac24678ff5a3b1"
_MARKDOWNS = [f"MarkDown{k}" for k in range(1, 6)]
_FEATURES = ["Temperature", "Fuel_Price", *_MARKDOWNS, "CPI", "Unemployment"]


def _read(data_dir: Path) -> Frames:
    train = pd.read_csv(data_dir / "train.csv.gz", dtype={"Store": str, "Dept": str})
    features = pd.read_csv(data_dir / "features.csv.gz", dtype={"Store": str},
                           na_values=["NA"]).drop(columns=["IsHoliday"])
    stores = pd.read_csv(data_dir / "stores.csv", dtype={"Store": str})
    df = (train.merge(features, on=["Store", "Date"], how="left")
          .merge(stores, on="Store", how="left"))
    promo = df[_MARKDOWNS].sum(axis=1, min_count=1)
    sales = pd.DataFrame({
        "item_id": df.Dept,
        "location_id": df.Store,
        "ts": pd.to_datetime(df.Date, format="%Y-%m-%d"),
        "revenue": df.Weekly_Sales.astype(float),
        "promo": promo,
        "is_holiday": df.IsHoliday.astype(str).str.upper().map({"TRUE": True, "FALSE": False}),
        "attributes": json_column(
            df.rename(columns={"Type": "store_type", "Size": "store_size"}),
            [*_FEATURES, "store_type", "store_size"]),
    })
    depts = sorted(pd.unique(train.Dept), key=int)
    items = pd.DataFrame({"item_id": depts, "title": [f"Dept {d}" for d in depts],
                          "category": "department"})
    return Frames({"items": items, "sales": sales})


def read_walmart(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """Walmart weekly sales as canonical ``items`` and ``sales`` frames.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return WALMART.read(data_dir, download=download)


WALMART = Dataset(
    name="walmart",
    folder="walmart_store_sales",
    description="Walmart weekly sales: 421,570 store x department weeks, 45 stores, 81 depts, "
                "2010-02 .. 2012-10, with markdowns and holidays (demand forecasting).",
    tables=("items", "sales"),
    reader=_read,
    files=(
        RemoteFile("train.csv.gz", github_raw(_REPO, _COMMIT, "train.csv.zip"),
                   (unzip_member("train.csv"), gzip_bytes)),
        RemoteFile("features.csv.gz", github_raw(_REPO, _COMMIT, "features.csv"), (gzip_bytes,)),
        RemoteFile("stores.csv", github_raw(_REPO, _COMMIT, "stores.csv")),
    ),
    terms="Kaggle competition rules: non-commercial, academic and research use; not for "
          "redistribution in commercial products.",
)
