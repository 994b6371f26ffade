"""The fitted risk model: features -> calibrated fraud probability, anomaly percentile, and a
decision with reasons under a rule set and two thresholds."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError, RegistryError
from storemind.risk._features import CATEGORICAL_FEATURES, feature_names
from storemind.risk.ecod import ECOD
from storemind.risk.gbm import FraudGBM
from storemind.risk.rules import RuleSet

__all__ = ["RiskScorer", "Decision", "fit_scorer", "combine_actions", "review_threshold"]

_SEVERITY = {"allow": 0, "review": 1, "block": 2}


@dataclass
class Decision:
    """What happens to one payment, and why."""

    payment_id: str
    score: float
    anomaly: float
    action: str
    reasons: list[str]
    rule_hits: list[dict[str, str]] = field(default_factory=list)
    top_features: list[dict[str, Any]] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None
    rules_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _DECISION_FIELDS}


_DECISION_FIELDS = tuple(Decision.__dataclass_fields__)


@dataclass
class RiskScorer:
    """A fitted fraud model with its feature layout and thresholds.

    Attributes
    ----------
    gbm : FraudGBM
        Supervised model (its inputs: the features plus ``anomaly`` when ``anomaly_input``).
    ecod : ECOD
        Unsupervised detector over the numeric features.
    attribute_fields : list of str
        Numeric payment attributes used as features.
    anomaly_grid : ndarray
        ECOD scores of the training payments at 1001 quantiles (0 .. 1), to turn a score into
        a percentile.
    thresholds : dict
        ``review`` and ``block`` probability thresholds.
    """

    gbm: FraudGBM
    ecod: ECOD
    attribute_fields: list[str]
    anomaly_grid: np.ndarray
    thresholds: dict[str, float]
    anomaly_input: bool = True
    version: str | None = None
    top_k: int = 3

    @property
    def names(self) -> list[str]:
        """Feature names rules may use (besides ``score`` and ``anomaly``)."""
        return feature_names(self.attribute_fields)

    # -- scoring -------------------------------------------------------------------------
    def _anomaly(self, A: np.ndarray) -> np.ndarray:
        s = self.ecod.score(A)
        return np.interp(s, self.anomaly_grid, _quantiles(self.anomaly_grid.size))

    def _numeric(self, rows: list[dict[str, Any]]) -> np.ndarray:
        cols = self.ecod.features_
        return np.array([[np.nan if r.get(c) is None else float(r[c]) for c in cols]
                         for r in rows], dtype=float).reshape(len(rows), len(cols))

    def score_frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """Fraud probability (``score``) and anomaly percentile of each row of a feature
        frame (as :func:`storemind.risk.replay` gives)."""
        anomaly = self._anomaly(self.ecod._matrix(X))
        Xa = X.assign(anomaly=anomaly) if self.anomaly_input else X
        p = self.gbm.predict_proba(Xa)
        return pd.DataFrame({"score": p, "anomaly": anomaly}, index=X.index)

    def decide(self, features: dict[str, Any], rules: RuleSet | None = None, *,
               payment_id: str = "") -> Decision:
        """Score one payment's features and decide allow / review / block with reasons."""
        anomaly = float(self._anomaly(self._numeric([features]))[0])
        row = {**features, "anomaly": anomaly} if self.anomaly_input else features
        A = self.gbm.matrix_from_dicts([row])
        score = float(self.gbm.predict_proba_matrix(A)[0])
        env = {**features, "score": score, "anomaly": anomaly}
        hits = rules.hits(env) if rules is not None else []
        action = "allow"
        if score >= self.thresholds.get("block", np.inf):
            action = "block"
        elif score >= self.thresholds.get("review", np.inf):
            action = "review"
        actions = {h.action for h in hits}
        if "block" in actions:
            action = "block"
        elif "allow" in actions:
            action = "allow"
        elif "review" in actions and action == "allow":
            action = "review"
        top = []
        if action != "allow" or self.top_k:
            contrib = self.gbm.contributions(A)[0]
            for j in np.argsort(-contrib)[: self.top_k]:
                if contrib[j] <= 0:
                    break
                name = self.gbm.features_[j]
                v = row.get(name)
                if not isinstance(v, str) and v is not None:  # NaN (unknown) is null in JSON
                    v = None if np.isnan(float(v)) else round(float(v), 4)
                top.append({"feature": name, "value": v,
                            "contribution": round(float(contrib[j]), 4)})
        reasons = [h.reason for h in hits]
        reasons += [f"{t['feature']}={_fmt(t['value'])}" for t in top]
        return Decision(
            payment_id=str(payment_id), score=round(score, 6), anomaly=round(anomaly, 6),
            action=action, reasons=reasons,
            rule_hits=[{"name": h.name, "action": h.action, "reason": h.reason} for h in hits],
            top_features=top, thresholds=dict(self.thresholds), model_version=self.version,
            rules_version=rules.version if rules is not None else None)

    def decide_frame(self, X: pd.DataFrame, rules: RuleSet | None = None) -> pd.DataFrame:
        """:meth:`decide` for many payments at once (no reasons): ``score``, ``anomaly``,
        ``action`` and the rule-only action ``rule_action`` per row of a feature frame."""
        out = self.score_frame(X)
        env = {c: X[c].to_numpy() for c in X.columns}
        env.update(score=out["score"].to_numpy(), anomaly=out["anomaly"].to_numpy())
        H = (rules.hit_matrix(env, len(X)) if rules is not None and rules.rules
             else np.zeros((len(X), 0), dtype=bool))
        acts = [r.action for r in rules.rules] if rules is not None else []
        rule_action = combine_actions(H, acts, np.full(len(X), "allow", dtype=object))
        model = np.where(out["score"] >= self.thresholds.get("block", np.inf), "block",
                         np.where(out["score"] >= self.thresholds.get("review", np.inf),
                                  "review", "allow")).astype(object)
        out["rule_action"] = rule_action
        out["action"] = combine_actions(H, acts, model)
        return out

    # -- persistence ---------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.gbm.save(out / "gbm")
        self.ecod.save(out / "ecod")
        spec = {"attribute_fields": list(self.attribute_fields),
                "anomaly_grid": [float(v) for v in self.anomaly_grid],
                "thresholds": {k: float(v) for k, v in self.thresholds.items()},
                "anomaly_input": self.anomaly_input, "top_k": self.top_k}
        (out / "scorer.json").write_text(json.dumps(spec, indent=1))
        return out

    @classmethod
    def load(cls, folder: str | Path, version: str | None = None) -> RiskScorer:
        p = Path(folder)
        try:
            spec = json.loads((p / "scorer.json").read_text())
        except FileNotFoundError:
            raise RegistryError(f"no risk model in {p} (scorer.json is missing)") from None
        return cls(gbm=FraudGBM.load(p / "gbm"), ecod=ECOD.load(p / "ecod"),
                   attribute_fields=list(spec["attribute_fields"]),
                   anomaly_grid=np.asarray(spec["anomaly_grid"], dtype=float),
                   thresholds={k: float(v) for k, v in spec["thresholds"].items()},
                   anomaly_input=bool(spec.get("anomaly_input", True)),
                   version=version, top_k=int(spec.get("top_k", 3)))


def combine_actions(hits: np.ndarray, actions: list[str], model: np.ndarray) -> np.ndarray:
    """Vectorised precedence: a block rule blocks, else an allow rule allows, else a review
    rule raises an ``allow`` from the model to ``review``; otherwise the model's action."""
    act = np.asarray(actions, dtype=object)
    out = np.asarray(model, dtype=object).copy()
    if hits.shape[1] == 0:
        return out
    review = hits[:, act == "review"].any(1)
    out[review & (out == "allow")] = "review"
    out[hits[:, act == "allow"].any(1)] = "allow"
    out[hits[:, act == "block"].any(1)] = "block"
    return out


def review_threshold(scores: Any, rule_action: Any, review_rate: float,
                     always_above: float | None = 0.5) -> float:
    """The model's review threshold for a budget of ``review_rate`` reviews among all payments,
    counting the reviews rules already send (payments that rules block or allow use none).

    A budget threshold chosen on one period lands among the frauds' scores when that period
    had more fraud than budget, and then misses frauds later; so payments whose calibrated
    fraud probability reaches ``always_above`` (more likely fraud than not) are reviewed even
    beyond the budget (``None`` = the budget strictly)."""
    s = np.asarray(scores, dtype=float)
    ra = np.asarray(rule_action, dtype=object)
    free = ra == "allow"
    budget = review_rate * s.size - float((ra == "review").sum())
    cap = 2.0 if always_above is None else float(always_above)
    if budget < 1 or not free.any():
        return cap  # rules alone spend the budget
    from storemind.risk.thresholds import choose_threshold

    return min(cap, choose_threshold(s[free], review_rate=min(1.0, budget / free.sum())))


@functools.lru_cache(maxsize=8)
def _quantiles(n: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n)


def _fmt(v: Any) -> str:
    if v is None:  # the payment did not have it (no IP, say): that can itself be the signal
        return "unknown"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def fit_scorer(X: pd.DataFrame, y: Any, *, attribute_fields: list[str] | None = None,
               anomaly_input: bool = True, thresholds: dict[str, float] | None = None,
               random_state: int | None = 0, **gbm_params: Any) -> RiskScorer:
    """Fit ECOD on the numeric features of ``X`` and a :class:`FraudGBM` on ``X`` (plus the
    anomaly percentile), returning a :class:`RiskScorer` (thresholds default to never)."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(f"features must be a pandas DataFrame; got {type(X).__name__}")
    numeric = [c for c in X.columns if c not in CATEGORICAL_FEATURES
               and pd.api.types.is_numeric_dtype(X[c])]
    ecod = ECOD().fit(X[numeric])
    grid = np.quantile(ecod.score(X[numeric]), np.linspace(0, 1, 1001))
    scorer = RiskScorer(gbm=FraudGBM(random_state=random_state, **gbm_params), ecod=ecod,
                        attribute_fields=list(attribute_fields or []), anomaly_grid=grid,
                        thresholds=dict(thresholds or {"review": np.inf, "block": np.inf}),
                        anomaly_input=anomaly_input)
    Xa = X.assign(anomaly=scorer._anomaly(ecod._matrix(X[numeric]))) if anomaly_input else X
    scorer.gbm.fit(Xa, y)
    return scorer
