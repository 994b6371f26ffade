"""Two small multi-event fixtures: DIGINETICA session views and the head of Taobao UserBehavior.

- ``diginetica``: 12,391 ``view`` events in 2,986 sessions. ``session_id`` is kept; anonymous
  sessions (no user) get ``user_id = 'anon-<session_id>'`` because events need a user (counted in
  ``notes``); ``ts`` = the event date + the milliseconds since the session start.
- ``taobao``: 4,321 behaviours; pv -> ``view``, cart -> ``cart``, buy -> ``purchase``. ``fav``
  has no canonical event type: those rows are passed on as ``fav`` so the store quarantines them
  with the reason (and they are counted in ``notes``). Items carry their category id.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from storemind.datasets._base import Dataset, Frames, unix_to_ts
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["DIGINETICA", "TAOBAO", "read_diginetica", "read_taobao"]

_DIGI = ("CRIPAC-DIG/SR-GNN", "e21cfa431f74c25ae6e4ae9261deefe11d1cb488")
_TAOBAO = ("fattydelivery/clothes-shopping-website-v1.0",
           "ee6cc5a462d49102d4583380619a122b31713c0b")
_TAOBAO_TYPES = {"pv": "view", "cart": "cart", "buy": "purchase"}


def _read_diginetica(data_dir: Path) -> Frames:
    raw = pd.read_csv(data_dir / "sample_train-item-views.csv.gz", sep=";", dtype=str,
                      keep_default_na=False)
    anonymous = raw.user_id.isin(["", "NA"])
    user = raw.user_id.where(~anonymous, "anon-" + raw.session_id)
    ts = (pd.to_datetime(raw.eventdate, format="%Y-%m-%d")
          + pd.to_timedelta(raw.timeframe.astype("int64"), unit="ms"))
    events = pd.DataFrame({
        "event_id": [f"digi-{i:05d}" for i in range(len(raw))],
        "user_id": user,
        "item_id": raw.item_id,
        "session_id": raw.session_id,
        "event_type": "view",
        "ts": ts,
    })
    notes = {}
    if anonymous.any():
        notes["events: anonymous views given user_id 'anon-<session_id>'"] = int(anonymous.sum())
    return Frames({"events": events}, notes=notes)


def _read_taobao(data_dir: Path) -> Frames:
    raw = pd.read_csv(data_dir / "UserBehavior_head.csv.gz", header=None, dtype=str,
                      names=["user_id", "item_id", "category_id", "behavior", "ts"])
    events = pd.DataFrame({
        "event_id": [f"taobao-{i:05d}" for i in range(len(raw))],
        "user_id": raw.user_id,
        "item_id": raw.item_id,
        "event_type": raw.behavior.map(_TAOBAO_TYPES).fillna(raw.behavior),
        "ts": unix_to_ts(raw.ts.astype("int64").to_numpy()).to_numpy(),
    })
    items = (raw.drop_duplicates("item_id")[["item_id", "category_id"]]
             .rename(columns={"category_id": "category"}))
    unmapped = int((~raw.behavior.isin(list(_TAOBAO_TYPES))).sum())
    notes = {}
    if unmapped:
        notes["events: behaviours without a canonical event type (e.g. fav), left for the store "
              "to quarantine"] = unmapped
    return Frames({"items": items, "events": events}, notes=notes)


def read_diginetica(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """The DIGINETICA sample as a canonical ``events`` frame (views with sessions).

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return DIGINETICA.read(data_dir, download=download)


def read_taobao(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """The Taobao UserBehavior head as canonical ``items`` and ``events`` frames.

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return TAOBAO.read(data_dir, download=download)


DIGINETICA = Dataset(
    name="diginetica",
    folder="diginetica_sample",
    description="DIGINETICA CIKM'16 sample: 12,391 views in 2,986 sessions (session-based "
                "recommendation fixture).",
    tables=("events",),
    reader=_read_diginetica,
    files=(RemoteFile("sample_train-item-views.csv.gz",
                      github_raw(*_DIGI, "datasets/sample_train-item-views.csv"), (gzip_bytes,)),),
    terms="CIKM Cup 2016 (DIGINETICA): research use.",
)
TAOBAO = Dataset(
    name="taobao",
    folder="taobao_userbehavior_head",
    description="Taobao UserBehavior head: 4,321 view/cart/fav/buy events of 43 users "
                "(multi-behaviour schema fixture, not a benchmark).",
    tables=("items", "events"),
    reader=_read_taobao,
    files=(RemoteFile("UserBehavior_head.csv.gz", github_raw(*_TAOBAO, "UserBehavior.csv"),
                      (gzip_bytes,)),),
    terms="Alibaba Tianchi: research use only.",
)
