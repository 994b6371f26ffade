"""RFM segments with the standard names, from quintile scores learned on the customer base.

Each customer gets three scores from 1 to 5: **R** (recency; 5 = bought most recently),
**F** (frequency; 5 = most orders) and **M** (monetary; 5 = spent most). The cut points are the
20th, 40th, 60th and 80th percentiles of the customers the segmenter was fitted on, so a new
customer is scored against the same base (ties: a value equal to a cut point falls below it;
many one-order customers therefore all get F = 1). **FM** = round((F + M) / 2), half up.

The segment is read from this grid of R (rows) by FM (columns):

====  ==============  ===================  ===================  ===========  ===========
R     FM 1            FM 2                 FM 3                 FM 4         FM 5
====  ==============  ===================  ===================  ===========  ===========
5     New customers   Potential loyalists  Potential loyalists  Champions    Champions
4     Promising       Potential loyalists  Potential loyalists  Loyal        Champions
3     About to sleep  Need attention       Need attention       Loyal        Loyal
2     Hibernating     Hibernating          At risk              At risk      Can't lose
1     Lost            Hibernating          At risk              Can't lose   Can't lose
====  ==============  ===================  ===================  ===========  ===========
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from storemind._base import Estimator
from storemind.errors import DataError

__all__ = ["RFMSegmenter", "SEGMENTS", "SEGMENT_GRID", "SEGMENT_ADVICE"]

_NL, _PL, _CH, _PR, _LO = "New customers", "Potential loyalists", "Champions", "Promising", "Loyal"
_AS, _NA, _HI, _AR, _CL = "About to sleep", "Need attention", "Hibernating", "At risk", "Can't lose"
_LOST = "Lost"

#: SEGMENT_GRID[R - 1][FM - 1] is the segment name
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    (_LOST, _HI, _AR, _CL, _CL),
    (_HI, _HI, _AR, _AR, _CL),
    (_AS, _NA, _NA, _LO, _LO),
    (_PR, _PL, _PL, _LO, _CH),
    (_NL, _PL, _PL, _CH, _CH),
)

#: the eleven segment names, best first
SEGMENTS: tuple[str, ...] = (_CH, _LO, _PL, _NL, _PR, _NA, _AS, _AR, _CL, _HI, _LOST)

#: one line per segment: who they are and what a store usually does about them
SEGMENT_ADVICE: dict[str, str] = {
    _CH: "Bought recently, buy often and spend the most. Reward them; ask for reviews.",
    _LO: "Buy often and spend well, and are still active. Upsell; loyalty programme.",
    _PL: "Recent customers with average frequency and spend. Offer membership, recommend.",
    _NL: "Bought very recently for the first time or little so far. Onboard them well.",
    _PR: "Recent but low spend and few orders. Build awareness, small incentives.",
    _NA: "Average on every score and drifting. Limited-time offers, reactivate interest.",
    _AS: "Below average recency, few orders, low spend. Win them back before they leave.",
    _AR: "Used to buy often and spend well, but not for a while. Personal win-back.",
    _CL: "Were among the best customers and have gone quiet. Win them back at any cost.",
    _HI: "Last bought long ago, few orders, low spend. Cheap reactivation or let go.",
    _LOST: "Lowest recency, frequency and spend. Usually not worth a campaign.",
}


def _as_float(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} must be numeric; got {type(values).__name__}: {exc}") from None
    if arr.size == 0:
        raise DataError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} has {int(np.sum(~np.isfinite(arr)))} missing or infinite "
                        "value(s)")
    return arr


class RFMSegmenter(Estimator):
    """Quintile R, F and M scores and the standard RFM segment names (see module docstring).

    Parameters
    ----------
    quantiles : tuple of float
        Cut points as fractions of the fitted customers (default quintiles).
    """

    def __init__(self, quantiles: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8)):
        self.quantiles = quantiles

    def fit(self, recency, frequency, monetary) -> RFMSegmenter:
        """Learn the cut points from per-customer ``recency`` (days since the last order),
        ``frequency`` (orders) and ``monetary`` (total spend)."""
        r, f, m = self._check(recency, frequency, monetary)
        if r.size < 5:
            raise DataError(f"RFM segments need at least 5 customers; got {r.size}")
        q = np.asarray(self.quantiles, dtype=float)
        self.recency_edges_ = np.quantile(r, q)
        self.frequency_edges_ = np.quantile(f, q)
        self.monetary_edges_ = np.quantile(m, q)
        self.n_customers_ = int(r.size)
        return self

    @staticmethod
    def _check(recency, frequency, monetary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = _as_float(recency, "recency")
        f = _as_float(frequency, "frequency")
        m = _as_float(monetary, "monetary")
        if not r.size == f.size == m.size:
            raise DataError(f"recency, frequency and monetary must have the same length; "
                            f"got {[r.size, f.size, m.size]}")
        if np.any(r < 0) or np.any(f < 0):
            raise DataError("recency and frequency must be >= 0")
        return r, f, m

    def scores(self, recency, frequency, monetary) -> pd.DataFrame:
        """Columns ``R``, ``F``, ``M`` (1..5) and ``FM``."""
        self._check_fitted()
        r, f, m = self._check(recency, frequency, monetary)
        n = len(self.quantiles)
        rs = 1 + (r[:, None] < self.recency_edges_[None, ::-1]).sum(1)
        fs = 1 + (f[:, None] > self.frequency_edges_[None, :]).sum(1)
        ms = 1 + (m[:, None] > self.monetary_edges_[None, :]).sum(1)
        scale = 4.0 / n  # map 1..n+1 onto 1..5 for non-quintile cut points
        rs, fs, ms = (np.rint(1 + (s - 1) * scale).astype(int) for s in (rs, fs, ms))
        fm = np.floor((fs + ms) / 2 + 0.5).astype(int)
        return pd.DataFrame({"R": rs, "F": fs, "M": ms, "FM": fm})

    def predict(self, recency, frequency, monetary) -> np.ndarray:
        """The segment name of each customer (an array of str)."""
        s = self.scores(recency, frequency, monetary)
        grid = np.array(SEGMENT_GRID, dtype=object)
        return grid[s.R.to_numpy() - 1, s.FM.to_numpy() - 1].astype(str)
