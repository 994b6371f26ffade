"""The static world of the simulated store: customer types, catalogue, customers, item choice.

Everything here is per-entity state (one row per item, customer type or user), so it stays small
while events are generated and streamed chunk by chunk elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from storemind.datasets import _sim_text as txt

__all__ = ["CUSTOMER_TYPES", "ARMS", "World", "build_world", "UserChunk", "make_users"]

ARMS = ("control", "discount", "free_shipping")
N_STYLE = 3
N_STAPLES = 2

# name, share, category preferences, price sensitivity (elasticity), sessions/day, purchase
# probability per session, repeat-purchase probability, campaign effect on the purchase rate
CUSTOMER_TYPES: list[dict] = [
    dict(name="bargain_hunter", share=0.28, price_sensitivity=1.6, activity=0.10, buy_prob=0.15,
         repeat_prob=0.35, prefs={"Grocery": 3, "Home": 2, "Toys": 2, "Apparel": 2, "Kitchen": 1.5},
         effect={"discount": 1.5, "free_shipping": 0.3}),
    dict(name="tech_enthusiast", share=0.18, price_sensitivity=0.2, activity=0.12, buy_prob=0.10,
         repeat_prob=0.05, prefs={"Electronics": 6, "Books": 1.5, "Sports": 1.5},
         effect={"discount": 0.3, "free_shipping": 0.5}),
    dict(name="fashionista", share=0.20, price_sensitivity=0.6, activity=0.11, buy_prob=0.18,
         repeat_prob=0.10, prefs={"Apparel": 4, "Shoes": 4, "Beauty": 3},
         effect={"discount": 0.6, "free_shipping": 0.2}),
    dict(name="home_maker", share=0.22, price_sensitivity=0.9, activity=0.09, buy_prob=0.22,
         repeat_prob=0.45, prefs={"Home": 3, "Kitchen": 3, "Grocery": 3, "Toys": 1.5, "Books": 1},
         effect={"discount": 0.0, "free_shipping": 0.0}),
    dict(name="premium", share=0.12, price_sensitivity=-0.4, activity=0.07, buy_prob=0.20,
         repeat_prob=0.20, prefs={"Electronics": 2, "Shoes": 2, "Home": 2, "Beauty": 1.5,
                                  "Sports": 1.5},
         effect={"discount": 0.0, "free_shipping": 1.0}),
]


@dataclass
class World:
    """Catalogue arrays (items sorted by category), type arrays and the item-choice tables."""

    start: np.datetime64  # midnight of day 0, in ms
    n_days: int
    categories: list[str]
    item_ids: np.ndarray  # object
    item_cat: np.ndarray
    item_price: np.ndarray
    item_noun: np.ndarray  # object, lower-case search words
    item_created_day: np.ndarray  # int, may be negative
    item_style: np.ndarray  # (n_items, N_STYLE)
    item_pop: np.ndarray  # base log-popularity
    item_trend: np.ndarray
    items_frame: pd.DataFrame  # the `items` table
    items_truth: pd.DataFrame
    type_style: np.ndarray  # (n_types, N_STYLE)
    type_prefs: np.ndarray  # (n_types, n_cat), normalised
    type_beta: np.ndarray
    type_activity: np.ndarray
    type_buy: np.ndarray
    type_repeat: np.ndarray
    type_effect: np.ndarray  # (n_types, len(ARMS)) multiplier on the purchase rate
    season_cum: np.ndarray  # (n_days + 1,) cumulative daily activity weights
    period_len: int
    n_periods: int
    choice_cdf: np.ndarray  # flat, see `draw_items`
    cat_first: np.ndarray  # index of each category's first item
    cat_count: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_cat(self) -> int:
        return len(self.categories)

    def period(self, day: np.ndarray) -> np.ndarray:
        return np.minimum(np.asarray(day) // self.period_len, self.n_periods - 1)

    def draw_items(self, rng: np.random.Generator, type_idx: np.ndarray, day: np.ndarray,
                   cat: np.ndarray) -> np.ndarray:
        """One item per row, chosen within ``cat`` by the type's taste on that day's period."""
        key = (type_idx * self.n_periods + self.period(day)) * self.n_cat + cat
        x = key + np.minimum(rng.random(len(key)), 1 - 1e-9)
        return np.searchsorted(self.choice_cdf, x, side="right") % self.n_items

    def affinity(self, type_idx: np.ndarray, item: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", self.type_style[type_idx], self.item_style[item])


def _titles(rng: np.random.Generator, cats: np.ndarray, categories: list[str]) -> tuple:
    titles, nouns, brands, descriptions = [], [], [], []
    seen: dict[str, int] = {}
    for c in cats:
        spec = txt.CATEGORIES[categories[c]]
        adj = spec["adj"][rng.integers(len(spec["adj"]))]
        noun = spec["nouns"][rng.integers(len(spec["nouns"]))]
        brand = spec["brands"][rng.integers(len(spec["brands"]))]
        f1, f2 = rng.choice(len(spec["features"]), size=2, replace=False)
        title = f"{adj} {noun}"
        seen[title] = seen.get(title, 0) + 1
        if seen[title] > 1:
            title = f"{title} {seen[title]}"
        titles.append(title)
        nouns.append(noun.lower())
        brands.append(brand)
        descriptions.append(
            f"{title} by {brand}: {spec['features'][f1]}, {spec['features'][f2]}. "
            f"Part of our {categories[c].lower()} range."
        )
    return titles, nouns, brands, descriptions


def _season(start: pd.Timestamp, n_days: int) -> np.ndarray:
    days = pd.date_range(start, periods=n_days, freq="D")
    weekend = np.isin(days.dayofweek, (5, 6))
    w = (1.0 + 0.25 * weekend) * (1.0 + 0.3 * np.arange(n_days) / max(n_days, 1))
    return np.concatenate([[0.0], np.cumsum(w)])


def build_world(rng: np.random.Generator, n_items: int, n_days: int, start: pd.Timestamp) -> World:
    """Catalogue with prices, launch dates, popularity drift and style; type tables."""
    categories = list(txt.CATEGORIES)
    n_cat = len(categories)
    cats = np.sort(np.concatenate([np.arange(n_cat), rng.integers(0, n_cat, n_items - n_cat)]))
    mu = np.array([txt.CATEGORIES[c]["mu"] for c in categories])
    sd = np.array([txt.CATEGORIES[c]["sd"] for c in categories])
    price = np.maximum(np.round(np.exp(rng.normal(mu[cats], sd[cats]))) - 0.01, 0.99)
    # 85% of the catalogue exists before day 0; the rest launches during the run (cold start)
    late = rng.random(n_items) < 0.15
    cat_first = np.searchsorted(cats, np.arange(n_cat))
    cat_count = np.bincount(cats, minlength=n_cat)
    late[cat_first] = False  # every category has an item from day 0
    created = np.where(late, rng.integers(1, max(2, int(0.9 * n_days)), n_items),
                       -rng.integers(1, 366, n_items))
    style = rng.normal(size=(n_items, N_STYLE))
    pop = rng.normal(0, 1.0, n_items)
    trend = rng.normal(0, 0.8, n_items)
    titles, nouns, brands, descriptions = _titles(rng, cats, categories)
    ids = np.array([f"I{k:06d}" for k in rng.permutation(n_items) + 1], dtype=object)
    start_ms = np.datetime64(start.to_datetime64(), "ms")
    created_at = start_ms + (created.astype("int64") * 86_400_000
                             + rng.integers(8 * 3600_000, 18 * 3600_000, n_items)
                             ).astype("timedelta64[ms]")
    lead = np.array([txt.CATEGORIES[c]["lead"] for c in categories])[cats]
    lead = np.maximum(1, lead + rng.integers(-2, 3, n_items))
    items_frame = pd.DataFrame({
        "item_id": ids, "title": titles, "category": np.array(categories, dtype=object)[cats],
        "brand": brands, "price": price, "created_at": pd.to_datetime(created_at),
        "description": descriptions,
    })
    items_truth = pd.DataFrame({
        "item_id": ids, "category": items_frame["category"], "created_day": created,
        "cold_start": created > 0, "base_popularity": pop, "popularity_trend": trend,
        "lead_time_days": lead.astype(float),
        "unit_cost": np.round(price * rng.uniform(0.4, 0.7, n_items), 2),
        **{f"style_{k}": style[:, k] for k in range(N_STYLE)},
    })

    types = CUSTOMER_TYPES
    prefs = np.full((len(types), n_cat), 0.3)
    for t, spec in enumerate(types):
        for name, w in spec["prefs"].items():
            prefs[t, categories.index(name)] += w
    prefs /= prefs.sum(1, keepdims=True)
    type_style = rng.normal(size=(len(types), N_STYLE))
    beta = np.array([t["price_sensitivity"] for t in types])
    effect = np.array([[t["effect"].get(a, 0.0) for a in ARMS] for t in types])

    period_len = 7
    n_periods = -(-n_days // period_len)
    while len(types) * n_periods * n_items > 4_000_000 and n_periods > 1:
        period_len *= 2
        n_periods = -(-n_days // period_len)
    cat_median = np.array([np.median(price[cats == c]) for c in range(n_cat)])
    rel_price = np.log(price / cat_median[cats])
    cdf = np.empty((len(types), n_periods, n_items))
    for p in range(n_periods):
        first_day = p * period_len
        mid = (first_day + period_len / 2) / max(n_days, 1)
        age = first_day - created
        launch = np.exp(-np.clip(age, 0, None) / 21.0) * (created > 0)  # new items get a boost
        logw = pop + trend * (mid - 0.5) + launch
        available = created <= first_day
        for t in range(len(types)):
            lw = logw - beta[t] * rel_price + 0.7 * style @ type_style[t]
            w = np.where(available, np.exp(lw - lw.max()), 0.0)
            csum = np.cumsum(w)
            block_start = np.concatenate([[0.0], csum])[cat_first][cats]
            block_total = (np.concatenate([[0.0], csum])[cat_first + cat_count])[cats] - block_start
            within = (csum - block_start) / block_total
            within[cat_first + cat_count - 1] = 1.0
            cdf[t, p] = (t * n_periods + p) * n_cat + cats + within
    return World(
        start=start_ms, n_days=n_days, categories=categories, item_ids=ids, item_cat=cats,
        item_price=price, item_noun=np.array(nouns, dtype=object), item_created_day=created,
        item_style=style, item_pop=pop, item_trend=trend, items_frame=items_frame,
        items_truth=items_truth, type_style=type_style, type_prefs=prefs, type_beta=beta,
        type_activity=np.array([t["activity"] for t in types]),
        type_buy=np.array([t["buy_prob"] for t in types]),
        type_repeat=np.array([t["repeat_prob"] for t in types]), type_effect=effect,
        season_cum=_season(start, n_days), period_len=period_len, n_periods=n_periods,
        choice_cdf=cdf.ravel(), cat_first=cat_first, cat_count=cat_count,
    )


@dataclass
class UserChunk:
    """Latent state of one chunk of users (index ``first`` .. ``first + n - 1``)."""

    first: int
    ids: np.ndarray  # object
    type_idx: np.ndarray
    taste: np.ndarray  # (n, n_cat)
    rate: np.ndarray  # sessions per (season-weighted) day
    buy: np.ndarray  # purchase probability per session
    signup_day: np.ndarray
    active_from: np.ndarray  # first active day (>= 0)
    active_to: np.ndarray  # day after the last active day (churn day or n_days)
    churn_day: np.ndarray  # -1 = no churn
    staples: np.ndarray  # (n, N_STAPLES) items bought again and again
    country: np.ndarray
    device_kind: np.ndarray
    device_id: np.ndarray
    card_id: np.ndarray
    method: np.ndarray
    ip: np.ndarray
    address: np.ndarray
    arm: np.ndarray  # index into ARMS, -1 = not exposed
    frame: pd.DataFrame  # the `users` rows


def make_users(rng: np.random.Generator, world: World, first: int, n: int, churn_rate: float,
               campaign_days: tuple[int, int] | None) -> UserChunk:
    """Customers ``first`` .. ``first + n - 1`` with tastes, life cycles and campaign arms."""
    n_days = world.n_days
    shares = np.array([t["share"] for t in CUSTOMER_TYPES])
    type_idx = rng.choice(len(shares), size=n, p=shares / shares.sum())
    taste = np.vstack([rng.dirichlet(8 * world.type_prefs[t] + 0.05) for t in type_idx]) \
        if n else np.zeros((0, world.n_cat))
    rate = world.type_activity[type_idx] * rng.gamma(2.0, 0.5, n)
    buy = np.minimum(world.type_buy[type_idx] * rng.lognormal(0, 0.2, n), 0.35)
    existing = rng.random(n) < 0.45
    signup = np.where(existing, -rng.integers(1, 366, n), rng.integers(0, max(1, n_days - 1), n))
    active_from = np.where(signup >= 0, signup + 1, 0)  # new users shop from the next day
    churns = (rng.random(n) < churn_rate) & (active_from + 7 < n_days)
    churn_day = np.where(churns, rng.integers(np.minimum(active_from + 7, n_days - 1), n_days),
                         -1)
    active_to = np.where(churns, churn_day, n_days)
    ids = np.array([f"U{k:07d}" for k in range(first + 1, first + n + 1)], dtype=object)
    cat = (taste.cumsum(1) < rng.random((n, 1))).sum(1).clip(0, world.n_cat - 1)
    staples = np.stack([
        world.draw_items(rng, type_idx, np.minimum(active_from, n_days - 1),
                         (taste.cumsum(1) < rng.random((n, 1))).sum(1).clip(0, world.n_cat - 1)
                         if k else cat)
        for k in range(N_STAPLES)
    ], axis=1)
    country = np.array(txt.COUNTRIES, dtype=object)[
        rng.choice(len(txt.COUNTRIES), n, p=txt.COUNTRY_WEIGHTS)]
    device_kind = np.array(txt.DEVICES, dtype=object)[
        rng.choice(len(txt.DEVICES), n, p=txt.DEVICE_WEIGHTS)]
    source = np.array(txt.SOURCES, dtype=object)[
        rng.choice(len(txt.SOURCES), n, p=txt.SOURCE_WEIGHTS)]
    method = np.array(["card", "paypal", "apple_pay"], dtype=object)[
        rng.choice(3, n, p=[0.72, 0.2, 0.08])]
    octets = rng.integers(1, 255, (n, 4))
    ip = np.array([f"{a}.{b}.{c}.{d}" for a, b, c, d in octets], dtype=object)
    street = rng.integers(len(txt.STREETS), size=n)
    city = rng.integers(len(txt.CITIES), size=n)
    number = rng.integers(1, 200, n)
    address = np.array([f"{k} {txt.STREETS[s]}, {txt.CITIES[c]}"
                        for k, s, c in zip(number, street, city, strict=True)], dtype=object)
    arm = np.full(n, -1)
    if campaign_days is not None:
        d0 = campaign_days[0]
        eligible = (signup <= d0) & (active_to > d0)
        arm = np.where(eligible, rng.integers(0, len(ARMS), n), -1)
    signup_ts = world.start + (signup.astype("int64") * 86_400_000
                               + rng.integers(0, 86_400_000, n)).astype("timedelta64[ms]")
    frame = pd.DataFrame({
        "user_id": ids, "signup_ts": pd.to_datetime(signup_ts), "country": country,
        "device": device_kind, "source": source,
    })
    return UserChunk(
        first=first, ids=ids, type_idx=type_idx, taste=taste, rate=rate, buy=buy,
        signup_day=signup, active_from=active_from, active_to=active_to, churn_day=churn_day,
        staples=staples, country=country, device_kind=device_kind,
        device_id=np.array([f"D{k:07d}" for k in range(first + 1, first + n + 1)], dtype=object),
        card_id=np.array([f"C{k:07d}" for k in range(first + 1, first + n + 1)], dtype=object),
        method=method, ip=ip, address=address, arm=arm, frame=frame,
    )
