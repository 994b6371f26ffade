"""Long demand frames <-> a dense series x period matrix on a regular calendar.

A demand frame has one row per series and period: ``series_id``, ``ts``, ``y`` and optionally
known-in-advance covariates (``price``, ``promo``, ``is_holiday``, ...). Periods a series does
not report after its first observation count as zero demand; periods before it are NaN (the
series did not exist yet). Negative values (returns exceeding sales) are kept here; the models
clip them at zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = ["Grid", "to_grid", "check_demand_frame", "FREQS"]

#: pandas frequency of each supported period
FREQS = {"D": "D", "W": "W-FRI"}


@dataclass
class Grid:
    """Series on one calendar. ``Y`` is (n_series, T); ``X`` maps a covariate name to an
    (n_series, T + extra) matrix covering history and any future periods given."""

    ids: np.ndarray
    dates: pd.DatetimeIndex
    Y: np.ndarray
    X: dict[str, np.ndarray] = field(default_factory=dict)
    groups: np.ndarray | None = None

    @property
    def T(self) -> int:
        return self.Y.shape[1]


def check_demand_frame(frame: pd.DataFrame, where: str = "demand frame") -> pd.DataFrame:
    """Validate a long demand frame; returns it with ``ts`` as datetime and ``y`` as float."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{where}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in ("series_id", "ts", "y") if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: expected columns series_id, ts, y; missing {missing} "
                        f"(got {list(frame.columns)})")
    if frame.empty:
        raise DataError(f"{where}: no rows")
    out = frame.copy()
    out["series_id"] = out["series_id"].astype(str)
    try:
        out["ts"] = pd.to_datetime(out["ts"])
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: column ts is not a timestamp ({exc})") from None
    y = pd.to_numeric(out["y"], errors="coerce")
    if y.isna().any():
        bad = out.loc[y.isna(), "y"].iloc[0]
        raise DataError(f"{where}: column y must be numeric; row {int(y.isna().argmax())} "
                        f"holds {bad!r}")
    out["y"] = y.astype(float)
    if out.duplicated(["series_id", "ts"]).any():
        raise DataError(f"{where}: more than one row for the same series_id and ts; "
                        "aggregate demand per period first")
    return out


def to_grid(frame: pd.DataFrame, freq: str, covariates: list[str] | tuple[str, ...] = (),
            future: pd.DataFrame | None = None, group_col: str | None = None,
            end: pd.Timestamp | None = None) -> Grid:
    """Pivot a checked demand frame to a :class:`Grid` (zeros in gaps after each series'
    start); ``future`` rows (``series_id``, ``ts`` and covariates) extend the covariates."""
    if freq not in FREQS:
        raise DataError(f"freq must be one of {sorted(FREQS)}; got {freq!r}")
    ts = frame["ts"]
    if freq == "W":
        ts = ts.dt.normalize()
        ts = ts + pd.to_timedelta((4 - ts.dt.dayofweek) % 7, unit="D")  # the week's Friday
    else:
        ts = ts.dt.normalize()
    frame = frame.assign(ts=ts)
    last = frame["ts"].max() if end is None else pd.Timestamp(end)
    dates = pd.date_range(frame["ts"].min(), last, freq=FREQS[freq])
    ids = np.array(sorted(frame["series_id"].unique()), dtype=object)
    row = pd.Index(ids).get_indexer(frame["series_id"])
    col = dates.get_indexer(frame["ts"])
    ok = col >= 0
    Y = np.zeros((len(ids), len(dates)))
    seen = np.zeros(Y.shape, dtype=bool)
    np.add.at(Y, (row[ok], col[ok]), frame["y"].to_numpy()[ok])
    seen[row[ok], col[ok]] = True
    first = np.where(seen.any(1), np.argmax(seen, axis=1), len(dates))
    Y[np.arange(len(dates))[None, :] < first[:, None]] = np.nan
    extra = 0
    fut_dates = dates
    if future is not None and len(future):
        fts = pd.to_datetime(future["ts"]).dt.normalize()
        fut_dates = pd.date_range(dates[0], max(fts.max(), dates[-1]), freq=FREQS[freq])
        extra = len(fut_dates) - len(dates)
    X = {}
    for c in covariates:
        M = np.full((len(ids), len(dates) + extra), np.nan)
        for part in (frame, future):
            if part is None or c not in part.columns or not len(part):
                continue
            r = pd.Index(ids).get_indexer(part["series_id"].astype(str))
            k = fut_dates.get_indexer(pd.to_datetime(part["ts"]).dt.normalize()
                                      if part is future else part["ts"])
            m = (r >= 0) & (k >= 0)
            M[r[m], k[m]] = pd.to_numeric(part[c], errors="coerce").to_numpy(float)[m]
        X[c] = M
    groups = None
    if group_col is not None and group_col in frame.columns:
        g = frame.drop_duplicates("series_id").set_index("series_id")[group_col]
        groups = g.reindex(ids).astype(str).to_numpy(dtype=object)
    return Grid(ids, dates, Y, X, groups)
