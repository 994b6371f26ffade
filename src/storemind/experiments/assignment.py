"""Deterministic assignment of users to experiment variants, and exposure logging.

A user's variant is a pure function of (experiment settings, user id): no state to keep, the
same answer on every server. Three independent hashes of ``salt:purpose:user_id`` (SHA-256,
first 8 bytes as a number in [0, 1)) decide, in order:

1. **layer**: experiments in the same layer share one hash (salted with the layer's name) and
   own disjoint ranges of it (``layer_range``), so a user is in at most one of them (mutually
   exclusive experiments). An experiment without a layer owns its whole own layer.
2. **traffic**: the user enters if the traffic hash is below ``traffic`` (share of the layer
   range's users); raising ``traffic`` later keeps everyone already in, in the same variant.
3. **variant**: the variant hash falls in a variant's slice of the cumulative weights.

Targeting (``targeting={"country": ["NL", "BE"]}``) is checked first: a user whose attributes
do not match is not in the experiment. Experiments are stored as rows of the canonical
``campaigns`` table (settings as JSON in ``arms``); exposures go to ``exposures`` with
``campaign_id`` = experiment key and ``arm`` = variant, one row per user (the first).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from storemind.errors import DataError, NotFoundError

if TYPE_CHECKING:
    from storemind.store import Store

__all__ = [
    "Experiment",
    "Assignment",
    "hash_unit",
    "assign",
    "check_layers",
    "register_experiment",
    "load_experiment",
    "list_experiments",
    "log_exposure",
    "log_exposures",
]

_SCALE = float(2**64)


def hash_unit(salt: str, user_id: str) -> float:
    """A number in [0, 1) from ``sha256(salt + ":" + user_id)``; the same everywhere."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True)
class Experiment:
    """The settings of one experiment.

    Parameters
    ----------
    key : str
        Unique name; also the ``campaign_id`` of its exposures.
    variants : mapping of str to float
        Variant name -> traffic weight (any positive scale). The first is the control unless
        ``control`` says otherwise.
    traffic : float
        Share in (0, 1] of eligible users who enter the experiment.
    salt : str, optional
        Hash salt; defaults to ``key``. Change it to re-randomise.
    layer : str, optional
        Experiments in one layer are mutually exclusive.
    layer_range : (float, float)
        The part [lo, hi) of the layer's hash this experiment owns.
    targeting : mapping of str to list of str
        Attribute -> allowed values; a user must match every attribute.
    control : str, optional
        The control variant (default: the first).
    planned_units : int, optional
        Planned units over all arms; tunes the confidence sequence (default 10,000).
    """

    key: str
    variants: Mapping[str, float] = field(
        default_factory=lambda: {"control": 0.5, "treatment": 0.5})
    traffic: float = 1.0
    salt: str | None = None
    layer: str | None = None
    layer_range: tuple[float, float] = (0.0, 1.0)
    targeting: Mapping[str, list[str]] = field(default_factory=dict)
    control: str | None = None
    planned_units: int | None = None
    name: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise DataError(f"experiment key must be a non-empty string; received {self.key!r}")
        v = dict(self.variants)
        if len(v) < 2:
            raise DataError(
                f"experiment {self.key!r}: expected at least 2 variants, received {list(v)}")
        bad = {k: w for k, w in v.items() if not (isinstance(w, int | float) and w > 0)}
        if bad:
            raise DataError(f"experiment {self.key!r}: variant weights must be > 0; got {bad}")
        if not 0 < self.traffic <= 1:
            raise DataError(
                f"experiment {self.key!r}: traffic must be in (0, 1]; received {self.traffic}")
        lo, hi = self.layer_range
        if not 0 <= lo < hi <= 1:
            raise DataError(
                f"experiment {self.key!r}: layer_range must satisfy 0 <= lo < hi <= 1; "
                f"received {self.layer_range}")
        if self.control is not None and self.control not in v:
            raise DataError(
                f"experiment {self.key!r}: control {self.control!r} is not a variant {list(v)}")
        object.__setattr__(self, "variants", v)
        object.__setattr__(self, "layer_range", (float(lo), float(hi)))
        object.__setattr__(
            self, "targeting", {str(k): [str(x) for x in vals]
                                for k, vals in dict(self.targeting).items()})

    @property
    def control_variant(self) -> str:
        return self.control or next(iter(self.variants))

    @property
    def weights(self) -> dict[str, float]:
        """Variant -> share of the experiment's users (sums to 1)."""
        total = sum(self.variants.values())
        return {k: w / total for k, w in self.variants.items()}

    def to_campaign_row(self) -> dict[str, Any]:
        """The row of the canonical ``campaigns`` table that stores this experiment."""
        settings = asdict(self)
        for k in ("key", "name", "description"):
            settings.pop(k)
        settings["variants"] = dict(self.variants)
        settings["layer_range"] = list(self.layer_range)
        settings["kind"] = "experiment"
        return {"campaign_id": self.key, "name": self.name,
                "arms": json.dumps(settings, sort_keys=True), "description": self.description}

    @classmethod
    def from_campaign_row(cls, row: Mapping[str, Any]) -> Experiment:
        """Rebuild an experiment from its ``campaigns`` row (a campaign without settings gets
        equal weights over the arms listed, comma-separated, in ``arms``)."""
        key = str(row["campaign_id"])
        raw = row.get("arms")
        settings: dict[str, Any] = {}
        if isinstance(raw, str) and raw.strip()[:1] in ("{", "["):
            try:
                settings = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"campaigns row {key!r}: 'arms' is not valid JSON ({exc})") from None
        elif isinstance(raw, str) and raw.strip():
            settings = [a.strip() for a in raw.split(",") if a.strip()]
        if isinstance(settings, list):  # a plain list of arms: equal weights
            arms = [str(a) for a in settings]
            settings = {"variants": {a: 1.0 for a in arms}, "control": _guess_control(arms)}
        settings.pop("kind", None)
        if "layer_range" in settings:
            settings["layer_range"] = tuple(settings["layer_range"])
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(settings) - known
        if unknown:
            raise DataError(f"campaigns row {key!r}: unknown experiment settings {sorted(unknown)}")
        name = row.get("name")
        desc = row.get("description")
        return cls(key=key, name=None if pd.isna(name) else name,
                   description=None if pd.isna(desc) else desc, **settings)


_CONTROL_NAMES = ("control", "no e-mail", "no email", "holdout", "baseline", "none", "a")


def _guess_control(arms: list[str]) -> str | None:
    """For a campaign that lists its arms without settings: the arm named like a control."""
    for arm in arms:
        if arm.strip().lower() in _CONTROL_NAMES:
            return arm
    return None


@dataclass(frozen=True)
class Assignment:
    """Where a user landed: ``variant`` is None when they are not in the experiment, and
    ``reason`` says why (``assigned``, ``not_targeted``, ``outside_layer``,
    ``outside_traffic``)."""

    key: str
    user_id: str
    variant: str | None
    reason: str

    @property
    def in_experiment(self) -> bool:
        return self.variant is not None


def _matches(targeting: Mapping[str, list[str]], attributes: Mapping[str, Any] | None) -> bool:
    attributes = attributes or {}
    for attr, allowed in targeting.items():
        value = attributes.get(attr)
        if value is None or str(value) not in allowed:
            return False
    return True


def assign(experiment: Experiment, user_id: str,
           attributes: Mapping[str, Any] | None = None) -> Assignment:
    """The variant of ``user_id`` in ``experiment`` (deterministic).

    Parameters
    ----------
    experiment : Experiment
    user_id : str
        The randomisation unit's id (non-empty).
    attributes : mapping, optional
        The user's attributes for targeting (e.g. ``{"country": "NL"}``).
    """
    user_id = str(user_id)
    if not user_id.strip():
        raise DataError("user_id must be a non-empty string")
    key = experiment.key
    if not _matches(experiment.targeting, attributes):
        return Assignment(key, user_id, None, "not_targeted")
    salt = experiment.salt or key
    layer_salt = f"layer:{experiment.layer}" if experiment.layer else f"{salt}:layer"
    lo, hi = experiment.layer_range
    u = hash_unit(layer_salt, user_id)
    if not lo <= u < hi:
        return Assignment(key, user_id, None, "outside_layer")
    if hash_unit(f"{salt}:traffic", user_id) >= experiment.traffic:
        return Assignment(key, user_id, None, "outside_traffic")
    v = hash_unit(f"{salt}:variant", user_id)
    acc = 0.0
    weights = experiment.weights
    for name, share in weights.items():
        acc += share
        if v < acc:
            return Assignment(key, user_id, name, "assigned")
    return Assignment(key, user_id, list(weights)[-1], "assigned")  # rounding at the top end


def check_layers(experiments: Iterable[Experiment]) -> None:
    """Raise DataError when two experiments in one layer own overlapping ranges."""
    by_layer: dict[str, list[Experiment]] = {}
    for e in experiments:
        if e.layer:
            by_layer.setdefault(e.layer, []).append(e)
    for layer, exps in by_layer.items():
        exps = sorted(exps, key=lambda e: e.layer_range)
        for a, b in zip(exps, exps[1:], strict=False):
            if b.layer_range[0] < a.layer_range[1]:
                raise DataError(
                    f"layer {layer!r}: experiments {a.key!r} {a.layer_range} and {b.key!r} "
                    f"{b.layer_range} overlap; experiments in one layer need disjoint ranges"
                )


def list_experiments(store: Store) -> list[Experiment]:
    """Every experiment stored in ``campaigns``."""
    frame = store.frame("campaigns")
    return [Experiment.from_campaign_row(r) for r in frame.to_dict("records")]


def load_experiment(store: Store, key: str) -> Experiment:
    """The experiment ``key`` from the store's ``campaigns`` table (NotFoundError if absent)."""
    t = store.table("campaigns")
    rows = store.execute(t.filter(t.campaign_id == key))
    if len(rows) == 0:
        raise NotFoundError(f"no experiment {key!r} in the store's campaigns table")
    return Experiment.from_campaign_row(rows.iloc[0].to_dict())


def register_experiment(store: Store, experiment: Experiment) -> Experiment:
    """Store ``experiment`` in ``campaigns`` after checking its layer against the others.

    Settings are immutable once stored: registering the same key again stores nothing and
    returns the stored experiment (raises DataError if the settings differ).
    """
    t = store.table("campaigns")
    existing = store.execute(t.filter(t.campaign_id == experiment.key))
    if len(existing):
        stored = Experiment.from_campaign_row(existing.iloc[0].to_dict())
        if stored != experiment:
            raise DataError(
                f"experiment {experiment.key!r} is already stored with other settings; "
                "use a new key (settings of a running experiment cannot change)"
            )
        return stored
    check_layers([*list_experiments(store), experiment])
    report = store.append("campaigns", [experiment.to_campaign_row()],
                          source_name="experiments.register")
    if report.stored != 1:
        raise DataError(f"experiment {experiment.key!r} could not be stored: {report}")
    return experiment


def log_exposure(store: Store, assignment: Assignment,
                 ts: pd.Timestamp | None = None) -> bool:
    """Record that a user saw their variant. Only the first exposure per user is kept.

    Returns True when a new exposure row was stored; users not in the experiment are not
    logged (False).
    """
    if assignment.variant is None:
        return False
    ts = pd.Timestamp.now(tz="UTC").tz_localize(None) if ts is None else pd.Timestamp(ts)
    row = {"exposure_id": f"{assignment.key}:{assignment.user_id}",
           "campaign_id": assignment.key, "user_id": assignment.user_id,
           "arm": assignment.variant, "ts": ts}
    report = store.append("exposures", [row], source_name="experiments.assignment")
    if report.quarantined:
        raise DataError(f"exposure of {assignment.user_id!r} was rejected: {report}")
    return report.stored > 0


def log_exposures(store: Store, assignments: Iterable[Assignment],
                  ts: Iterable[pd.Timestamp] | pd.Timestamp | None = None) -> int:
    """Record many exposures in one write (see :func:`log_exposure`); returns rows stored."""
    items = [a for a in assignments if a.variant is not None]
    if not items:
        return 0
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    if ts is None or isinstance(ts, pd.Timestamp):
        times = [ts if ts is not None else now] * len(items)
    else:
        times = list(ts)
    rows = pd.DataFrame({
        "exposure_id": [f"{a.key}:{a.user_id}" for a in items],
        "campaign_id": [a.key for a in items], "user_id": [a.user_id for a in items],
        "arm": [a.variant for a in items], "ts": pd.to_datetime(times[: len(items)]),
    })
    report = store.append("exposures", rows, source_name="experiments.assignment")
    if report.quarantined:
        raise DataError(f"{report.quarantined} exposures were rejected: {report}")
    return report.stored
