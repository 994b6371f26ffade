"""Payment features, computed by one code path offline and online.

A :class:`FeatureState` holds everything the features of the next payment depend on: per
customer history, sliding windows per customer, card, device and IP, who shares a device,
and global amount statistics. ``state.features(payment)`` reads the state *before* the payment;
``state.update(payment)`` adds it. Offline, :func:`replay` runs a store's payments through a
fresh state in time order; online, :class:`storemind.risk.LiveRisk` keeps one state live and
steps each scored payment through it. Both call the same two methods, so the features of a
payment are identical either way (``tests/test_risk_features.py`` checks it).

A payment is a dict with the ``payments`` columns (``payment_id``, ``user_id``, ``ts``,
``amount``, ``method``, ``card_id``, ``device_id``, ``ip``, ``country``, ``attributes``) plus
what the store knows around it: ``shipping_address`` (from the order), the basket
(``basket_lines``, ``basket_units``, ``basket_max_price``) and the customer
(``signup_ts``, ``user_country``, ``user_source``).
"""
from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError

__all__ = [
    "FeatureState", "replay", "payment_records", "numeric_attribute_fields",
    "BASE_FEATURES", "CATEGORICAL_FEATURES", "WINDOWS", "ENTITIES", "feature_names",
]

#: sliding windows (name, seconds)
WINDOWS: tuple[tuple[str, float], ...] = (("1h", 3600.0), ("24h", 86400.0))
#: the entities that get velocity counters (feature prefix, payment field)
ENTITIES: tuple[tuple[str, str], ...] = (
    ("user", "user_id"), ("card", "card_id"), ("device", "device_id"), ("ip", "ip"))
_HORIZON = max(s for _, s in WINDOWS)

BASE_FEATURES: tuple[str, ...] = (
    "amount", "log_amount", "amount_to_global_mean",
    "user_prev_payments", "amount_to_user_mean", "amount_to_user_max", "hours_since_last",
    "is_first_payment", "hours_since_signup", "first_payment_amount",
    "new_device", "new_card", "new_ip", "new_country", "new_address", "country_mismatch",
    "device_users", "ip_users", "card_users", "device_cards_24h",
    *[f"{e}_{kind}_{w}" for e, _ in ENTITIES for w, _ in WINDOWS for kind in ("count", "sum")],
    "basket_lines", "basket_units", "basket_max_price", "hour",
)
CATEGORICAL_FEATURES: tuple[str, ...] = ("method", "user_source", "attr_browser", "attr_source")
_CAT_ATTRS = ("browser", "source")
NAN = float("nan")


def feature_names(attribute_fields: Iterable[str] = ()) -> list[str]:
    """All feature names in model order: numeric, numeric attributes, then categoricals."""
    return [*BASE_FEATURES, *[f"attr_{k}" for k in attribute_fields], *CATEGORICAL_FEATURES]


def _seconds(ts: Any) -> float:
    if ts is None or (isinstance(ts, float) and math.isnan(ts)):
        return NAN
    if isinstance(ts, int | float):
        return float(ts)
    t = pd.Timestamp(ts)
    if t is pd.NaT:
        return NAN
    if t.tzinfo is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.value / 1e9


def _key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value)
    return text or None


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return NAN
    return out


def _attributes(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


class _User:
    __slots__ = ("n", "total", "max", "last", "first_amount", "devices", "cards", "ips",
                 "countries", "addresses")

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.max = 0.0
        self.last = NAN
        self.first_amount = NAN
        self.devices: set[str] = set()
        self.cards: set[str] = set()
        self.ips: set[str] = set()
        self.countries: set[str] = set()
        self.addresses: set[str] = set()


class FeatureState:
    """The live state the features of the next payment are computed from.

    Parameters
    ----------
    attribute_fields : iterable of str
        Numeric fields of ``payments.attributes`` passed through as ``attr_<name>`` features
        (e.g. the V1..V28 components of the ULB card data).
    """

    def __init__(self, attribute_fields: Iterable[str] = ()) -> None:
        self.attribute_fields = tuple(attribute_fields)
        self.names = feature_names(self.attribute_fields)
        self.users: dict[str, _User] = {}
        self.windows: dict[tuple[str, str], deque[tuple[float, float]]] = {}
        self.sharing: dict[tuple[str, str], set[str]] = {}
        self.device_cards: dict[str, deque[tuple[float, str]]] = {}
        self.seen: set[str] = set()
        self.n_all = 0
        self.sum_all = 0.0
        self.latest = -math.inf

    def __len__(self) -> int:
        return len(self.seen)

    # -- reading -------------------------------------------------------------------------
    def _window(self, kind: str, key: str | None, t: float) -> list[float]:
        if key is None:
            return [NAN, NAN] * len(WINDOWS)
        dq = self.windows.get((kind, key))
        out = []
        for _, span in WINDOWS:
            n, s = 0, 0.0
            if dq:
                for ts, amount in dq:
                    if t - span < ts <= t:
                        n += 1
                        s += amount
            out += [float(n), s]
        return out

    def features(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """The features of payment ``p`` given everything seen before it (``p`` itself is not
        added; call :meth:`update` for that)."""
        t = _seconds(p.get("ts"))
        if math.isnan(t):
            raise DataError(f"payment {p.get('payment_id')!r} has no valid ts; got {p.get('ts')!r}")
        amount = _num(p.get("amount"))
        uid, card, device, ip = (_key(p.get(f)) for f in ("user_id", "card_id", "device_id", "ip"))
        country, address = _key(p.get("country")), _key(p.get("shipping_address"))
        u = self.users.get(uid) if uid is not None else None
        known = u is not None and u.n > 0

        def new(value: str | None, seen: set[str] | None) -> float:
            if not known or value is None:
                return 0.0
            return 0.0 if value in seen else 1.0

        def sharing(kind: str, key: str | None) -> float:
            if key is None:
                return NAN
            users = self.sharing.get((kind, key), set())
            return float(len(users | {uid}) if uid is not None else len(users) + 1)

        signup = _seconds(p.get("signup_ts"))
        user_country = _key(p.get("user_country"))
        cards_24h = NAN
        if device is not None:
            dq = self.device_cards.get(device, ())
            cards = {c for ts, c in dq if t - _HORIZON < ts <= t}
            if card is not None:
                cards.add(card)
            cards_24h = float(len(cards))
        mean_all = self.sum_all / self.n_all if self.n_all else NAN
        f: dict[str, Any] = {
            "amount": amount,
            "log_amount": math.log1p(max(amount, 0.0)) if not math.isnan(amount) else NAN,
            "amount_to_global_mean": amount / mean_all if mean_all and mean_all > 0 else NAN,
            "user_prev_payments": float(u.n) if u is not None else 0.0,
            "amount_to_user_mean": amount / (u.total / u.n) if known and u.total > 0 else NAN,
            "amount_to_user_max": amount / u.max if known and u.max > 0 else NAN,
            "hours_since_last": (t - u.last) / 3600 if known else NAN,
            "is_first_payment": 0.0 if known else 1.0,
            "hours_since_signup": (t - signup) / 3600 if not math.isnan(signup) else NAN,
            "first_payment_amount": u.first_amount if known else amount,
            "new_device": new(device, u.devices if u else None),
            "new_card": new(card, u.cards if u else None),
            "new_ip": new(ip, u.ips if u else None),
            "new_country": new(country, u.countries if u else None),
            "new_address": new(address, u.addresses if u else None),
            "country_mismatch": (float(country != user_country)
                                 if country is not None and user_country is not None else NAN),
            "device_users": sharing("device", device),
            "ip_users": sharing("ip", ip),
            "card_users": sharing("card", card),
            "device_cards_24h": cards_24h,
        }
        for (prefix, _), key in zip(ENTITIES, (uid, card, device, ip), strict=True):
            values = self._window(prefix, key, t)
            for i, (w, _) in enumerate(WINDOWS):
                f[f"{prefix}_count_{w}"] = values[2 * i]
                f[f"{prefix}_sum_{w}"] = values[2 * i + 1]
        f["basket_lines"] = _num(p.get("basket_lines"))
        f["basket_units"] = _num(p.get("basket_units"))
        f["basket_max_price"] = _num(p.get("basket_max_price"))
        f["hour"] = float(int(t // 3600) % 24)
        attrs = _attributes(p.get("attributes"))
        for k in self.attribute_fields:
            f[f"attr_{k}"] = _num(attrs.get(k))
        f["method"] = _key(p.get("method"))
        f["user_source"] = _key(p.get("user_source"))
        for k in _CAT_ATTRS:
            v = attrs.get(k)
            f[f"attr_{k}"] = str(v) if isinstance(v, str) and v else None
        return f

    # -- writing -------------------------------------------------------------------------
    def update(self, p: Mapping[str, Any]) -> bool:
        """Add payment ``p`` to the state; False (and nothing changes) when its
        ``payment_id`` was already added."""
        pid = str(p.get("payment_id"))
        if pid in self.seen:
            return False
        self.seen.add(pid)
        t = _seconds(p.get("ts"))
        amount = _num(p.get("amount"))
        amount = 0.0 if math.isnan(amount) else amount
        uid, card, device, ip = (_key(p.get(f)) for f in ("user_id", "card_id", "device_id", "ip"))
        self.latest = max(self.latest, t)
        cutoff = self.latest - _HORIZON
        for (prefix, _), key in zip(ENTITIES, (uid, card, device, ip), strict=True):
            if key is None:
                continue
            dq = self.windows.setdefault((prefix, key), deque())
            dq.append((t, amount))
            while dq and dq[0][0] <= cutoff:
                dq.popleft()
        for kind, key in (("device", device), ("ip", ip), ("card", card)):
            if key is not None and uid is not None:
                self.sharing.setdefault((kind, key), set()).add(uid)
        if device is not None and card is not None:
            dq2 = self.device_cards.setdefault(device, deque())
            dq2.append((t, card))
            while dq2 and dq2[0][0] <= cutoff:
                dq2.popleft()
        self.n_all += 1
        self.sum_all += amount
        if uid is not None:
            u = self.users.setdefault(uid, _User())
            if u.n == 0:
                u.first_amount = amount
            u.n += 1
            u.total += amount
            u.max = max(u.max, amount)
            u.last = t if math.isnan(u.last) else max(u.last, t)
            for value, bag in ((device, u.devices), (card, u.cards), (ip, u.ips),
                               (_key(p.get("country")), u.countries),
                               (_key(p.get("shipping_address")), u.addresses)):
                if value is not None:
                    bag.add(value)
        return True

    def step(self, p: Mapping[str, Any]) -> dict[str, Any]:
        """Features of ``p``, then add it: what both offline replay and online scoring do."""
        f = self.features(p)
        self.update(p)
        return f


def replay(records: pd.DataFrame, state: FeatureState | None = None, *,
           attribute_fields: Iterable[str] = (), progress: bool = False) -> pd.DataFrame:
    """Features of every payment of ``records`` (see :func:`payment_records`), computed in
    time order through ``state`` (a fresh :class:`FeatureState` by default), which is left
    holding the whole history. Returns a frame indexed by ``payment_id``, in time order."""
    if "payment_id" not in records.columns or "ts" not in records.columns:
        raise DataError(f"payment records need payment_id and ts; got {list(records.columns)}")
    if state is None:
        state = FeatureState(attribute_fields)
    ordered = records.sort_values(["ts", "payment_id"], kind="stable")
    rows = ordered.to_dict("records")
    it: Iterable[dict[str, Any]] = rows
    if progress:
        from tqdm import tqdm

        it = tqdm(rows, desc="risk features", unit="payment", leave=False)
    feats = [state.step(r) for r in it]
    out = pd.DataFrame(feats, columns=state.names)
    out.index = pd.Index(ordered["payment_id"].astype(str).to_numpy(), name="payment_id")
    return out


def numeric_attribute_fields(attributes: pd.Series, min_share: float = 0.5,
                             limit: int = 64) -> list[str]:
    """Fields of a JSON ``attributes`` column that are numbers in at least ``min_share`` of
    the rows that have attributes (at most ``limit``, in first-seen order)."""
    counts: dict[str, int] = {}
    rows = 0
    for value in attributes.dropna().head(5000):
        attrs = _attributes(value)
        if not attrs:
            continue
        rows += 1
        for k, v in attrs.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                counts[k] = counts.get(k, 0) + 1
    return [k for k, c in counts.items() if rows and c >= min_share * rows][:limit]


def payment_records(store: Any) -> pd.DataFrame:
    """Every payment of ``store`` with its order's shipping address, basket summary and the
    customer's sign-up time, country and source: the input of :func:`replay`."""
    try:
        pay = store.frame("payments")
    except Exception as exc:  # noqa: BLE001 - a store without the table says so
        raise DataError(f"risk needs the payments table: {exc}") from None
    if pay.empty:
        raise DataError("risk needs payments; the store's payments table is empty "
                        "(ingest payments, or simulate a store with storemind demo)")
    orders = store.execute(store.table("orders").select("order_id", "shipping_address"))
    lines = store.table("order_items")
    basket = store.execute(lines.group_by("order_id").aggregate(
        basket_lines=lines.count(), basket_units=lines.quantity.sum(),
        basket_max_price=lines.unit_price.max()))
    users = store.execute(store.table("users").select(
        "user_id", "signup_ts", user_country="country", user_source="source"))
    out = pay.merge(orders.drop_duplicates("order_id"), on="order_id", how="left")
    out = out.merge(basket, on="order_id", how="left")
    out = out.merge(users.drop_duplicates("user_id"), on="user_id", how="left")
    for c in ("basket_lines", "basket_units", "basket_max_price"):
        out[c] = out[c].astype(float)
    out = out.replace({np.nan: None}).astype(object)
    for c in ("amount", "basket_lines", "basket_units", "basket_max_price", "is_fraud"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    out["ts"] = pd.to_datetime(out["ts"])
    return out.sort_values(["ts", "payment_id"], kind="stable").reset_index(drop=True)
