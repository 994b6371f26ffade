"""ULB credit-card fraud, fraud-complete sample: all 492 frauds + 1,230 legitimate transactions.

``payments``: one per row (``cc-0000`` ... in file order), ``amount`` in EUR, ``is_fraud`` =
Class, ``ts`` = 2013-09-01 00:00 + Time seconds (the source gives only seconds since the first
transaction of a two-day window in September 2013), and Time with V1..V28 in attributes.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from storemind.datasets._base import Dataset, Frames, dumps
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["CREDITCARD_FRAUD", "CREDITCARD_ORIGIN", "read_creditcard_fraud"]

#: The timestamp of Time = 0.
CREDITCARD_ORIGIN = pd.Timestamp("2013-09-01")
_REPO = "jaehyeongAN/Credit-Card-Fraud-Detection"
_COMMIT = "173b540b35933abfa2982b433d35370d8d62f6bc"
_V = [f"V{k}" for k in range(1, 29)]


def _read(data_dir: Path) -> Frames:
    raw = pd.read_csv(data_dir / "creditcard_sample.csv.gz")
    raw = raw.drop(columns=[c for c in raw.columns if c == "" or c.startswith("Unnamed")])
    feats = raw[["Time", *_V]].to_dict("records")
    payments = pd.DataFrame({
        "payment_id": [f"cc-{i:04d}" for i in range(len(raw))],
        "ts": CREDITCARD_ORIGIN + pd.to_timedelta(raw.Time, unit="s"),
        "amount": raw.Amount.astype(float),
        "currency": "EUR",
        "method": "card",
        "is_fraud": raw.Class.astype(int),
        "attributes": [dumps(f) for f in feats],
    })
    return Frames({"payments": payments})


def read_creditcard_fraud(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """The credit-card fraud sample as a canonical ``payments`` frame.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return CREDITCARD_FRAUD.read(data_dir, download=download)


CREDITCARD_FRAUD = Dataset(
    name="creditcard_fraud",
    folder="creditcard_fraud_sample",
    description="ULB credit-card fraud sample: 1,722 card payments, all 492 frauds (28.6% fraud; "
                "re-weight negatives by 231.2 for full-data precision).",
    tables=("payments",),
    reader=_read,
    files=(RemoteFile("creditcard_sample.csv.gz",
                      github_raw(_REPO, _COMMIT, "data/creditcard_sample.csv"), (gzip_bytes,)),),
    terms="Kaggle mlg-ulb/creditcardfraud (DbCL v1.0, to verify); research use; cite Dal Pozzolo "
          "et al. (2015).",
)
