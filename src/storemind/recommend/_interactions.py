"""Events -> dense-indexed interactions, the input of every recommender.

Ids are strings at the edges and dense integers inside models. :class:`Interactions` holds one
row per event (user index, item index, weight, time, event type, session) sorted by time, plus
the two index arrays that map dense indices back to the store's ids.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from storemind.errors import DataError
from storemind.store.schema import EVENT_TYPES

__all__ = ["Interactions", "DEFAULT_WEIGHTS", "EVENT_CODES", "VALUE_WEIGHTED"]

#: Weight of one event of each type in the user-item matrix.
DEFAULT_WEIGHTS: dict[str, float] = {
    "view": 1.0, "click": 1.0, "search": 0.0, "cart": 3.0, "purchase": 5.0, "rating": 1.0,
}
#: int8 code of each canonical event type (``Interactions.event_types``).
EVENT_CODES: dict[str, int] = {name: code for code, name in enumerate(EVENT_TYPES)}
#: Event types whose ``value`` column multiplies the weight (a rating of 4 weighs 4 x 1.0).
VALUE_WEIGHTED: tuple[str, ...] = ("rating",)

_REQUIRED = ("user_id", "item_id", "event_type", "ts")


@dataclass
class Interactions:
    """Events with dense user and item indices, sorted by time (stable).

    Attributes
    ----------
    user_ids, item_ids : numpy.ndarray of str
        Dense index -> external id.
    users, items : numpy.ndarray of int32
        User and item index of each event.
    weights : numpy.ndarray of float32
        Weight of each event: its type's weight, times ``value`` for rating events.
    ts : numpy.ndarray of int64
        Seconds since the epoch, ascending.
    event_types : numpy.ndarray of int8
        Code of each event's type, see :data:`EVENT_CODES`.
    sessions : numpy.ndarray of int64 or None
        Dense session (or order) code per event, -1 where unknown; None when the frame had no
        ``session_id`` column.
    dropped : int
        Events left out by :meth:`from_frame` (unknown ids when the index was fixed, or no item).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    ts: np.ndarray
    event_types: np.ndarray
    sessions: np.ndarray | None = None
    dropped: int = 0

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        events: pd.DataFrame,
        *,
        weights: Mapping[str, float] | None = None,
        user_ids: Iterable[str] | None = None,
        item_ids: Iterable[str] | None = None,
    ) -> Interactions:
        """Build from an events frame (the canonical ``events`` table or a subset of it).

        Parameters
        ----------
        events : pandas.DataFrame
            Columns ``user_id``, ``item_id``, ``event_type``, ``ts`` (datetime or epoch
            seconds); optional ``value`` (rating value) and ``session_id``.
        weights : mapping of str to float, optional
            Weight per event type; merged over :data:`DEFAULT_WEIGHTS`.
        user_ids, item_ids : iterable of str, optional
            Fix the index (e.g. the training split's) so that other events map the same way.
            Events with ids outside a fixed index are dropped and counted in ``dropped``.

        Raises
        ------
        DataError
            Not a DataFrame, a required column missing, an unknown event type, or a bad ``ts``.
        """
        if not isinstance(events, pd.DataFrame):
            raise DataError(
                f"Interactions.from_frame expects a pandas DataFrame of events, "
                f"got {type(events).__name__}"
            )
        missing = [c for c in _REQUIRED if c not in events.columns]
        if missing:
            raise DataError(
                f"events frame is missing column(s) {missing}; expected {list(_REQUIRED)} "
                f"(+ optional value, session_id), got {list(events.columns)}"
            )
        w = dict(DEFAULT_WEIGHTS)
        if weights is not None:
            w.update({str(k): float(v) for k, v in weights.items()})
        n_in = len(events)

        etype = events["event_type"].astype(str).to_numpy()
        unknown = sorted(set(np.unique(etype)) - set(EVENT_CODES))
        if unknown:
            raise DataError(
                f"unknown event_type(s) {unknown[:5]} in events; expected one of {EVENT_TYPES}"
            )
        keep = events["item_id"].notna().to_numpy() & events["user_id"].notna().to_numpy()
        frame = events.loc[keep]
        etype = etype[keep]
        ts = _to_seconds(frame["ts"])

        user_str = frame["user_id"].astype(str).to_numpy()
        item_str = frame["item_id"].astype(str).to_numpy()
        uid = _index(user_ids, user_str)
        iid = _index(item_ids, item_str)
        u = _lookup(uid, user_str)
        i = _lookup(iid, item_str)
        ok = (u >= 0) & (i >= 0)

        wt = np.array([w.get(t, 0.0) for t in EVENT_TYPES], dtype=np.float32)
        codes = np.array([EVENT_CODES[t] for t in EVENT_TYPES], dtype=np.int8)
        code_of = dict(zip(EVENT_TYPES, codes, strict=True))
        ev = np.fromiter((code_of[t] for t in etype), dtype=np.int8, count=len(etype))
        weight = wt[ev]
        if "value" in frame.columns:
            value = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64)
            scaled = np.isin(ev, [EVENT_CODES[t] for t in VALUE_WEIGHTED]) & ~np.isnan(value)
            weight = np.where(scaled, weight * value, weight).astype(np.float32)

        sessions = None
        if "session_id" in frame.columns:
            sess = frame["session_id"]
            codes_s, _ = pd.factorize(sess.astype("string"), use_na_sentinel=True)
            sessions = codes_s.astype(np.int64)[ok]

        order = np.argsort(ts[ok], kind="stable")
        return cls(
            user_ids=uid,
            item_ids=iid,
            users=u[ok][order].astype(np.int32),
            items=i[ok][order].astype(np.int32),
            weights=weight[ok][order].astype(np.float32),
            ts=ts[ok][order],
            event_types=ev[ok][order],
            sessions=None if sessions is None else sessions[order],
            dropped=int(n_in - ok.sum()),
        )

    # -- views ---------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return int(len(self.user_ids))

    @property
    def n_items(self) -> int:
        return int(len(self.item_ids))

    @property
    def n_events(self) -> int:
        return int(len(self.users))

    def __len__(self) -> int:
        return self.n_events

    def matrix(self, event_types: Iterable[str] | None = None) -> sp.csr_matrix:
        """User x item matrix of summed weights, float32, explicit zeros removed.

        Parameters
        ----------
        event_types : iterable of str, optional
            Only these event types (default all).
        """
        mask = self._type_mask(event_types)
        m = sp.csr_matrix(
            (self.weights[mask], (self.users[mask], self.items[mask])),
            shape=(self.n_users, self.n_items), dtype=np.float32,
        )
        m.sum_duplicates()
        m.eliminate_zeros()
        m.sort_indices()
        return m

    def seen(self, event_types: Iterable[str] | None = None) -> sp.csr_matrix:
        """Boolean-valued (1.0) user x item matrix: the user had an event of these types."""
        mask = self._type_mask(event_types)
        m = sp.csr_matrix(
            (np.ones(int(mask.sum()), dtype=np.float32), (self.users[mask], self.items[mask])),
            shape=(self.n_users, self.n_items), dtype=np.float32,
        )
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def sequences(self, max_len: int | None = None) -> list[np.ndarray]:
        """Per user, item indices of weighted (weight > 0) events in time order.

        ``max_len`` keeps each user's last ``max_len`` events.
        """
        return [seq[-max_len:] if max_len is not None else seq
                for seq in self._per_user(self.items, np.int32)]

    def sequence_times(self) -> list[np.ndarray]:
        """Per user, the time (seconds since the epoch) of each event of :meth:`sequences`."""
        return self._per_user(self.ts, np.int64)

    def _per_user(self, values: np.ndarray, dtype: type) -> list[np.ndarray]:
        """``values`` of the weighted events, one array per user, in time order."""
        pos = self.weights > 0
        u, v = self.users[pos], values[pos]
        order = np.argsort(u, kind="stable")  # keeps time order within a user
        u, v = u[order], v[order].astype(dtype)
        bounds = np.searchsorted(u, np.arange(self.n_users + 1))
        return [v[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def user_index(self, ids: Iterable[str] | str) -> np.ndarray:
        """Dense index of each user id, -1 where unknown."""
        return _lookup(self.user_ids, np.atleast_1d(np.asarray(ids, dtype=str)))

    def item_index(self, ids: Iterable[str] | str) -> np.ndarray:
        """Dense index of each item id, -1 where unknown."""
        return _lookup(self.item_ids, np.atleast_1d(np.asarray(ids, dtype=str)))

    def item_popularity(self) -> np.ndarray:
        """Number of distinct users with an event on each item, int64 (n_items,)."""
        pairs = np.unique(self.users.astype(np.int64) * max(self.n_items, 1) + self.items)
        return np.bincount(pairs % max(self.n_items, 1), minlength=self.n_items).astype(np.int64)

    def subset(self, mask: np.ndarray) -> Interactions:
        """The events where ``mask`` is True, same index."""
        mask = np.asarray(mask, dtype=bool)
        return Interactions(
            user_ids=self.user_ids, item_ids=self.item_ids, users=self.users[mask],
            items=self.items[mask], weights=self.weights[mask], ts=self.ts[mask],
            event_types=self.event_types[mask],
            sessions=None if self.sessions is None else self.sessions[mask],
            dropped=self.dropped,
        )

    def _type_mask(self, event_types: Iterable[str] | None) -> np.ndarray:
        if event_types is None:
            return np.ones(self.n_events, dtype=bool)
        if isinstance(event_types, str):
            event_types = [event_types]
        names = list(event_types)
        bad = [t for t in names if t not in EVENT_CODES]
        if bad:
            raise DataError(f"unknown event type(s) {bad}; expected some of {EVENT_TYPES}")
        return np.isin(self.event_types, [EVENT_CODES[t] for t in names])


def _to_seconds(col: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col):
        if col.isna().any():
            raise DataError(f"events.ts has {int(col.isna().sum())} missing value(s)")
        return col.to_numpy().astype(np.int64)
    try:
        with warnings.catch_warnings():  # "could not infer format": we report failures below
            warnings.simplefilter("ignore", UserWarning)
            dt = pd.to_datetime(col, utc=True)
    except (ValueError, TypeError) as exc:
        raise DataError(f"events.ts could not be read as timestamps: {exc}") from None
    if dt.isna().any():
        raise DataError(f"events.ts has {int(dt.isna().sum())} missing or unreadable value(s)")
    return (dt.astype("datetime64[ns, UTC]").astype("int64") // 1_000_000_000).to_numpy()


def _index(fixed: Iterable[str] | None, values: np.ndarray) -> np.ndarray:
    if fixed is not None:
        ids = np.asarray(list(fixed) if not isinstance(fixed, np.ndarray) else fixed, dtype=str)
        if len(np.unique(ids)) != len(ids):
            raise DataError("the fixed id index has duplicate ids")
        return ids
    return np.unique(values.astype(str))


def _lookup(index: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in ``index`` (any order), -1 where absent."""
    if len(index) == 0:
        return np.full(len(values), -1, dtype=np.int64)
    order = np.argsort(index, kind="stable")
    sorted_ids = index[order]
    pos = np.searchsorted(sorted_ids, values)
    pos = np.clip(pos, 0, len(index) - 1)
    found = sorted_ids[pos] == values
    return np.where(found, order[pos], -1).astype(np.int64)
