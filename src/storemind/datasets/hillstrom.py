"""Hillstrom MineThatData e-mail experiment (2008): 64,000 customers in three random arms.

- ``users``: one per row (``hillstrom-00000`` ...), with recency, history_segment, history,
  mens, womens, zip_code, newbie and channel in attributes.
- ``campaigns``: the one campaign ``hillstrom_email``, arms ``Mens E-Mail``, ``Womens E-Mail``
  and ``No E-Mail`` (the control). The source gives no dates.
- ``exposures``: one per customer: the arm, and ``visited``, ``converted`` and ``spend`` in the
  following two weeks.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from storemind.datasets._base import Dataset, Frames, dumps, json_column
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["HILLSTROM", "HILLSTROM_ARMS", "read_hillstrom"]

HILLSTROM_ARMS = ("Mens E-Mail", "Womens E-Mail", "No E-Mail")
_CAMPAIGN = "hillstrom_email"
_REPO, _COMMIT = "carlosquintanillaa/Datasets", "bd475633095c8a007be32c47ea695abe318197b6"
_USER_COLS = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
              "channel"]


def _read(data_dir: Path) -> Frames:
    raw = pd.read_csv(data_dir / "hillstrom.csv.gz")
    user_id = pd.Series([f"hillstrom-{i:05d}" for i in range(len(raw))], index=raw.index)
    users = pd.DataFrame({"user_id": user_id, "attributes": json_column(raw, _USER_COLS)})
    campaigns = pd.DataFrame({
        "campaign_id": [_CAMPAIGN],
        "name": ["Hillstrom MineThatData e-mail test (2008)"],
        "arms": [dumps(list(HILLSTROM_ARMS))],
        "description": ["Customers who bought in the last 12 months, randomised in thirds to a "
                        "Mens e-mail, a Womens e-mail or no e-mail (control); outcomes over the "
                        "following two weeks."],
    })
    exposures = pd.DataFrame({
        "exposure_id": user_id.str.replace("hillstrom-", "hillstrom-exp-", regex=False),
        "campaign_id": _CAMPAIGN,
        "user_id": user_id,
        "arm": raw.segment,
        "visited": raw.visit.astype(float),
        "converted": raw.conversion.astype(float),
        "spend": raw.spend.astype(float),
    })
    return Frames({"users": users, "campaigns": campaigns, "exposures": exposures})


def read_hillstrom(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """Hillstrom as canonical ``users``, ``campaigns`` and ``exposures`` frames.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return HILLSTROM.read(data_dir, download=download)


HILLSTROM = Dataset(
    name="hillstrom",
    folder="hillstrom",
    description="Hillstrom e-mail experiment: 64,000 customers randomised to Mens / Womens / no "
                "e-mail, with visits, conversions and spend (uplift, A/B tests).",
    tables=("users", "campaigns", "exposures"),
    reader=_read,
    files=(RemoteFile("hillstrom.csv.gz", github_raw(_REPO, _COMMIT, "hillstrom.csv"),
                      (gzip_bytes,)),),
    terms="Released by Kevin Hillstrom (2008) for free analytical use; cite Hillstrom (2008).",
)
