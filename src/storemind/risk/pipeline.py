"""Train and evaluate the risk capability from the store.

``train`` replays every payment through the feature state, takes analyst labels from
``STOREMIND_HOME/risk/labels.jsonl`` over ``payments.is_fraud``, fits on the oldest
``1 - holdout_fraction`` of labelled payments and evaluates on the newest, picks the review
threshold from the review budget and the block threshold from a precision target on that
holdout, then refits on every labelled payment and registers the model with the holdout's
scores (for the dashboard) and the rules file it was checked against.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from storemind.errors import DataError
from storemind.evaluation import pr_auc, roc_auc
from storemind.risk._features import numeric_attribute_fields, payment_records, replay
from storemind.risk.online import ensure_rules_file
from storemind.risk.rules import RuleSet
from storemind.risk.scorer import RiskScorer, fit_scorer, review_threshold
from storemind.risk.thresholds import choose_threshold

__all__ = ["train", "evaluate", "labelled_features", "REVIEW_RATE", "BLOCK_PRECISION"]

REVIEW_RATE = 0.01
BLOCK_PRECISION = 0.95
NEVER = 2.0  # a probability threshold nothing reaches


def _home(settings: Any) -> Path:
    from storemind.config import get_settings

    return Path((settings or get_settings()).home)


def labelled_features(store: Any, settings: Any = None) -> tuple[pd.DataFrame, np.ndarray,
                                                                pd.DataFrame, list[str]]:
    """Features of every labelled payment in time order, their labels, the payment records
    and the numeric attribute fields used."""
    records = payment_records(store)
    labels_path = _home(settings) / "risk" / "labels.jsonl"
    if labels_path.exists():
        rows = [json.loads(line) for line in labels_path.read_text().splitlines() if line]
        latest = {str(r["payment_id"]): int(r["is_fraud"]) for r in rows}
        override = records["payment_id"].map(latest)
        records["is_fraud"] = override.where(override.notna(), records["is_fraud"])
    fields = numeric_attribute_fields(records["attributes"])
    F = replay(records, attribute_fields=fields, progress=len(records) > 50_000)
    y = records.set_index("payment_id").loc[F.index, "is_fraud"]
    keep = y.notna().to_numpy()
    if keep.sum() == 0:
        raise DataError("risk needs labelled payments (payments.is_fraud, or labels posted to "
                        "/v1/payments/{id}/label); none are labelled")
    return F[keep], y[keep].to_numpy(dtype=float), records, fields


def _holdout_metrics(y: np.ndarray, d: pd.DataFrame) -> dict[str, float]:
    p = d["score"].to_numpy()
    both = 0 < y.sum() < len(y)
    caught = (d["action"] != "allow").to_numpy()
    tp = float((caught & (y == 1)).sum())
    return {"holdout_rows": float(len(y)), "holdout_frauds": float(y.sum()),
            "holdout_roc_auc": roc_auc(y, p) if both else float("nan"),
            "holdout_pr_auc": pr_auc(y, p) if both else float("nan"),
            "holdout_review_rate": float((d["action"] == "review").mean()),
            "holdout_block_rate": float((d["action"] == "block").mean()),
            "holdout_precision": tp / caught.sum() if caught.any() else float("nan"),
            "holdout_recall": tp / y.sum() if y.sum() else float("nan")}


def evaluate(store: Any, settings: Any = None, *, holdout_fraction: float = 0.2,
             review_rate: float = REVIEW_RATE, block_precision: float = BLOCK_PRECISION,
             random_state: int = 0) -> dict[str, float]:
    """Fit on older payments, decide on the newest ``holdout_fraction`` with the rules file:
    ROC-AUC, PR-AUC, and review rate, block rate, precision and recall of the decisions
    (reviewed or blocked counts as caught) at the thresholds chosen for ``review_rate``."""
    F, y, _, fields = labelled_features(store, settings)
    rules_text = ensure_rules_file(_home(settings)).read_text(encoding="utf-8")
    metrics, _, _ = _split_fit(F, y, fields, rules_text, holdout_fraction, review_rate,
                               block_precision, random_state)
    return metrics


def _split_fit(F: pd.DataFrame, y: np.ndarray, fields: list[str], rules_text: str,
               holdout_fraction: float, review_rate: float, block_precision: float, seed: int
               ) -> tuple[dict[str, float], dict[str, float], pd.DataFrame]:
    if not 0 < holdout_fraction < 1:
        raise DataError(f"holdout_fraction must be in (0, 1); got {holdout_fraction}")
    cut = int(round(len(F) * (1 - holdout_fraction)))
    if y[:cut].sum() < 4 or (1 - y[:cut]).sum() < 4:
        raise DataError(f"risk needs at least 4 fraud and 4 legitimate labelled payments "
                        f"before the holdout; got {int(y[:cut].sum())} fraud of {cut}")
    scorer = fit_scorer(F.iloc[:cut], y[:cut], attribute_fields=fields, random_state=seed)
    rules = RuleSet.from_yaml(rules_text, scorer.names, source="rules.yaml")
    Xh, yh = F.iloc[cut:], y[cut:]
    first = scorer.decide_frame(Xh, rules)
    p = first["score"].to_numpy()
    review = min(review_threshold(p, first["rule_action"], review_rate), NEVER)
    block = choose_threshold(p, yh, precision=block_precision) if yh.sum() else np.inf
    block = NEVER if not np.isfinite(block) else max(block, review)
    scorer.thresholds = {"review": review, "block": block}
    d = scorer.decide_frame(Xh, rules)
    metrics = _holdout_metrics(yh, d)
    metrics.update(review_threshold=review, block_threshold=block)
    return metrics, dict(scorer.thresholds), d.assign(is_fraud=yh)


def train(store: Any, registry: Any, settings: Any = None, *, holdout_fraction: float = 0.2,
          review_rate: float = REVIEW_RATE, block_precision: float = BLOCK_PRECISION,
          random_state: int | None = None) -> Any:
    """Fit, evaluate and register the risk model; returns the new ``ModelVersion``."""
    seed = random_state if random_state is not None else int(getattr(settings, "seed", 0))
    t0 = time.perf_counter()
    F, y, records, fields = labelled_features(store, settings)
    rules_path = ensure_rules_file(_home(settings))
    metrics, thresholds, hold = _split_fit(F, y, fields, rules_path.read_text(encoding="utf-8"),
                                           holdout_fraction, review_rate, block_precision, seed)
    scorer = fit_scorer(F, y, attribute_fields=fields, thresholds=thresholds,
                        random_state=seed)
    rules = RuleSet.from_file(rules_path, scorer.names)
    env = {c: F.iloc[len(F) - len(hold):][c].to_numpy() for c in F.columns}
    env.update(score=hold["score"].to_numpy(), anomaly=hold["anomaly"].to_numpy())
    H = rules.hit_matrix(env, len(hold))
    for j, r in enumerate(rules.rules):
        metrics[f"rule_hits_{r.name}"] = float(H[:, j].sum())
    metrics.update({"rows": float(len(F)), "frauds": float(y.sum()),
                    "train_seconds": time.perf_counter() - t0})
    hold = hold.drop(columns=["rule_action"]).reset_index().merge(
        records[["payment_id", "ts", "amount"]], on="payment_id", how="left")

    def write(folder: Path) -> None:
        scorer.save(folder / "scorer")
        hold.to_parquet(folder / "holdout_scores.parquet", index=False)
        shutil.copyfile(rules_path, folder / "rules.yaml")

    params = {"review_rate": review_rate, "block_precision": block_precision,
              "holdout_fraction": holdout_fraction, "attribute_fields": fields,
              "features": scorer.gbm.features_, "random_state": seed,
              "best_iteration": scorer.gbm.best_iteration_, "rules_version": rules.version}
    return registry.register("risk", write, params=params, metrics=metrics,
                             data={"rows": int(len(records)), "labelled": int(len(F))})


def load_scorer(registry: Any, version: str | None = None) -> RiskScorer:
    """The registered risk model (current by default)."""
    mv = registry.get("risk", version)
    return RiskScorer.load(mv.path / "scorer", version=mv.version)
