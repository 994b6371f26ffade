"""A synthetic store with planted ground truth, streamed into a Store in bounded batches.

``simulate(store)`` fills every canonical table a capability reads: a catalogue with readable
titles, customers of a few latent types with tastes and life cycles (some churn), browsing
sessions that follow a view -> cart -> purchase funnel, orders with their lines and payments
(with planted fraud patterns), stock snapshots under a reorder policy, a randomised campaign
with a known heterogeneous effect, and an FAQ. What was planted comes back as a
:class:`GroundTruth`. Customers are generated a chunk at a time and every table is ingested in
batches, so only per-entity state (items, users, daily demand per item) is held in memory.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from storemind.datasets._sim_extra import (
    campaign_frame,
    exposures,
    questions_frame,
    stock_batches,
)
from storemind.datasets._sim_orders import build_orders, plant_fraud
from storemind.datasets._sim_sessions import DAY_S, Counters, generate_sessions
from storemind.datasets._sim_world import ARMS, CUSTOMER_TYPES, build_world, make_users
from storemind.errors import DataError

if TYPE_CHECKING:
    from storemind.store import Store

__all__ = ["simulate", "GroundTruth", "CUSTOMER_TYPES", "ARMS"]

CHUNK_USERS = 1000  # fixed, so the tables for a seed do not depend on batch_events
TABLE_ORDER = ("items", "users", "questions", "campaigns", "events", "orders", "order_items",
               "payments", "exposures", "stock")


@dataclass
class GroundTruth:
    """What :func:`simulate` planted. Holds per-entity truth only, never the events.

    Attributes
    ----------
    params : dict
        The arguments of the run.
    users : DataFrame
        One row per customer: ``user_id``, ``type`` (``"fraudster"`` for fraud accounts),
        ``signup_ts``, ``churn_ts`` (NaT when the customer does not churn; no event of theirs
        is at or after it), ``activity_rate`` (sessions per day), ``buy_prob`` (purchase
        probability per session) and ``taste_<category>`` (category preference, sums to 1).
    items : DataFrame
        One row per item: category, ``created_day`` (> 0 means a cold-start item launched
        during the run), popularity level and trend, style factors and the stock policy
        (``lead_time_days``, ``unit_cost``, ``mean_daily_demand``, ``reorder_point``,
        ``order_quantity``).
    types : DataFrame
        The customer types: share, price sensitivity, activity, purchase and repeat
        probabilities, and the campaign's effect on the purchase rate per arm.
    fraud : DataFrame
        ``payment_id``, ``pattern`` (card_testing, account_takeover, new_account_high_value)
        and ``user_id`` of every fraudulent payment; ``payments.is_fraud`` is 1 exactly there.
    uplift : DataFrame
        One row per exposed customer: ``type``, ``arm``, ``baseline_conversion`` (probability
        of buying in the campaign window under control), ``uplift_discount``,
        ``uplift_free_shipping`` (true effect of each arm on that probability) and ``uplift``
        (the effect of the arm the customer got; 0 for control).
    campaign : dict
        Campaign id, window (``start``, ``end``), arms and planted effects per type.
    counts, batches : dict
        Rows emitted and ingestion calls per table.
    checksums : dict
        A SHA-256 over the row hashes of each table, in emission order.
    quarantined : dict
        Rows the store quarantined per table (0 everywhere for a correct simulator).
    seconds : float
        Wall time of the run.
    """

    params: dict[str, Any]
    users: pd.DataFrame
    items: pd.DataFrame
    types: pd.DataFrame
    fraud: pd.DataFrame
    uplift: pd.DataFrame
    campaign: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def fraud_patterns(self) -> dict[str, str]:
        """``payment_id -> pattern`` for every fraudulent payment."""
        return dict(zip(self.fraud["payment_id"], self.fraud["pattern"], strict=True))

    def summary(self) -> str:
        """A few readable lines: sizes, planted structure and throughput."""
        c = self.counts
        n_events = c.get("events", 0)
        regular = self.users[self.users["type"] != "fraudster"]
        churned = int(regular["churn_ts"].notna().sum())
        lines = [
            f"simulated store (seed {self.params['seed']}, {self.params['n_days']} days from "
            f"{self.params['start']}): {n_events:,} events in {self.seconds:.1f} s "
            f"({n_events / max(self.seconds, 1e-9):,.0f} events/s)",
            "rows: " + ", ".join(f"{t} {c[t]:,}" for t in TABLE_ORDER if t in c),
            f"customers: {len(regular):,} of types "
            + ", ".join(f"{k} {v:,}" for k, v in regular["type"].value_counts().items())
            + f"; {churned:,} churn",
            f"items: {len(self.items):,}, of which {int(self.items['cold_start'].sum()):,} "
            "launch during the run",
            "fraud payments: " + (", ".join(f"{k} {v:,}" for k, v in
                                            self.fraud["pattern"].value_counts().items())
                                  or "none"),
        ]
        if len(self.uplift):
            by = self.uplift[self.uplift["arm"] != "control"].groupby(["type", "arm"])["uplift"]
            lines.append("mean true uplift on conversion: " + ", ".join(
                f"{t}/{a} {v:+.3f}" for (t, a), v in by.mean().items()))
        bad = sum(self.quarantined.values())
        if bad:
            lines.append(f"quarantined rows: {self.quarantined}")
        return "\n".join(lines)


class _Sink:
    """Buffers frames per table and ingests them in batches of about ``batch_rows`` rows."""

    def __init__(self, store: Store | None, batch_rows: int):
        self.store = store
        self.batch_rows = batch_rows
        self.buffers: dict[str, list[pd.DataFrame]] = {}
        self.buffered: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.batches: dict[str, int] = {}
        self.quarantined: dict[str, int] = {}
        self.hashes: dict[str, Any] = {}

    def emit(self, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        self.buffers.setdefault(table, []).append(frame)
        self.buffered[table] = self.buffered.get(table, 0) + len(frame)
        if self.buffered[table] >= self.batch_rows:
            self.flush(table, full_only=True)

    def flush(self, table: str | None = None, *, full_only: bool = False) -> None:
        """Write the buffered rows; with ``full_only`` keep a remainder short of a batch."""
        for name in [table] if table else list(self.buffers):
            parts = self.buffers.pop(name, [])
            self.buffered[name] = 0
            if not parts:
                continue
            frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            n = len(frame)
            end = n - n % self.batch_rows if full_only else n
            for lo in range(0, end, self.batch_rows):
                self._write(name, frame.iloc[lo:lo + self.batch_rows])
            if end < n:
                self.buffers[name] = [frame.iloc[end:]]
                self.buffered[name] = n - end

    def _write(self, table: str, frame: pd.DataFrame) -> None:
        h = self.hashes.setdefault(table, hashlib.sha256())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        self.counts[table] = self.counts.get(table, 0) + len(frame)
        self.batches[table] = self.batches.get(table, 0) + 1
        self.quarantined.setdefault(table, 0)
        if self.store is not None:
            report = self.store.ingest(table, frame, source_name="simulate")
            self.quarantined[table] += report.quarantined


def _check(n_users: int, n_items: int, n_days: int, batch_events: int, fraud_rate: float,
           churn_rate: float) -> None:
    for name, value, low in (("n_users", n_users, 1), ("n_items", n_items, 20),
                             ("n_days", n_days, 14), ("batch_events", batch_events, 100)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise DataError(f"simulate: {name} must be an integer >= {low}; got {value!r}")
    for name, value in (("fraud_rate", fraud_rate), ("churn_rate", churn_rate)):
        if not 0 <= value < 1:
            raise DataError(f"simulate: {name} must be in [0, 1); got {value!r}")


def _progress(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
    bar.start()
    bar.add_task("simulating customers", total=total)
    return bar


def simulate(
    store: Store | None = None,
    *,
    n_users: int = 2000,
    n_items: int = 500,
    n_days: int = 120,
    start: str = "2024-01-01",
    seed: int = 0,
    batch_events: int = 200_000,
    fraud_rate: float = 0.01,
    churn_rate: float = 0.3,
    campaign: bool = True,
    progress: bool = True,
) -> GroundTruth:
    """Simulate a store with planted ground truth and stream it into ``store``.

    Parameters
    ----------
    store : Store, optional
        Where every table goes, through ``store.ingest(table, frame, source_name="simulate")``.
        ``None`` generates everything (counts, checksums, truth) and stores nothing.
    n_users, n_items, n_days : int
        Customers, catalogue size and length of the run in days. About 10 events per
        customer-month: ``n_users=200_000, n_days=365`` gives about 20 million events.
    start : str
        Day 0 (naive UTC). Some customers and items date from before it.
    seed : int
        Same seed, same tables and truth (whatever ``batch_events``).
    batch_events : int
        Rows per ingestion call; bounds the memory the events take at any time.
    fraud_rate : float
        Approximate share of payments that are fraudulent.
    churn_rate : float
        Share of customers with a churn day after which they never come back.
    campaign : bool
        Plant a randomised campaign (arms control / discount / free_shipping) in the middle
        of the run with a known effect per customer type.
    progress : bool
        Show a progress bar.

    Returns
    -------
    GroundTruth
        The planted truth and what was emitted; see its ``summary()``.
    """
    _check(n_users, n_items, n_days, batch_events, fraud_rate, churn_rate)
    t_start = time.perf_counter()
    start_ts = pd.Timestamp(start).normalize()
    world = build_world(np.random.default_rng([seed, 0]), n_items, n_days, start_ts)
    days = None
    if campaign:
        d0 = n_days // 2
        days = (d0, min(n_days, d0 + max(7, min(28, n_days // 4))))
    sink = _Sink(store, batch_events)
    sink.emit("items", world.items_frame)
    sink.emit("questions", questions_frame())
    if days is not None:
        sink.emit("campaigns", campaign_frame(world, days))
    sink.flush()

    counters = Counters()
    demand = np.zeros((n_days, n_items), dtype=np.float32)
    truths: dict[str, list[pd.DataFrame]] = {"users": [], "fraud": [], "uplift": []}
    n_chunks = -(-n_users // CHUNK_USERS)
    bar = _progress(progress, n_chunks)
    try:
        for chunk in range(n_chunks):
            rng = np.random.default_rng([seed, 1, chunk])
            first = chunk * CHUNK_USERS
            u = make_users(rng, world, first, min(CHUNK_USERS, n_users - first), churn_rate,
                           days)
            events, purchases, facts = generate_sessions(rng, world, u, days, counters)
            legit = build_orders(rng, world, u, purchases, counters)
            fraud = plant_fraud(rng, world, u, len(legit["orders"]), fraud_rate, counters)
            sink.emit("users", pd.concat([u.frame, fraud["users"]], ignore_index=True))
            sink.emit("events", events)
            sink.emit("events", fraud["events"])
            for t in ("orders", "order_items", "payments"):
                sink.emit(t, pd.concat([legit[t], fraud[t]], ignore_index=True))
            _add_demand(demand, world, purchases.ts, purchases.item, purchases.qty)
            f_lines = fraud["order_items"]
            if len(f_lines):
                o_day = (fraud["orders"]["ts"] - pd.Timestamp(world.start)).dt.days
                day = f_lines["order_id"].map(
                    pd.Series(o_day.to_numpy(), index=fraud["orders"]["order_id"])).to_numpy()
                idx = pd.Index(world.item_ids).get_indexer(f_lines["item_id"])
                np.add.at(demand, (day, idx), f_lines["quantity"].to_numpy())
            if days is not None:
                exp_frame, uplift = exposures(world, u, days, facts, purchases, counters)
                sink.emit("exposures", exp_frame)
                truths["uplift"].append(uplift)
            truths["users"].append(_user_truth(world, u, fraud["users"]))
            truths["fraud"].append(fraud["fraud_truth"])
            if bar is not None:
                bar.advance(bar.task_ids[0])
        sink.flush()
        items_truth = world.items_truth.copy()
        for frame in stock_batches(world, demand, items_truth, batch_events):
            sink.emit("stock", frame)
        sink.flush()
    finally:
        if bar is not None:
            bar.stop()

    effects = {t["name"]: dict(t["effect"]) for t in CUSTOMER_TYPES}
    return GroundTruth(
        params=dict(n_users=n_users, n_items=n_items, n_days=n_days, start=str(start_ts.date()),
                    seed=seed, batch_events=batch_events, fraud_rate=fraud_rate,
                    churn_rate=churn_rate, campaign=campaign),
        users=pd.concat(truths["users"], ignore_index=True),
        items=items_truth,
        types=_types_frame(world),
        fraud=pd.concat(truths["fraud"], ignore_index=True),
        uplift=(pd.concat(truths["uplift"], ignore_index=True) if truths["uplift"]
                else pd.DataFrame(columns=["user_id", "type", "arm", "baseline_conversion",
                                           "uplift_discount", "uplift_free_shipping", "uplift"])),
        campaign=({} if days is None else dict(
            campaign_id="CMP0001", arms=list(ARMS), effects_on_purchase_rate=effects,
            start=pd.Timestamp(world.start + np.timedelta64(days[0], "D")),
            end=pd.Timestamp(world.start + np.timedelta64(days[1], "D")))),
        counts=dict(sink.counts), batches=dict(sink.batches),
        checksums={t: h.hexdigest() for t, h in sink.hashes.items()},
        quarantined=dict(sink.quarantined), seconds=time.perf_counter() - t_start,
    )


def _add_demand(demand: np.ndarray, world: Any, ts: np.ndarray, item: np.ndarray,
                qty: np.ndarray) -> None:
    day = np.minimum((ts // DAY_S).astype(int), world.n_days - 1)
    np.add.at(demand, (day, item), qty)


def _user_truth(world: Any, u: Any, fraud_users: pd.DataFrame) -> pd.DataFrame:
    names = np.array([t["name"] for t in CUSTOMER_TYPES], dtype=object)
    churn = pd.Series(pd.NaT, index=range(len(u.ids)), dtype="datetime64[ms]")
    has = u.churn_day >= 0
    churn[has] = world.start + u.churn_day[has].astype("timedelta64[D]")
    frame = pd.DataFrame({
        "user_id": u.ids, "type": names[u.type_idx], "signup_ts": u.frame["signup_ts"],
        "churn_ts": churn, "activity_rate": u.rate, "buy_prob": u.buy,
        **{f"taste_{c}": u.taste[:, k] for k, c in enumerate(world.categories)},
    })
    fraudsters = pd.DataFrame({"user_id": fraud_users["user_id"], "type": "fraudster",
                               "signup_ts": fraud_users["signup_ts"]})
    return pd.concat([frame, fraudsters], ignore_index=True) if len(fraudsters) else frame


def _types_frame(world: Any) -> pd.DataFrame:
    rows = []
    for k, t in enumerate(CUSTOMER_TYPES):
        top = np.argsort(-world.type_prefs[k])[:3]
        rows.append(dict(
            type=t["name"], share=t["share"], price_sensitivity=t["price_sensitivity"],
            activity=t["activity"], buy_prob=t["buy_prob"], repeat_prob=t["repeat_prob"],
            effect_discount=t["effect"].get("discount", 0.0),
            effect_free_shipping=t["effect"].get("free_shipping", 0.0),
            top_categories=", ".join(world.categories[i] for i in top)))
    return pd.DataFrame(rows)
