"""Live state of the recommend capability: what happened since the model was trained.

:class:`LiveState` is keyed by external ids (strings), so it survives a model swap: a new
model version re-applies it (re-folds the live users) instead of losing it. ``observe(events)``
is called by ``POST /v1/events`` after the events are stored and before the reply; it updates

- each customer's live sequence (item, weight, event type, in time order, bounded),
- their purchased items and their cart (``cart`` adds; ``purchase`` moves the item from the
  cart to the purchases),
- live popularity counters (summed event weights per item) and co-occurrence counters (pairs
  of items within ``cooc_window`` consecutive events of one customer),
- a version per customer (the cache key of their answers: any new event invalidates them) and
  rate meters for the dashboard.

Ids never seen by the model are kept like any other: a new customer gets a cold-start answer
from their first events, a new item is placed by its attributes (see
:class:`~storemind.recommend.service.RecommendService`).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storemind.recommend._interactions import DEFAULT_WEIGHTS, VALUE_WEIGHTED

__all__ = ["LatencyMeter", "LiveState", "LiveUser", "RateMeter"]


@dataclass
class LiveUser:
    """One customer's live events since the model's training data.

    Attributes
    ----------
    items, weights, types : list
        Item id, event weight and event type of each event with an item, oldest first
        (the last ``max_history``).
    purchased : set of str
        Items bought live.
    cart : OrderedDict of str to None
        Items in the cart, in the order they were added.
    version : int
        Incremented by each event of this customer.
    last_event_id : str or None
        The newest event observed.
    n_events : int
        Every event observed for this customer (search events too).
    """

    items: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    purchased: set[str] = field(default_factory=set)
    cart: OrderedDict[str, None] = field(default_factory=OrderedDict)
    version: int = 0
    last_event_id: str | None = None
    n_events: int = 0

    def copy(self) -> LiveUser:
        return LiveUser(list(self.items), list(self.weights), list(self.types),
                        set(self.purchased), OrderedDict(self.cart), self.version,
                        self.last_event_id, self.n_events)


class RateMeter:
    """Counts per second over a sliding window (thread-safe enough: one writer at a time)."""

    def __init__(self, window_s: int = 60) -> None:
        self.window_s = int(window_s)
        self._buckets: deque[list[float]] = deque()
        self.total = 0

    def add(self, n: int = 1, now: float | None = None) -> None:
        sec = int(now if now is not None else time.time())
        if self._buckets and self._buckets[-1][0] == sec:
            self._buckets[-1][1] += n
        else:
            self._buckets.append([sec, float(n)])
            while self._buckets and self._buckets[0][0] <= sec - self.window_s:
                self._buckets.popleft()
        self.total += n

    def rate(self, seconds: int = 10, now: float | None = None) -> float:
        """Mean count per second over the last ``seconds`` full seconds."""
        sec = int(now if now is not None else time.time())
        lo = sec - int(seconds)
        n = sum(c for s, c in list(self._buckets) if lo <= s < sec)
        return n / max(int(seconds), 1)


class LiveState:
    """Live per-customer sequences, carts, purchases, popularity and co-occurrence counters.

    Parameters
    ----------
    weights : mapping of str to float, optional
        Weight of each event type (merged over
        :data:`~storemind.recommend.DEFAULT_WEIGHTS`).
    max_history : int
        Live events kept per customer (the oldest are dropped).
    cooc_window : int
        Each item event is counted as co-occurring with the customer's previous
        ``cooc_window`` items.
    max_users : int
        Customers kept; beyond it the least recently active are forgotten (their events
        stay in the store and reach the model at the next training).
    """

    def __init__(self, weights: Mapping[str, float] | None = None, *, max_history: int = 200,
                 cooc_window: int = 5, max_users: int = 1_000_000) -> None:
        self.weights = dict(DEFAULT_WEIGHTS)
        if weights:
            self.weights.update({str(k): float(v) for k, v in weights.items()})
        self.max_history = int(max_history)
        self.cooc_window = int(cooc_window)
        self.max_users = int(max_users)
        self.lock = threading.RLock()
        self.users: OrderedDict[str, LiveUser] = OrderedDict()
        self.item_counts: dict[str, float] = {}
        self.cooc: dict[str, dict[str, float]] = {}
        self.n_events = 0
        self.version = 0
        self.events_meter = RateMeter()

    # -- writes -----------------------------------------------------------------------------
    def event_weight(self, event: Mapping[str, Any]) -> float:
        """The weight of one event (its type's weight; times ``value`` for ratings)."""
        etype = str(event.get("event_type"))
        w = float(self.weights.get(etype, 0.0))
        value = event.get("value")
        if etype in VALUE_WEIGHTED and value is not None:
            try:
                w *= float(value)
            except (TypeError, ValueError):
                pass
        return w

    def observe(self, events: Iterable[Mapping[str, Any]]) -> dict[str, LiveUser]:
        """Apply events (dicts with ``user_id``, ``event_type``, optional ``item_id``,
        ``value``, ``event_id``), oldest first; returns a copy of each changed customer."""
        changed: dict[str, LiveUser] = {}
        n = 0
        with self.lock:
            for ev in events:
                user_id = ev.get("user_id")
                if user_id is None:
                    continue
                user_id = str(user_id)
                n += 1
                user = self.users.get(user_id)
                if user is None:
                    user = self.users[user_id] = LiveUser()
                    if len(self.users) > self.max_users:
                        self.users.popitem(last=False)
                else:
                    self.users.move_to_end(user_id)
                self._apply(user, ev)
                changed[user_id] = user
            self.n_events += n
            self.version += 1
            out = {uid: u.copy() for uid, u in changed.items()}
        self.events_meter.add(n)
        return out

    def _apply(self, user: LiveUser, ev: Mapping[str, Any]) -> None:
        user.version += 1
        user.n_events += 1
        if ev.get("event_id") is not None:
            user.last_event_id = str(ev["event_id"])
        item = ev.get("item_id")
        if item is None:
            return
        item = str(item)
        etype = str(ev.get("event_type"))
        w = self.event_weight(ev)
        if etype == "cart":
            user.cart[item] = None
            user.cart.move_to_end(item)
        elif etype == "purchase":
            user.cart.pop(item, None)
            user.purchased.add(item)
        if w > 0:
            self.item_counts[item] = self.item_counts.get(item, 0.0) + w
            for prev in user.items[-self.cooc_window:]:
                if prev != item:
                    row = self.cooc.setdefault(prev, {})
                    row[item] = row.get(item, 0.0) + 1.0
                    row = self.cooc.setdefault(item, {})
                    row[prev] = row.get(prev, 0.0) + 1.0
        user.items.append(item)
        user.weights.append(w)
        user.types.append(etype)
        if len(user.items) > self.max_history:
            del user.items[0], user.weights[0], user.types[0]

    # -- reads ------------------------------------------------------------------------------
    def user(self, user_id: str) -> LiveUser | None:
        """A copy of the customer's live state, or None when they have no live event."""
        with self.lock:
            u = self.users.get(str(user_id))
            return None if u is None else u.copy()

    def user_version(self, user_id: str) -> int:
        """The customer's version (0 without live events); cheap, for cache keys."""
        u = self.users.get(str(user_id))
        return 0 if u is None else u.version

    def cooccurring(self, item_id: str, n: int = 50) -> list[tuple[str, float]]:
        """The items most often next to ``item_id`` in live sequences, with their counts."""
        with self.lock:
            row = dict(self.cooc.get(str(item_id), {}))
        return sorted(row.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def live_users(self) -> list[str]:
        """Ids of every customer with live events (the ones to re-fold after a model swap)."""
        with self.lock:
            return list(self.users)

    def stats(self) -> dict[str, Any]:
        """Counts for the dashboard."""
        return {"events": self.n_events, "users": len(self.users),
                "items": len(self.item_counts), "events_per_s": self.events_meter.rate()}


class LatencyMeter:
    """Request rate and latency percentiles of one route over a recent window."""

    def __init__(self, keep: int = 5000) -> None:
        self._lat: deque[float] = deque(maxlen=keep)
        self.rate = RateMeter()

    def add(self, seconds: float) -> None:
        self._lat.append(seconds)
        self.rate.add(1)

    def summary(self) -> dict[str, float]:
        lat = np.asarray(list(self._lat), dtype=np.float64) * 1e3
        pct = np.percentile(lat, [50, 95, 99]) if len(lat) else np.zeros(3)
        return {"requests": int(self.rate.total), "per_s": self.rate.rate(),
                "p50_ms": float(pct[0]), "p95_ms": float(pct[1]), "p99_ms": float(pct[2])}
