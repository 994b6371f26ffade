"""Analyse a stored experiment end to end: ``analyze(store, key) -> ExperimentReport``.

Units are the users of the experiment's exposures (``campaign_id`` = key; ``arm`` = variant);
exposures without a user id count as one unit each. A metric reads its values per unit from:

- an ``exposures`` column (``visited``, ``converted``, ``spend``, ``clicked``), summed per unit;
- ``attributes.<k>``: a key of the exposures' ``attributes`` JSON;
- ``users.<k>``: a ``users`` column or a key of its ``attributes`` JSON (e.g. ``users.history``);
- ``events.<type>`` (count of that event type), ``events.sessions`` (distinct sessions) or
  ``orders.total`` (sum of sale orders), after the unit's first exposure;
- the same with a ``pre.`` prefix (``pre.orders.total``): before the first exposure, for CUPED.

For each metric and variant against control the report holds the fixed-horizon test (Welch for
means, z for 0/1 metrics, delta method for ratio metrics ``"num/den"``; CUPED when the metric has
a covariate), the relative lift (delta method), the always-valid confidence sequence, the
Benjamini-Hochberg q-value across primary metrics and variants, guardrail verdicts, and one
sample-ratio-mismatch check that flags the whole report.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from storemind.errors import DataError, NotFoundError
from storemind.experiments.analysis import (
    TestResult,
    proportion_test,
    ratio_test,
    welch_from_stats,
    welch_test,
)
from storemind.experiments.assignment import Experiment, load_experiment
from storemind.experiments.cuped import cuped_test
from storemind.experiments.multiple import benjamini_hochberg
from storemind.experiments.sequential import (
    SequentialResult,
    always_valid_p,
    confidence_sequence,
    sequential_path,
)
from storemind.experiments.srm import SRMResult, srm_test

if TYPE_CHECKING:
    from storemind.store import Store

__all__ = ["Metric", "MetricComparison", "ExperimentReport", "analyze", "analyze_units",
           "load_units", "watch", "DEFAULT_T_STAR", "OUTCOME_COLUMNS"]

OUTCOME_COLUMNS = ("visited", "converted", "clicked", "spend")
DEFAULT_T_STAR = 10_000


@dataclass(frozen=True)
class Metric:
    """What to compare between arms.

    Parameters
    ----------
    name : str
        Label in the report.
    numerator : str
        Source of the per-unit values (see the module docstring).
    denominator : str, optional
        For a ratio metric (e.g. revenue per session): the per-unit denominator source.
    kind : {"mean", "proportion", "ratio"}, optional
        Default: "ratio" with a denominator, "proportion" for 0/1 values, else "mean".
    covariate : str, optional
        A pre-period source for CUPED (not for ratio metrics).
    guardrail : bool
        A metric that must not get worse; it is flagged, not counted as a discovery.
    higher_is_better : bool
        Direction of "worse" for guardrails.
    """

    name: str
    numerator: str
    denominator: str | None = None
    kind: str | None = None
    covariate: str | None = None
    guardrail: bool = False
    higher_is_better: bool = True

    @classmethod
    def parse(cls, spec: str | Metric, *, covariate: str | None = None,
              guardrail: bool = False) -> Metric:
        """``"spend"`` -> mean/proportion metric; ``"spend/events.sessions"`` -> ratio metric;
        a trailing ``"-"`` (``"events.refund-"``) marks lower as better."""
        if isinstance(spec, Metric):
            return spec
        text = str(spec).strip()
        if not text:
            raise DataError("a metric name must be non-empty")
        higher = not text.endswith("-")
        text = text.rstrip("-")
        if "/" in text:
            num, den = (p.strip() for p in text.split("/", 1))
            return cls(text, num, den, "ratio", None, guardrail, higher)
        return cls(text, text, None, None, covariate, guardrail, higher)


@dataclass(frozen=True)
class MetricComparison:
    """One metric, one variant against control."""

    metric: Metric
    variant: str
    control: str
    result: TestResult
    sequential: SequentialResult
    raw: TestResult | None = None
    theta: float | None = None
    variance_reduction: float | None = None
    q_value: float | None = None

    @property
    def guardrail_violated(self) -> bool:
        if not self.metric.guardrail:
            return False
        r = self.result
        return r.ci_high < 0 if self.metric.higher_is_better else r.ci_low > 0


@dataclass
class ExperimentReport:
    """The analysis of one experiment; ``to_frame()`` for a table, ``str()`` for text."""

    key: str
    control: str
    variants: list[str]
    units: dict[str, int]
    srm: SRMResult
    comparisons: list[MetricComparison]
    alpha: float
    t_star: float
    notes: list[str] = field(default_factory=list)

    @property
    def trustworthy(self) -> bool:
        """False when the sample-ratio check flags the experiment."""
        return not self.srm.flagged

    def to_frame(self) -> pd.DataFrame:
        """One row per (metric, variant). ``mean_*`` are the raw arm means; ``diff``, its
        interval and ``lift`` are CUPED-adjusted where the metric has a covariate."""
        rows = []
        for c in self.comparisons:
            r, s = c.result, c.sequential
            rows.append({
                "metric": c.metric.name, "variant": c.variant, "control": c.control,
                "method": r.method, "guardrail": c.metric.guardrail, "n_variant": r.n_t,
                "n_control": r.n_c, "mean_variant": (c.raw or r).mean_t,
                "mean_control": (c.raw or r).mean_c,
                "diff": r.diff, "ci_low": r.ci_low, "ci_high": r.ci_high, "lift": r.lift,
                "lift_ci_low": r.lift_ci_low, "lift_ci_high": r.lift_ci_high,
                "p_value": r.p_value, "q_value": c.q_value,
                "significant": c.q_value is not None and c.q_value <= self.alpha,
                "cs_low": s.cs_low, "cs_high": s.cs_high, "p_always_valid": s.p_value,
                "variance_reduction": c.variance_reduction,
                "guardrail_violated": c.guardrail_violated, "srm_flagged": self.srm.flagged,
            })
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (used by the HTTP API)."""
        frame = self.to_frame().astype(object)
        frame = frame.where(pd.notna(frame), None)
        return {
            "key": self.key, "control": self.control, "variants": self.variants,
            "units": self.units, "alpha": self.alpha, "t_star": self.t_star,
            "trustworthy": self.trustworthy,
            "srm": {"statistic": self.srm.statistic, "p_value": self.srm.p_value,
                    "flagged": self.srm.flagged, "observed": self.srm.observed,
                    "expected": self.srm.expected, "message": self.srm.message},
            "results": frame.to_dict("records"), "notes": self.notes,
        }

    def to_text(self) -> str:
        lines = [f"experiment {self.key}: control {self.control!r}, "
                 + ", ".join(f"{a} {n:,}" for a, n in self.units.items()) + " units"]
        if self.srm.flagged:
            lines.append("!! " + self.srm.message)
        else:
            lines.append(f"sample ratio OK (chi2 p={self.srm.p_value:.3g})")
        lines.append(f"{'metric':<22}{'variant':<16}{'control':>10}{'variant':>10}"
                     f"{'lift':>9}  {'lift CI':<19}{'p':>9}{'q':>9}  always-valid CS (diff)")
        for c in self.comparisons:
            r, s = c.result, c.sequential
            flag = ""
            if c.metric.guardrail:
                flag = " GUARDRAIL VIOLATED" if c.guardrail_violated else " guardrail ok"
            elif c.q_value is not None and c.q_value <= self.alpha:
                flag = " *"
            if c.variance_reduction is not None:
                flag += f" (CUPED -{c.variance_reduction:.1%} var)"
            q = "" if c.q_value is None else f"{c.q_value:.2g}"
            lift_ci = f"[{r.lift_ci_low:+.1%}, {r.lift_ci_high:+.1%}]"
            lines.append(
                f"{c.metric.name[:21]:<22}{c.variant[:15]:<16}{(c.raw or r).mean_c:>10.4g}"
                f"{(c.raw or r).mean_t:>10.4g}"
                f"{r.lift:>+9.1%}  {lift_ci:<19}{r.p_value:>9.2g}{q:>9}  "
                f"[{s.cs_low:+.4g}, {s.cs_high:+.4g}]{flag}"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


# -- reading units ---------------------------------------------------------------------------
def _json_values(series: pd.Series, key: str) -> pd.Series:
    def get(text: Any) -> Any:
        if not isinstance(text, str) or not text:
            return np.nan
        try:
            return json.loads(text).get(key, np.nan)
        except (json.JSONDecodeError, AttributeError):
            return np.nan
    return series.map(get)


def _numeric(values: pd.Series, source: str) -> pd.Series:
    out = pd.to_numeric(values, errors="coerce")
    bad = out.isna() & values.notna()
    if bad.any():
        raise DataError(
            f"metric source {source!r}: expected numbers, received e.g. "
            f"{values[bad].iloc[0]!r} ({int(bad.sum())} values)")
    return out


def _store_source(store: Store, key: str, units: pd.DataFrame, source: str) -> pd.Series:
    """Per-unit values of an events/orders/users source (index = units.index)."""
    pre = source.startswith("pre.")
    name = source.removeprefix("pre.")
    if name.startswith("users."):
        attr = name.removeprefix("users.")
        users = store.table("users")
        cols = users.columns
        exp = store.table("exposures")
        ids = exp.filter(exp.campaign_id == key).select("user_id").distinct()
        sel = users.semi_join(ids, users.user_id == ids.user_id)
        if attr in cols:
            frame = store.execute(sel.select("user_id", attr))
            vals = frame.set_index("user_id")[attr]
        else:
            frame = store.execute(sel.select("user_id", "attributes"))
            vals = pd.Series(_json_values(frame.attributes, attr).to_numpy(),
                             index=frame.user_id)
        return units.user_id.map(vals)
    exp = store.table("exposures")
    exp = exp.filter([exp.campaign_id == key, exp.user_id.notnull()])
    firsts = exp.group_by("user_id").aggregate(first_ts=exp.ts.min())
    if name.startswith("events."):
        what = name.removeprefix("events.")
        ev = store.table("events")
        if what != "sessions":
            ev = ev.filter(ev.event_type == what)
        j = firsts.join(ev, firsts.user_id == ev.user_id)
        cond = (j.ts < j.first_ts) if pre else (j.ts >= j.first_ts)
        j = j.filter(cond)
        agg = (j.session_id.nunique() if what == "sessions" else j.count()).name("v")
    elif name == "orders.total":
        o = store.table("orders")
        o = o.filter(o.kind.isnull() | (o.kind == "sale"))
        j = firsts.join(o, firsts.user_id == o.user_id)
        j = j.filter((j.ts < j.first_ts) if pre else (j.ts >= j.first_ts))
        agg = j.total.sum().name("v")
    else:
        raise DataError(
            f"unknown metric source {source!r}; expected an exposures column "
            f"({', '.join(OUTCOME_COLUMNS)}), attributes.<key>, users.<key>, events.<type>, "
            "events.sessions, orders.total, or one of these with a 'pre.' prefix")
    frame = store.execute(j.group_by("user_id").aggregate(agg))
    vals = frame.set_index("user_id")["v"].astype(float)
    return units.user_id.map(vals).where(units.user_id.notna()).fillna(0.0)


def load_units(store: Store, key: str, sources: Iterable[str]) -> pd.DataFrame:
    """One row per unit of experiment ``key``: ``unit``, ``user_id``, ``arm``, ``first_ts``
    and one column per source (see the module docstring)."""
    sources = list(dict.fromkeys(sources))
    exp = store.table("exposures")
    exp = exp.filter(exp.campaign_id == key)
    direct = [s for s in sources if s in OUTCOME_COLUMNS]
    attr_keys = [s for s in sources if s.startswith("attributes.")]
    cols = ["exposure_id", "user_id", "arm", "ts", *direct] + (
        ["attributes"] if attr_keys else [])
    raw = store.execute(exp.select(*cols))
    if raw.empty:
        raise NotFoundError(f"experiment {key!r} has no exposures in the store")
    for s in attr_keys:
        raw[s] = _numeric(_json_values(raw["attributes"], s.removeprefix("attributes.")), s)
    raw["unit"] = raw.user_id.where(raw.user_id.notna(), "exposure:" + raw.exposure_id)
    value_cols = [*direct, *attr_keys]
    if raw.unit.is_unique:
        units = raw[["unit", "user_id", "arm", "ts", *value_cols]].rename(
            columns={"ts": "first_ts"}).reset_index(drop=True)
        mixed = 0
    else:  # several exposures per user: first arm, earliest time, summed outcomes
        raw = raw.sort_values("ts", kind="stable")
        g = raw.groupby("unit", sort=False)
        units = g[["user_id", "arm"]].first().join(g.ts.min().rename("first_ts"))
        if value_cols:
            units = units.join(g[value_cols].sum(min_count=1))
        units = units.reset_index()
        mixed = int((g.arm.nunique() > 1).sum())
    units.attrs["mixed_units"] = mixed
    for s in sources:
        if s not in units.columns:
            units[s] = _numeric(_store_source(store, key, units, s), s)
    return units


# -- analysis --------------------------------------------------------------------------------
def _is_binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def _compare(metric: Metric, t: pd.DataFrame, c: pd.DataFrame, alpha: float,
             notes: list[str], variant: str) -> tuple[TestResult, TestResult | None,
                                                        float | None, float | None]:
    num = metric.numerator
    if metric.denominator is not None or metric.kind == "ratio":
        if metric.denominator is None:
            raise DataError(f"ratio metric {metric.name!r} needs a denominator")
        cols = [num, metric.denominator]
        tt, cc = t[cols].dropna(), c[cols].dropna()
        return ratio_test(tt[num], tt[metric.denominator], cc[num], cc[metric.denominator],
                          alpha), None, None, None
    cols = [num] + ([metric.covariate] if metric.covariate else [])
    tt, cc = t[cols].dropna(), c[cols].dropna()
    dropped = len(t) + len(c) - len(tt) - len(cc)
    if dropped:
        notes.append(f"{metric.name} ({variant}): {dropped:,} units without a value left out")
    yt, yc = tt[num].to_numpy(float), cc[num].to_numpy(float)
    kind = metric.kind or ("proportion" if _is_binary(np.r_[yt, yc]) else "mean")
    if kind == "proportion":
        raw = proportion_test(int(yt.sum()), yt.size, int(yc.sum()), yc.size, alpha)
    else:
        raw = welch_test(yt, yc, alpha)
    if metric.covariate:
        cup = cuped_test(yt, tt[metric.covariate], yc, cc[metric.covariate], alpha)
        return cup.result, raw, cup.theta, cup.variance_reduction
    return raw, None, None, None


def analyze_units(units: pd.DataFrame, metrics: Sequence[Metric], *, key: str = "experiment",
                  control: str, weights: dict[str, float] | None = None, alpha: float = 0.05,
                  srm_alpha: float = 0.001, t_star: float = DEFAULT_T_STAR,
                  notes: list[str] | None = None) -> ExperimentReport:
    """The report from a frame of units (column ``arm`` plus one column per metric source)."""
    notes = list(notes or [])
    if "arm" not in units.columns:
        raise DataError("units need an 'arm' column")
    counts = units.arm.value_counts().to_dict()
    if control not in counts:
        raise DataError(
            f"experiment {key!r}: control arm {control!r} has no units; arms seen: "
            f"{sorted(counts)}")
    designed = dict(weights) if weights else {a: 1.0 for a in counts}
    for arm in counts:
        designed.setdefault(arm, 0.0)
    unexpected = [a for a, w in designed.items() if w == 0]
    if unexpected:
        notes.append(f"arms without a designed weight: {unexpected} (left out of the SRM test)")
    srm_obs = {a: int(counts.get(a, 0)) for a, w in designed.items() if w > 0}
    srm = srm_test(srm_obs, {a: w for a, w in designed.items() if w > 0}, srm_alpha)
    variants = [a for a in designed if a != control and counts.get(a, 0) > 0]
    c = units[units.arm == control]
    comps: list[MetricComparison] = []
    for metric in metrics:
        for v in variants:
            t = units[units.arm == v]
            res, raw, theta, vr = _compare(metric, t, c, alpha, notes, v)
            n = res.n_t + res.n_c
            lo, hi = confidence_sequence(res.diff, res.se, n, alpha, t_star)
            p_av = always_valid_p(res.diff, res.se, n, alpha, t_star)
            seq = SequentialResult(n, res.diff, res.se, float(lo), float(hi), float(p_av),
                                   alpha, float(t_star))
            comps.append(MetricComparison(metric, v, control, res, seq, raw, theta, vr))
    primary = [i for i, cm in enumerate(comps) if not cm.metric.guardrail]
    if primary:
        _, q = benjamini_hochberg([comps[i].result.p_value for i in primary], alpha)
        for i, qv in zip(primary, q, strict=True):
            cm = comps[i]
            comps[i] = MetricComparison(cm.metric, cm.variant, cm.control, cm.result,
                                        cm.sequential, cm.raw, cm.theta, cm.variance_reduction,
                                        float(qv))
    return ExperimentReport(key, control, variants, {a: int(counts.get(a, 0)) for a in designed},
                            srm, comps, alpha, float(t_star), notes)


def _experiment(store: Store, key: str) -> Experiment | None:
    try:
        return load_experiment(store, key)
    except NotFoundError:
        return None


def analyze(store: Store, key: str, metrics: Sequence[str | Metric] | None = None, *,
            guardrails: Sequence[str | Metric] = (), covariate: str | None = None,
            control: str | None = None, alpha: float = 0.05, srm_alpha: float = 0.001,
            t_star: float | None = None) -> ExperimentReport:
    """Analyse experiment ``key`` from the store (``storemind experiment analyze KEY``).

    Parameters
    ----------
    store : Store
    key : str
        The experiment (``campaign_id`` of its exposures).
    metrics : list of str or Metric, optional
        Primary metrics; default: every outcome column of ``exposures`` with values.
    guardrails : list of str or Metric
        Metrics that must not get worse (checked, not counted in Benjamini-Hochberg).
    covariate : str, optional
        CUPED covariate source for every non-ratio metric (e.g. ``"users.history"``).
    control : str, optional
        Control arm; default: the experiment's control from ``campaigns``.
    alpha, srm_alpha : float
        Test level; sample-ratio-mismatch level (0.001).
    t_star : float, optional
        Units where the confidence sequence is tightest; default the experiment's
        ``planned_units``, else 10,000.
    """
    exp = _experiment(store, key)
    notes: list[str] = []
    ex = store.table("exposures")
    if exp is None and int(store.execute(ex.filter(ex.campaign_id == key).count())) == 0:
        known = store.execute(ex.select("campaign_id").distinct().limit(20)).campaign_id.tolist()
        raise NotFoundError(f"no experiment {key!r}: it has no exposures; known keys: {known}")
    if metrics is None:
        e = store.table("exposures")
        e = e.filter(e.campaign_id == key)
        present = store.execute(e.aggregate(**{c: e[c].count() for c in OUTCOME_COLUMNS}))
        metrics = [c for c in OUTCOME_COLUMNS if int(present[c].iloc[0]) > 0]
        if not metrics:
            raise DataError(
                f"experiment {key!r}: no outcome column ({', '.join(OUTCOME_COLUMNS)}) has "
                "values; name the metrics (e.g. metrics=['events.purchase'])")
    specs = [Metric.parse(m, covariate=covariate) for m in metrics]
    specs += [Metric.parse(g, guardrail=True) if not isinstance(g, Metric) else g
              for g in guardrails]
    sources: list[str] = []
    for m in specs:
        sources += [s for s in (m.numerator, m.denominator, m.covariate) if s]
    units = load_units(store, key, sources)
    if units.attrs.get("mixed_units"):
        notes.append(f"{units.attrs['mixed_units']:,} users were exposed to more than one arm; "
                     "each is counted in its first arm")
    if exp is None:
        notes.append(f"experiment {key!r} is not in campaigns: equal weights assumed")
    control = control or (exp.control_variant if exp and (exp.control or len(exp.variants) == 2)
                          else None)
    if control is None:
        arms = sorted(units.arm.unique())
        control = next((a for a in arms if a.lower() in ("control", "no e-mail")), arms[0])
        notes.append(f"control arm not specified; using {control!r}")
    weights = exp.weights if exp else None
    t_star = t_star or (exp.planned_units if exp and exp.planned_units else DEFAULT_T_STAR)
    return analyze_units(units, specs, key=key, control=control, weights=weights, alpha=alpha,
                         srm_alpha=srm_alpha, t_star=t_star, notes=notes)


def watch(store: Store, key: str, metric: str, *, variant: str | None = None,
          control: str | None = None, freq: str = "D", alpha: float = 0.05,
          t_star: float | None = None) -> pd.DataFrame:
    """The always-valid confidence sequence of ``metric`` at each ``freq`` (daily) look.

    Each look uses all units first exposed up to its end (Welch on the cumulative data).
    Returns columns ``look``, ``n``, ``diff``, ``se``, ``ci_low``, ``ci_high`` (the naive
    fixed-horizon interval, invalid under peeking), ``cs_low``, ``cs_high`` (running
    intersection), ``p_value`` (always valid) and ``significant``.
    """
    exp = _experiment(store, key)
    m = Metric.parse(metric)
    if m.denominator:
        raise DataError("watch() supports mean and proportion metrics, not ratios")
    units = load_units(store, key, [m.numerator]).dropna(subset=[m.numerator, "first_ts"])
    control = control or (exp.control_variant if exp else None)
    if control is None:
        raise DataError(f"experiment {key!r} is not in campaigns: pass control=")
    arms = [a for a in units.arm.unique() if a != control]
    variant = variant or (arms[0] if arms else None)
    if variant is None or control not in set(units.arm):
        raise DataError(f"experiment {key!r}: need units in control {control!r} and a variant")
    units = units[units.arm.isin([control, variant])].sort_values("first_ts")
    units["look"] = units.first_ts.dt.to_period(freq).dt.end_time.dt.floor("s")
    rows = []
    for look in sorted(units.look.unique()):
        upto = units[units.look <= look]
        y_t = upto.loc[upto.arm == variant, m.numerator].to_numpy(float)
        y_c = upto.loc[upto.arm == control, m.numerator].to_numpy(float)
        if y_t.size < 2 or y_c.size < 2:
            continue
        w = welch_from_stats(y_t.mean(), y_t.var(ddof=1), y_t.size, y_c.mean(),
                             y_c.var(ddof=1), y_c.size, alpha)
        rows.append({"look": look, "n": y_t.size + y_c.size, "diff": float(w["diff"]),
                     "se": float(w["se"]), "ci_low": float(w["ci_low"]),
                     "ci_high": float(w["ci_high"])})
    if not rows:
        raise DataError(f"experiment {key!r}: too few units with a timestamp to watch")
    t_star = t_star or (exp.planned_units if exp and exp.planned_units else DEFAULT_T_STAR)
    return sequential_path(pd.DataFrame(rows), alpha, t_star)
