"""Time-respecting splits: known answers, invariants (hypothesis), clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError
from storemind.evaluation import leave_last_out, per_user_temporal_split, temporal_split


def events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "c", "a", "b"],
            "item_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "ts": pd.to_datetime(
                ["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-05", "2024-01-05",
                 "2024-01-04", "2024-01-03", "2024-01-01"]
            ),
        },
        index=[10, 11, 12, 13, 14, 15, 16, 17],
    )


def test_temporal_split_by_cutoff_and_fraction() -> None:
    frame = events()
    train, test = temporal_split(frame, cutoff="2024-01-04")
    assert list(test["item_id"]) == [4, 5, 6]
    assert list(train["item_id"]) == [1, 2, 3, 7, 8]
    assert list(train.index) == [10, 11, 12, 16, 17]  # original index and order kept
    # 20% of 8 rows -> the last 2 rows in time: both on 2024-01-05
    train, test = temporal_split(frame, test_fraction=0.2)
    assert sorted(test["item_id"]) == [4, 5]
    # 30% -> 3 rows: the two 2024-01-05 rows and the 2024-01-04 row
    _, test = temporal_split(frame, test_fraction=0.3)
    assert sorted(test["item_id"]) == [4, 5, 6]
    # 40% -> 4 rows; the 4th latest ties at 2024-01-03 with another, so both go to test
    _, test = temporal_split(frame, test_fraction=0.4)
    assert sorted(test["item_id"]) == [2, 4, 5, 6, 7]
    # by span: 2024-01-01 .. 2024-01-05, last 25% of the span starts 2024-01-04
    _, test = temporal_split(frame, test_fraction=0.25, by="span")
    assert sorted(test["item_id"]) == [4, 5, 6]
    assert frame.equals(events())  # input untouched


def test_leave_last_out_breaks_ties_by_row_order() -> None:
    train, test = leave_last_out(events())
    # a: rows at 01-01, 01-03 (item 2), 01-02, 01-03 (item 7, later row) -> item 7 is last
    # b: 01-05 (item 4), 01-05 (item 5, later row), 01-01 -> item 5; c has one row: train only
    assert sorted(test["item_id"]) == [5, 7]
    assert len(train) + len(test) == 8
    _, test2 = leave_last_out(events(), n=2)
    assert sorted(test2["item_id"]) == [2, 4, 5, 7]
    _, test0 = leave_last_out(events(), min_train=0)
    assert sorted(test0["item_id"]) == [5, 6, 7]


def test_per_user_temporal_split_rounds_half_up() -> None:
    frame = events()
    # a has 4 rows: 0.4*4=1.6 -> 2; b has 3: 1.2 -> 1; c has 1 row and keeps it (min_train=1)
    _, test = per_user_temporal_split(frame, test_fraction=0.4)
    assert sorted(test["item_id"]) == [2, 5, 7]
    _, test = per_user_temporal_split(frame, test_fraction=0.5)  # a: 2, b: 1.5 -> 2
    assert sorted(test["item_id"]) == [2, 4, 5, 7]


@st.composite
def interaction_frames(draw):
    n = draw(st.integers(1, 60))
    users = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))  # many ties
    return pd.DataFrame({"user_id": users, "ts": times, "row": np.arange(n)})


def _key(frame: pd.DataFrame) -> pd.Series:
    return frame["ts"] * 1000 + frame["row"]  # (time, row order)


@settings(max_examples=60, deadline=None)
@given(interaction_frames(), st.floats(0.05, 0.95))
def test_splits_partition_rows_and_respect_time(frame, fraction) -> None:
    train, test = temporal_split(frame, test_fraction=fraction)
    assert sorted(pd.concat([train, test])["row"]) == list(range(len(frame)))
    if len(train) and len(test):
        assert train["ts"].max() < test["ts"].min()
    assert len(test) >= np.ceil(fraction * len(frame))

    for split in (
        leave_last_out(frame, n=2),
        per_user_temporal_split(frame, test_fraction=fraction),
    ):
        train, test = split
        assert sorted(pd.concat([train, test])["row"]) == list(range(len(frame)))
        for user, held in test.groupby("user_id"):
            kept = train[train["user_id"] == user]
            assert len(kept) >= 1  # min_train
            assert _key(kept).max() < _key(held).min()


@settings(max_examples=40, deadline=None)
@given(interaction_frames(), st.integers(0, 2**31))
def test_leave_last_out_is_invariant_to_user_order(frame, seed) -> None:
    # shuffling whole users' blocks keeps each user's row order, so the result is the same
    users = frame["user_id"].unique()
    perm = np.random.default_rng(seed).permutation(users)
    shuffled = pd.concat([frame[frame["user_id"] == u] for u in perm])
    _, test = leave_last_out(frame)
    _, test2 = leave_last_out(shuffled)
    assert sorted(test["row"]) == sorted(test2["row"])


def test_errors_are_clear() -> None:
    frame = events()
    with pytest.raises(DataError, match=r"column 'timestamp'.*columns \['user_id'"):
        temporal_split(frame, time_col="timestamp")
    with pytest.raises(DataError, match="'customer'"):
        leave_last_out(frame, user_col="customer")
    with pytest.raises(DataError, match="test_fraction"):
        per_user_temporal_split(frame, test_fraction=1.5)
    with pytest.raises(DataError, match="got both"):
        temporal_split(frame, test_fraction=0.2, cutoff="2024-01-02")
    with pytest.raises(DataError, match="n: expected an integer >= 1"):
        leave_last_out(frame, n=0)
    with pytest.raises(DataError, match="missing value"):
        leave_last_out(frame.assign(ts=frame["ts"].where(frame["item_id"] != 3)))
    with pytest.raises(DataError, match="DataFrame"):
        temporal_split([1, 2, 3])
    with pytest.raises(DataError, match="cannot be compared"):
        temporal_split(frame, cutoff=5)
