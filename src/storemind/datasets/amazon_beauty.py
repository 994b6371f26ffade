"""Amazon Beauty 5-core purchase sequences (S3-Rec preprocessing): 22,363 users, 12,101 items.

The source has order but no time: each user's k-th purchase (k = 0, 1, ...) gets the ordinal
timestamp ``2000-01-01 + k days``, so time order equals sequence order within a user. Across
users the timestamps carry no meaning: use per-user splits (leave-last-out), not global cutoffs.
Items carry their S3-Rec attribute ids (category path and brand, no names) in attributes.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd

from storemind.datasets._base import Dataset, Frames, dumps
from storemind.datasets._download import RemoteFile, github_raw, gzip_bytes

__all__ = ["AMAZON_BEAUTY", "ORDINAL_EPOCH", "read_amazon_beauty"]

#: The origin of the ordinal timestamps: position k is ORDINAL_EPOCH + k days.
ORDINAL_EPOCH = pd.Timestamp("2000-01-01")
_REPO, _COMMIT = "aHuiWang/CIKM2020-S3Rec", "49a890dcb516c9ed3126564495234ea74d5cd566"


def _read(data_dir: Path) -> Frames:
    users, items, pos = [], [], []
    with gzip.open(data_dir / "Beauty.txt.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            seq = parts[1:]
            users.extend([parts[0]] * len(seq))
            items.extend(seq)
            pos.extend(range(len(seq)))
    user = np.asarray(users, dtype=object)
    position = np.asarray(pos, dtype=np.int64)
    events = pd.DataFrame({
        "event_id": [f"beauty-{u}-{k}" for u, k in zip(users, pos, strict=True)],
        "user_id": user,
        "item_id": np.asarray(items, dtype=object),
        "event_type": "purchase",
        "ts": ORDINAL_EPOCH + pd.to_timedelta(position, unit="D"),
    })
    with gzip.open(data_dir / "Beauty_item2attributes.json.gz", "rt", encoding="utf-8") as fh:
        attrs: dict[str, list[int]] = json.load(fh)
    item_ids = sorted(set(events.item_id) | set(attrs), key=int)
    items_frame = pd.DataFrame({
        "item_id": item_ids,
        "attributes": [dumps({"attribute_ids": attrs.get(i, [])}) for i in item_ids],
    })
    users_frame = pd.DataFrame({"user_id": pd.unique(user)})
    return Frames({"items": items_frame, "users": users_frame, "events": events})


def read_amazon_beauty(data_dir: str | Path | None = None, *, download: bool = False) -> Frames:
    """Amazon Beauty sequences as canonical ``items``, ``users`` and ``events`` (purchases).

    Parameters
    ----------
    data_dir : str or Path, optional
        The datasets folder (default: ``STOREMIND_DATA``, else ``../shared/data``).
    download : bool
        Fetch missing files from the public source first.
    """
    return AMAZON_BEAUTY.read(data_dir, download=download)


AMAZON_BEAUTY = Dataset(
    name="amazon_beauty",
    folder="amazon_seq_s3rec",
    description="Amazon Beauty 5-core purchase sequences (S3-Rec): 198,502 purchases, 22,363 "
                "users, 12,101 items; ordinal timestamps (sequential recommendation).",
    tables=("items", "users", "events"),
    reader=_read,
    files=(
        RemoteFile("Beauty.txt.gz", github_raw(_REPO, _COMMIT, "data/Beauty.txt"), (gzip_bytes,)),
        RemoteFile("Beauty_item2attributes.json.gz",
                   github_raw(_REPO, _COMMIT, "data/Beauty_item2attributes.json"), (gzip_bytes,)),
    ),
    terms="Amazon review data (UCSD, McAuley lab): research use only.",
)
