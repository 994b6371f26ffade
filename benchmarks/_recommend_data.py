"""Data, protocols and metrics of the recommendation benchmark (``benchmarks/recommend.py``).

Loads Amazon Beauty (S3-Rec), MovieLens 100K and UCI Online Retail from ``STOREMIND_DATA``,
splits them by each protocol's time-respecting rule into a validation task (carved from the
training data) and a test task, and scores top-k lists with ``storemind.evaluation``.
"""
from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _common import DATA, ROOT
from storemind import evaluation as ev
from storemind.recommend import Interactions

K = 50  # length of every top-k list (metrics use its first 10 or 20)
RECBOLE_VENV = ROOT / ".bench-venv-recbole"
RUNNER = Path(__file__).resolve().parent / "recbole_runner.py"
RETAIL_NON_PRODUCTS = {"POST", "C2", "M", "BANK CHARGES", "PADS", "DOT", "D", "CRUK", "AMAZONFEE",
                       "S", "B"}


# =============================================================================== data structures
@dataclass
class Task:
    """One fit-and-score round: training interactions and the relevant items of the users scored.

    ``users`` are dense indices of ``train``; ``relevant[j]`` holds the relevant items of
    ``users[j]`` (items of ``train``'s index, none of them in the user's training history).
    """

    train: Interactions
    users: np.ndarray
    relevant: list[np.ndarray]
    dropped_unknown: int = 0  # relevant (user, item) pairs whose user or item is not in train
    dropped_seen: int = 0  # relevant pairs already in the user's training history


@dataclass
class Protocol:
    """A dataset with its validation and test tasks and the metrics reported."""

    key: str
    dataset: str
    description: str
    valid: Task
    test: Task
    metrics: list[str]
    catalogue: pd.DataFrame | None = None
    literature: list[tuple[str, dict[str, float], str]] = field(default_factory=list)


@dataclass
class Fitted:
    """Top-k lists of a fitted model for a task's users (rows in ``task.users`` order)."""

    top: np.ndarray
    fit_seconds: float
    peak_mib: float
    #: a self-tuned model's own choice: ``valid_ndcg``, ``n_configs``, ``params``
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Spec:
    """A model family in the benchmark.

    ``fit(params, task, protocol, options)`` fits on ``task.train`` and returns either one
    :class:`Fitted` or a list of ``(extra_params, Fitted)`` (several configurations from one
    run, e.g. RecBole's epochs); ``space`` is the grid the configurations are drawn from; the
    first draw is always ``default``.
    """

    name: str
    side: str  # "ours" or "reference"
    space: dict[str, list]
    default: dict[str, Any]
    fit: Callable[..., Fitted | list[tuple[dict, Fitted]]]
    neural: bool = False
    available: Callable[[], str | None] = lambda: None  # None = available, else why not
    note: str = ""
    #: tunes itself on data carved from the training split (one fit, no validation phase)
    self_tuned: bool = False


# =============================================================================== data loading
def load_beauty(data: Path = DATA, max_users: int | None = None) -> pd.DataFrame:
    """Amazon Beauty sequences as purchase events; ``ts`` is the position in the sequence."""
    users, items, pos = [], [], []
    with gzip.open(data / "amazon_seq_s3rec" / "Beauty.txt.gz", "rt") as fh:
        for n, line in enumerate(fh):
            if max_users is not None and n >= max_users:
                break
            parts = line.split()
            seq = parts[1:]
            users += [parts[0]] * len(seq)
            items += seq
            pos += range(len(seq))
    return pd.DataFrame({"user_id": users, "item_id": items, "event_type": "purchase",
                         "ts": np.asarray(pos, dtype=np.int64)})


def load_movielens(data: Path = DATA) -> pd.DataFrame:
    """MovieLens 100K ratings as rating events (``value`` = stars, ``ts`` epoch seconds)."""
    raw = pd.read_csv(data / "movielens_100k" / "u.data.gz", sep="\t",
                      names=["user_id", "item_id", "value", "ts"])
    return pd.DataFrame({"user_id": raw["user_id"].astype(str),
                         "item_id": raw["item_id"].astype(str), "event_type": "rating",
                         "value": raw["value"].astype(float), "ts": raw["ts"].astype(np.int64)})


def load_retail(data: Path = DATA) -> pd.DataFrame:
    """Online Retail product purchases of known customers (no cancellations or fee codes)."""
    raw = pd.read_csv(data / "online_retail" / "online_retail.csv.gz",
                      dtype={"InvoiceNo": str, "StockCode": str}, parse_dates=["InvoiceDate"])
    keep = (raw["CustomerID"].notna() & (raw["Quantity"] > 0)
            & ~raw["InvoiceNo"].str.startswith("C") & ~raw["StockCode"].isin(RETAIL_NON_PRODUCTS)
            & raw["StockCode"].str[:5].str.isdigit())
    raw = raw.loc[keep]
    ts = (raw["InvoiceDate"].astype("datetime64[ns]").astype("int64") // 1_000_000_000)
    return pd.DataFrame({"user_id": raw["CustomerID"].astype(np.int64).astype(str),
                         "item_id": raw["StockCode"].str.upper(), "event_type": "purchase",
                         "value": raw["Quantity"].astype(float),
                         "session_id": raw["InvoiceNo"], "ts": ts.to_numpy()})


def movielens_catalogue(data: Path = DATA) -> pd.DataFrame:
    """MovieLens items: ``title`` and ``category`` (the genres, comma-separated)."""
    genres = [g.split("|")[0] for g in (data / "movielens_100k" / "u.genre").read_text(
        encoding="latin-1").splitlines() if g.strip()]
    raw = pd.read_csv(data / "movielens_100k" / "u.item.gz", sep="|", header=None,
                      encoding="latin-1")
    flags = raw.iloc[:, 5:5 + len(genres)].to_numpy().astype(bool)
    return pd.DataFrame({"item_id": raw[0].astype(str), "title": raw[1].astype(str),
                         "category": [", ".join(g for g, f in zip(genres, row, strict=True)
                                                if f) for row in flags]})


def retail_catalogue(data: Path = DATA) -> pd.DataFrame:
    """Online Retail products: ``title`` = the most frequent description of each stock code."""
    raw = pd.read_csv(data / "online_retail" / "online_retail.csv.gz",
                      usecols=["StockCode", "Description"], dtype=str)
    raw = raw.dropna()
    raw["item_id"] = raw["StockCode"].str.upper()
    top = (raw.groupby(["item_id", "Description"]).size().reset_index(name="n")
           .sort_values(["item_id", "n"], ascending=[True, False])
           .drop_duplicates("item_id"))
    return pd.DataFrame({"item_id": top["item_id"], "title": top["Description"].str.strip()})


# =============================================================================== protocol building
def make_task(train_frame: pd.DataFrame, target_frame: pd.DataFrame) -> Task:
    """A task from a training frame and the frame of held-out relevant events.

    Relevant pairs whose user or item is unknown to training are dropped (no model can rank
    them), so are pairs the user already had in training (every model excludes seen items).
    Users left with no relevant item are not scored.
    """
    train = Interactions.from_frame(train_frame)
    u = train.user_index(target_frame["user_id"].astype(str).to_numpy())
    i = train.item_index(target_frame["item_id"].astype(str).to_numpy())
    known = (u >= 0) & (i >= 0)
    width = max(train.n_items, 1)
    pairs = np.unique(u[known] * width + i[known])
    pu, pi = pairs // width, pairs % width
    n_target = len(target_frame[["user_id", "item_id"]].astype(str).drop_duplicates())
    seen = np.asarray(train.seen()[pu, pi]).ravel() > 0 if len(pairs) else np.zeros(0, bool)
    pu, pi = pu[~seen], pi[~seen]
    users, starts = np.unique(pu, return_index=True)
    relevant = [a.astype(np.int64) for a in np.split(pi, starts[1:])] if len(users) else []
    return Task(train=train, users=users.astype(np.int64), relevant=relevant,
                dropped_unknown=n_target - len(pairs), dropped_seen=int(seen.sum()))


def split_protocol(
    events: pd.DataFrame,
    split: Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]],
    relevant: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f,
) -> tuple[Task, Task]:
    """(validation task, test task): ``split`` on the events, then the same rule on the train."""
    train, test = split(events)
    inner, valid = split(train)
    return make_task(inner, relevant(valid)), make_task(train, relevant(test))


def leave_last_out_split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user's last event (by ``ts``, then row order) is held out."""
    return ev.leave_last_out(frame, user_col="user_id", time_col="ts", n=1, min_train=1)


def temporal_span_split(fraction: float = 0.2) -> Callable:
    """One global cut: the last ``fraction`` of the time span is held out."""
    return lambda frame: ev.temporal_split(frame, time_col="ts", test_fraction=fraction,
                                           by="span")


def last_days_split(days: int = 30) -> Callable:
    """One global cut: the last ``days`` days before the latest event are held out."""
    return lambda frame: ev.temporal_split(frame, time_col="ts",
                                           cutoff=int(frame["ts"].max()) - days * 86_400)


def build_protocol(key: str, data: Path = DATA, quick: bool = False) -> Protocol:
    """Load a dataset and make its validation and test tasks."""
    if key == "beauty":
        events = load_beauty(data, max_users=4000 if quick else None)
        valid, test = split_protocol(events, leave_last_out_split)
        return Protocol(
            key, "Amazon Beauty (S3-Rec)", "leave-last-out; validation = second-to-last item",
            valid, test, ["HR@10", "NDCG@10"],
            literature=[("SASRec, full cross-entropy (Klenitskiy & Vasilev 2023)",
                         {"HR@10": 0.0533, "NDCG@10": 0.0327},
                         "their preprocessing differs (context only, not comparable)")])
    if key == "movielens":
        events = load_movielens(data)
        valid, test = split_protocol(events, temporal_span_split(0.2),
                                     lambda f: f.loc[f["value"] >= 4])
        return Protocol(
            key, "MovieLens 100K", "global temporal split, last 20% of the time span; "
            "relevant = test ratings >= 4", valid, test, ["NDCG@10", "Recall@20"],
            catalogue=movielens_catalogue(data))
    if key == "retail":
        events = load_retail(data)
        if quick:  # a quarter of the customers
            keep = pd.util.hash_pandas_object(events["user_id"], index=False) % 4 == 0
            events = events.loc[keep.to_numpy()]
        valid, test = split_protocol(events, last_days_split(30))
        return Protocol(
            key, "UCI Online Retail", "last 30 days; relevant = products bought in the window "
            "and never before by that customer", valid, test,
            ["NDCG@10", "Recall@20", "Coverage@10", "MeanPop@10"],
            catalogue=retail_catalogue(data))
    raise ValueError(f"unknown protocol {key!r}; expected one of {PROTOCOLS}")


PROTOCOLS = ("movielens", "retail", "beauty")  # cheapest first


# =============================================================================== metrics
def compute_metrics(names: Sequence[str], task: Task, top: np.ndarray) -> dict[str, float]:
    """Every metric in ``names`` of the top-k lists ``top`` (rows in ``task.users`` order)."""
    top = np.asarray(top, dtype=np.int64)
    if top.shape != (len(task.users), top.shape[1]) or top.shape[1] < 20:
        raise ValueError(f"top-k lists must have shape ({len(task.users)}, >= 20), "
                         f"got {top.shape}")
    out: dict[str, float] = {}
    for name in names:
        metric, k = name.split("@")
        k = int(k)
        if metric == "HR":
            out[name] = ev.hit_rate_at_k(top, task.relevant, k)
        elif metric == "NDCG":
            out[name] = ev.ndcg_at_k(top, task.relevant, k)
        elif metric == "Recall":
            out[name] = ev.recall_at_k(top, task.relevant, k)
        elif metric == "Coverage":
            out[name] = ev.catalogue_coverage(top, task.train.n_items, k)
        elif metric == "MeanPop":
            out[name] = ev.popularity_bias(top, task.train.item_popularity(), k)
        else:
            raise ValueError(f"unknown metric {name!r}")
    return out


def clean_top(items: np.ndarray, k: int = K) -> np.ndarray:
    """int64 (n, k) lists: padding and repeated items (a tool's filler) become -1."""
    items = np.asarray(items, dtype=np.int64)
    out = np.full((items.shape[0], k), -1, dtype=np.int64)
    width = min(k, items.shape[1])
    out[:, :width] = items[:, :width]
    out[out < 0] = -1
    s = np.sort(out, axis=1)
    if ((s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)).any():
        for row in out:
            _, first = np.unique(row, return_index=True)
            dup = np.ones(len(row), bool)
            dup[first] = False
            row[dup] = -1
    return out
