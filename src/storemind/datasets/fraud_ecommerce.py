"""E-commerce fraud ("Fraud_Data"): the first 51,689 labelled first purchases (9.35% fraud).

Whether the data is real is unverified (see its README); use it for evaluation only.

- ``users``: one per user: ``signup_ts``, ``device`` = the device id, ``source`` (SEO / Ads /
  Direct), and browser, sex and age in attributes.
- ``payments``: one per purchase (``fraud-<user_id>``): ``ts`` = purchase time, ``amount`` =
  purchase value, ``device_id``, ``is_fraud`` = class. For the first 30,189 rows, which come
  with an IP address, ``ip`` is the dotted address and ``country`` comes from the IP-to-country
  ranges (NULL where the truncated range file does not cover it; counted in ``notes``).
Timestamps have minute resolution.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from storemind.datasets._base import Dataset, Frames, json_column
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["FRAUD_ECOMMERCE", "read_fraud_ecommerce", "ip_to_dotted"]

_NO_IP = ("revanthsivaraju12/Fraud-data-Detection", "885c3b1f963fbac62e7d5249d01e6e58af9be657")
_WITH_IP = ("joyceft/TakeHomeDataChallenge", "4bcdcbc896f5c33b6cc8354eef2313d18c3f4ec5")


def ip_to_dotted(numbers: pd.Series) -> pd.Series:
    """IPv4 addresses given as numbers (floats in this source) as dotted text; NULL stays NULL."""
    ok = numbers.notna() & (numbers >= 0) & (numbers < 2**32)
    n = numbers.where(ok, 0).astype("float64").to_numpy().astype(np.int64)
    parts = [(n >> s) & 255 for s in (24, 16, 8, 0)]
    dotted = [f"{a}.{b}.{c}.{d}" for a, b, c, d in zip(*parts, strict=True)]
    text = pd.Series(dotted, index=numbers.index)
    return text.where(ok, None)


def _country(numbers: pd.Series, ranges: pd.DataFrame) -> pd.Series:
    ranges = ranges.sort_values("lower_bound_ip_address")
    lo = ranges.lower_bound_ip_address.to_numpy(dtype=float)
    hi = ranges.upper_bound_ip_address.to_numpy(dtype=float)
    names = ranges.country.to_numpy(dtype=object)
    x = numbers.to_numpy(dtype=float)
    idx = np.searchsorted(lo, x, side="right") - 1
    safe = np.clip(idx, 0, len(lo) - 1)
    hit = (idx >= 0) & (x <= hi[safe]) & ~np.isnan(x)
    return pd.Series(np.where(hit, names[safe], None), index=numbers.index, dtype=object)


def _read(data_dir: Path) -> Frames:
    base = pd.read_csv(data_dir / "Fraud_Data_first51689_no_ip.csv.gz", dtype={"user_id": str},
                       encoding="utf-8-sig")
    with_ip = pd.read_csv(data_dir / "Fraud_Data_first30189_with_ip.csv.gz",
                          dtype={"user_id": str}, encoding="utf-8-sig",
                          usecols=["user_id", "ip_address"])
    ranges = pd.read_csv(data_dir / "IpAddress_to_Country_first103894.csv.gz")
    df = base.merge(with_ip.drop_duplicates("user_id"), on="user_id", how="left")
    fmt = "%m/%d/%y %H:%M"
    users = pd.DataFrame({
        "user_id": df.user_id,
        "signup_ts": pd.to_datetime(df.signup_time, format=fmt),
        "device": df.device_id,
        "source": df.source,
        "attributes": json_column(df, ["browser", "sex", "age"]),
    })
    country = _country(df.ip_address, ranges)
    payments = pd.DataFrame({
        "payment_id": "fraud-" + df.user_id,
        "user_id": df.user_id,
        "ts": pd.to_datetime(df.purchase_time, format=fmt),
        "amount": df.purchase_value.astype(float),
        "device_id": df.device_id,
        "ip": ip_to_dotted(df.ip_address),
        "country": country,
        "is_fraud": df["class"].astype(int),
        "attributes": json_column(df, ["browser", "source"]),
    })
    notes = {}
    no_ip = int(df.ip_address.isna().sum())
    if no_ip:
        notes["payments: rows beyond the IP file (ip and country NULL)"] = no_ip
    uncovered = int((df.ip_address.notna() & country.isna()).sum())
    if uncovered:
        notes["payments: IPs outside the truncated IP-to-country ranges (country NULL)"] = uncovered
    return Frames({"users": users, "payments": payments}, notes=notes)


def read_fraud_ecommerce(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """E-commerce fraud as canonical ``users`` and ``payments`` frames.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return FRAUD_ECOMMERCE.read(data_dir, download=download)


FRAUD_ECOMMERCE = Dataset(
    name="fraud_ecommerce",
    folder="fraud_ecommerce_partial",
    description="E-commerce fraud (origin unverified): 51,689 first purchases with sign-up time, "
                "device, source, browser, age, 9.35% fraud; IP and country for the first 30,189.",
    tables=("users", "payments"),
    reader=_read,
    files=(
        RemoteFile("Fraud_Data_first51689_no_ip.csv.gz",
                   github_raw(*_NO_IP, "Fraud_Data.csv"), (gzip_bytes,)),
        RemoteFile("Fraud_Data_first30189_with_ip.csv.gz",
                   github_raw(*_WITH_IP, "fraud_data.csv"), (gzip_bytes,)),
        RemoteFile("IpAddress_to_Country_first103894.csv.gz",
                   github_raw(*_WITH_IP, "IpAddress_to_Country.csv"), (gzip_bytes,)),
    ),
    terms="No licence stated anywhere; internal evaluation only.",
)
