"""Time-respecting train/test splits of interaction frames.

Pure functions on pandas frames: the input is never modified, and each returns ``(train, test)``,
two frames holding the input's rows (original index kept) in their original order. Ties in time
are broken by original row order: of two rows with one timestamp, the one further down the frame
counts as later.
"""
from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["temporal_split", "leave_last_out", "per_user_temporal_split"]


def _check_frame(frame: Any, *columns: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"frame: expected a pandas DataFrame, got {type(frame).__name__}")
    for col in columns:
        if col not in frame.columns:
            raise DataError(
                f"frame: expected a column {col!r}, got columns {list(frame.columns)}"
            )
        nulls = int(frame[col].isna().sum())
        if nulls:
            first = frame.index[frame[col].isna().to_numpy()][0]
            raise DataError(
                f"frame: column {col!r} has {nulls} missing value(s) (first at index {first!r})"
            )


def _check_fraction(test_fraction: Any) -> float:
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, int | float | np.integer | np.floating)
        or not 0.0 < float(test_fraction) < 1.0
    ):
        raise DataError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    return float(test_fraction)


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _time_rank(frame: pd.DataFrame, time_col: str) -> np.ndarray:
    """Dense rank of the time column (works for numbers, datetimes and ISO strings)."""
    try:
        return frame[time_col].rank(method="dense").to_numpy(dtype=np.float64)
    except TypeError as exc:
        raise DataError(
            f"frame: column {time_col!r} holds values that cannot be ordered "
            f"(dtype {frame[time_col].dtype}): {exc}"
        ) from exc


def _split(frame: pd.DataFrame, in_test: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame.loc[~in_test].copy(), frame.loc[in_test].copy()


def temporal_split(
    frame: pd.DataFrame,
    time_col: str = "ts",
    test_fraction: float | None = None,
    cutoff: Any = None,
    by: Literal["rows", "span"] = "rows",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split every row at one global point in time: train before it, test from it on.

    Give either ``cutoff`` (rows with ``time >= cutoff`` are test) or ``test_fraction``
    (default 0.2 when neither is given). With ``by="rows"`` the cutoff is the timestamp of the
    row that starts the last ``ceil(test_fraction * n)`` rows in time order; all rows sharing
    that timestamp go to test, so the test share can be slightly above ``test_fraction`` but no
    test row is ever earlier than a train row. With ``by="span"`` the cutoff is
    ``t_min + (1 - test_fraction) * (t_max - t_min)`` (the last fraction of the time span).

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to split, with a time column.
    time_col : str, default "ts"
        Column holding the time (datetime or number).
    test_fraction : float in (0, 1), optional
        Share of rows (``by="rows"``) or of the time span (``by="span"``) for the test side.
    cutoff : scalar, optional
        Explicit first test time; a string is parsed as a timestamp for datetime columns.
    by : {"rows", "span"}, default "rows"
        How ``test_fraction`` is measured.

    Returns
    -------
    train, test : pandas.DataFrame

    Raises
    ------
    DataError
        If the column is missing or has missing values, or the arguments are invalid.
    """
    _check_frame(frame, time_col)
    if cutoff is not None and test_fraction is not None:
        raise DataError("temporal_split: expected test_fraction or cutoff, got both")
    times = frame[time_col]
    if cutoff is not None:
        if pd.api.types.is_datetime64_any_dtype(times) and isinstance(cutoff, str):
            cutoff = pd.Timestamp(cutoff)
        try:
            in_test = (times >= cutoff).to_numpy(dtype=bool)
        except TypeError as exc:
            raise DataError(
                f"cutoff: {cutoff!r} cannot be compared with column {time_col!r} "
                f"(dtype {times.dtype}): {exc}"
            ) from exc
        return _split(frame, in_test)
    fraction = _check_fraction(0.2 if test_fraction is None else test_fraction)
    if by not in ("rows", "span"):
        raise DataError(f"by: expected 'rows' or 'span', got {by!r}")
    if len(frame) == 0:
        return _split(frame, np.zeros(0, dtype=bool))
    if by == "span":
        t_min, t_max = times.min(), times.max()
        cut = t_min + (1.0 - fraction) * (t_max - t_min)
        return _split(frame, (times >= cut).to_numpy(dtype=bool))
    rank = _time_rank(frame, time_col)
    n_test = math.ceil(fraction * len(frame))
    cut_rank = np.sort(rank)[len(frame) - n_test]
    return _split(frame, rank >= cut_rank)


def _per_user_positions(
    frame: pd.DataFrame, user_col: str, time_col: str
) -> tuple[np.ndarray, np.ndarray]:
    """For each row: its position from the end of its user's history (0 = last), user size."""
    users, _ = pd.factorize(frame[user_col], sort=False)
    rank = _time_rank(frame, time_col)
    position = np.arange(len(frame))
    order = np.lexsort((position, rank, users))
    sorted_users = users[order]
    sizes = np.bincount(users)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    index_in_user = np.arange(len(frame)) - starts[sorted_users]
    from_end_sorted = sizes[sorted_users] - 1 - index_in_user
    from_end = np.empty(len(frame), dtype=np.int64)
    from_end[order] = from_end_sorted
    return from_end, sizes[users]


def leave_last_out(
    frame: pd.DataFrame,
    user_col: str = "user_id",
    time_col: str = "ts",
    n: int = 1,
    min_train: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each user's last ``n`` rows by time.

    Ties in time are broken by row order (a later row is later). A user with fewer than
    ``n + min_train`` rows keeps all rows in train, so every test user has at least
    ``min_train`` training rows (``min_train=0`` sends short histories wholly to test).

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to split.
    user_col : str, default "user_id"
        Column identifying the user.
    time_col : str, default "ts"
        Column holding the time.
    n : int, default 1
        Rows held out per user.
    min_train : int, default 1
        Rows a user must keep in train to be held out at all.

    Returns
    -------
    train, test : pandas.DataFrame
    """
    _check_frame(frame, user_col, time_col)
    n = _check_count(n, "n", 1)
    min_train = _check_count(min_train, "min_train", 0)
    if len(frame) == 0:
        return _split(frame, np.zeros(0, dtype=bool))
    from_end, sizes = _per_user_positions(frame, user_col, time_col)
    return _split(frame, (from_end < n) & (sizes >= n + min_train))


def per_user_temporal_split(
    frame: pd.DataFrame,
    test_fraction: float = 0.2,
    user_col: str = "user_id",
    time_col: str = "ts",
    min_train: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out the last ``test_fraction`` of each user's rows by time.

    A user with ``m`` rows gives ``min(floor(test_fraction * m + 0.5), m - min_train)`` rows
    (rounded half up, at least 0) to test: the latest ones, ties broken by row order.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to split.
    test_fraction : float in (0, 1), default 0.2
        Share of each user's rows held out.
    user_col : str, default "user_id"
        Column identifying the user.
    time_col : str, default "ts"
        Column holding the time.
    min_train : int, default 1
        Rows each user keeps in train at least (when the user has that many).

    Returns
    -------
    train, test : pandas.DataFrame
    """
    _check_frame(frame, user_col, time_col)
    fraction = _check_fraction(test_fraction)
    min_train = _check_count(min_train, "min_train", 0)
    if len(frame) == 0:
        return _split(frame, np.zeros(0, dtype=bool))
    from_end, sizes = _per_user_positions(frame, user_col, time_col)
    n_test = np.floor(fraction * sizes + 0.5).astype(np.int64)
    n_test = np.clip(np.minimum(n_test, sizes - min_train), 0, None)
    return _split(frame, from_end < n_test)
