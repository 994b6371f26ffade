"""Open Bandit Dataset (ZOZOTOWN), small version: 6 x 10,000 logged recommendation impressions.

Two logging policies, uniform ``random`` and Bernoulli Thompson sampling ``bts``, ran as an A/B
split over the same week on three widget campaigns (``all`` 80 items, ``men`` 34, ``women`` 46).

- ``campaigns``: one per widget campaign (``obd_all``, ``obd_men``, ``obd_women``), whose arms
  are the two logging policies ``random`` and ``bts``, so the A/B comparison of the policies is
  an ordinary two-arm campaign.
- ``exposures``: one per impression: ``arm`` = the policy, ``item_id`` (``<campaign>-<id>``:
  item ids are per campaign), ``position`` (slot 1-3), ``propensity`` (the policy's probability
  of this item in this slot), ``clicked``, ``ts``; the four hashed user features and the user's
  non-zero past clicks per item (``affinity``) in attributes.
- ``items``: one per campaign item, with its features in attributes (the hashed features differ
  by policy, so both are kept).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from storemind.datasets._base import Dataset, Frames, dumps
from storemind.datasets._download import RemoteFile, gzip_bytes

__all__ = ["OPEN_BANDIT", "OBD_POLICIES", "OBD_CAMPAIGNS", "read_open_bandit"]

OBD_POLICIES = ("random", "bts")
OBD_CAMPAIGNS = ("all", "men", "women")
_RAW = "https://raw.githubusercontent.com/st-tech/zr-obp/master/obd"


def _exposures(path: Path, policy: str, campaign: str) -> pd.DataFrame:
    raw = pd.read_csv(path, index_col=0)
    aff_cols = [c for c in raw.columns if c.startswith("user-item_affinity_")]
    aff = raw[aff_cols].to_numpy(dtype=float)
    aff_ids = [c.removeprefix("user-item_affinity_") for c in aff_cols]
    user_cols = [c for c in raw.columns if c.startswith("user_feature_")]
    users = raw[user_cols].astype(str).to_dict("records")
    attrs = []
    for row, feats in zip(aff, users, strict=True):
        nz = np.flatnonzero(row)
        feats["affinity"] = {aff_ids[j]: float(row[j]) for j in nz}
        attrs.append(dumps(feats))
    ts = pd.to_datetime(raw.timestamp, utc=True).dt.tz_localize(None)
    return pd.DataFrame({
        "exposure_id": [f"obd-{policy}-{campaign}-{i:05d}" for i in raw.index],
        "campaign_id": f"obd_{campaign}",
        "arm": policy,
        "ts": ts.to_numpy(),
        "item_id": campaign + "-" + raw.item_id.astype(str),
        "position": raw.position.astype(int).to_numpy(),
        "propensity": raw.propensity_score.astype(float).to_numpy(),
        "clicked": raw.click.astype(float).to_numpy(),
        "attributes": attrs,
    })


def _items(data_dir: Path, campaign: str) -> pd.DataFrame:
    ctx = {p: pd.read_csv(data_dir / p / campaign / "item_context.csv", index_col=0)
           for p in OBD_POLICIES}
    base = ctx["random"]
    attrs = []
    for k in range(len(base)):
        a: dict[str, object] = {"campaign": campaign,
                                "item_feature_0": float(base.item_feature_0.iloc[k])}
        for p in OBD_POLICIES:
            row = ctx[p].iloc[k]
            for f in ("item_feature_1", "item_feature_2", "item_feature_3"):
                a[f"{f}_{p}"] = str(row[f])
        attrs.append(dumps(a))
    return pd.DataFrame({"item_id": campaign + "-" + base.item_id.astype(str),
                         "attributes": attrs})


def _read(data_dir: Path) -> Frames:
    exposures = pd.concat(
        [_exposures(data_dir / p / c / f"{c}.csv.gz", p, c)
         for p in OBD_POLICIES for c in OBD_CAMPAIGNS], ignore_index=True)
    items = pd.concat([_items(data_dir, c) for c in OBD_CAMPAIGNS], ignore_index=True)
    span = exposures.groupby("campaign_id").ts.agg(["min", "max"])
    campaigns = pd.DataFrame({
        "campaign_id": [f"obd_{c}" for c in OBD_CAMPAIGNS],
        "name": [f"ZOZOTOWN recommendation widget, campaign '{c}'" for c in OBD_CAMPAIGNS],
        "arms": dumps(list(OBD_POLICIES)),
        "description": "Open Bandit Dataset: items for a 3-slot widget chosen by a uniform "
                       "random policy or by Bernoulli Thompson sampling (A/B split).",
    })
    campaigns["start_ts"] = span["min"].reindex(campaigns.campaign_id).to_numpy()
    campaigns["end_ts"] = span["max"].reindex(campaigns.campaign_id).to_numpy()
    return Frames({"items": items, "campaigns": campaigns, "exposures": exposures})


def read_open_bandit(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """The Open Bandit small dataset as canonical ``items``, ``campaigns`` and ``exposures``.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return OPEN_BANDIT.read(data_dir, download=download)


OPEN_BANDIT = Dataset(
    name="open_bandit",
    folder="open_bandit_zozotown",
    description="Open Bandit (ZOZOTOWN) small: 60,000 logged impressions, random vs Thompson "
                "sampling on 3 campaigns, with propensities (off-policy evaluation, A/B).",
    tables=("items", "campaigns", "exposures"),
    reader=_read,
    files=tuple(
        f for p in OBD_POLICIES for c in OBD_CAMPAIGNS for f in (
            RemoteFile(f"{p}/{c}/{c}.csv.gz", f"{_RAW}/{p}/{c}/{c}.csv", (gzip_bytes,)),
            RemoteFile(f"{p}/{c}/item_context.csv", f"{_RAW}/{p}/{c}/item_context.csv"),
        )),
    terms="CC BY 4.0 (ZOZO); cite Saito et al. (2021).",
)
