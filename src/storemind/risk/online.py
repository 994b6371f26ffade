"""Live risk state for the server: the current model, the live feature state, hot-reloaded
rules, the decision log, analyst labels and the alert queue.

Decisions and labels are kept in memory and appended to JSON-lines files under
``STOREMIND_HOME/risk/`` (``decisions.jsonl``, ``labels.jsonl``), reread at start-up. Each scored
payment is also appended to the store's ``payments`` table (in batches, off the request path)
with its decision in ``attributes["risk"]``, so the next training replays it.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from storemind.errors import DataError, NotFoundError, UnknownIdError
from storemind.risk._features import FeatureState, payment_records, replay
from storemind.risk.rules import DEFAULT_RULES_YAML, RuleSet
from storemind.risk.scorer import Decision, RiskScorer

__all__ = ["LiveRisk", "LABELS", "ensure_rules_file"]

#: analyst outcomes and the fraud label each one means
LABELS = {"fraud": 1, "chargeback": 1, "legitimate": 0}
_PAYMENT_FIELDS = ("payment_id", "order_id", "user_id", "ts", "amount", "currency", "method",
                   "card_id", "device_id", "ip", "country")
_USER_FIELDS = ("signup_ts", "user_country", "user_source")


def ensure_rules_file(home: Path) -> Path:
    """``home/risk/rules.yaml``, written with the default rules when absent."""
    path = Path(home) / "risk" / "rules.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DEFAULT_RULES_YAML, encoding="utf-8")
    return path


def payment_id_from_content(payment: dict[str, Any]) -> str:
    """A stable id for a payment sent without one: ``p-`` and a hash of its fields."""
    import hashlib

    text = json.dumps({k: str(v) for k, v in sorted(payment.items())
                       if v is not None and k != "payment_id"}, sort_keys=True)
    return "p-" + hashlib.sha1(text.encode()).hexdigest()[:24]


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


class LiveRisk:
    """Scores payments one at a time against the live state.

    Parameters
    ----------
    store : Store
    registry : Registry
    home : Path
        ``STOREMIND_HOME``; files go to ``home/risk/``.
    reload_every : float
        Seconds between checks of the rules file's modification time (0 = every request).
    flush_rows : int
        Scored payments buffered before they are appended to the store.
    """

    def __init__(self, store: Any, registry: Any, home: str | Path, *,
                 reload_every: float = 1.0, flush_rows: int = 200) -> None:
        self.store = store
        self.registry = registry
        self.dir = Path(home) / "risk"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rules_path = ensure_rules_file(Path(home))
        self.reload_every = reload_every
        self.flush_rows = flush_rows
        self.lock = threading.RLock()
        self.scorer: RiskScorer | None = None
        self.state: FeatureState | None = None
        self.users: dict[str, dict[str, Any]] = {}
        self.rules: RuleSet | None = None
        self.rules_error: str | None = None
        self._rules_mtime: float | None = None
        self._rules_checked = 0.0
        self.decisions: dict[str, dict[str, Any]] = {}
        self.labels: dict[str, dict[str, Any]] = {}
        self.pending: list[dict[str, Any]] = []
        self._files: dict[str, Any] = {}
        self._version_checked = -1.0
        self._last_flush = time.monotonic()
        self._read_logs()

    # -- loading -------------------------------------------------------------------------
    def _read_logs(self) -> None:
        for name, target in (("decisions.jsonl", self.decisions), ("labels.jsonl", self.labels)):
            path = self.dir / name
            if path.exists():
                for line in path.read_text(encoding="utf-8").splitlines():
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    target[str(row["payment_id"])] = row

    def _append(self, name: str, row: dict[str, Any]) -> None:
        fh = self._files.get(name)
        if fh is None:
            fh = self._files[name] = open(self.dir / name, "a", encoding="utf-8",  # noqa: SIM115
                                          buffering=1)
        fh.write(json.dumps(row, default=str) + "\n")  # line-buffered: on disk per decision

    def close(self) -> None:
        """Flush buffered payments to the store and close the log files."""
        self.flush()
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def ensure_model(self) -> RiskScorer:
        """The current registered model, (re)loaded when the registry's version changed; the
        feature state is rebuilt from the store's payments on first load."""
        now = time.monotonic()
        if self.scorer is not None and now - self._version_checked < self.reload_every:
            return self.scorer
        self._version_checked = now
        version = self.registry.current_version("risk")
        if version is None:
            raise NotFoundError("no risk model is trained yet; run `storemind train risk`")
        if self.scorer is not None and self.scorer.version == version:
            return self.scorer
        with self.lock:
            if self.scorer is not None and self.scorer.version == version:
                return self.scorer
            mv = self.registry.get("risk", version)
            scorer = RiskScorer.load(mv.path / "scorer", version=version)
            if self.state is None or self.state.attribute_fields != tuple(scorer.attribute_fields):
                self.state = self._build_state(scorer.attribute_fields)
            self.scorer = scorer
            self.rules = None  # re-validate the rules against this model's features
            self._rules_mtime = None
        return scorer

    def _build_state(self, attribute_fields: list[str]) -> FeatureState:
        self.flush()
        state = FeatureState(attribute_fields)
        users = self.store.execute(self.store.table("users").select(
            "user_id", "signup_ts", user_country="country", user_source="source"))
        self.users = {str(r["user_id"]): {k: (None if _missing(r[k]) else r[k])
                                          for k in _USER_FIELDS}
                      for r in users.to_dict("records")}
        try:
            records = payment_records(self.store)
        except DataError:
            return state
        replay(records, state)
        return state

    def current_rules(self) -> RuleSet:
        """The rules file, reparsed when its modification time changed (checked at most every
        ``reload_every`` seconds). A broken edit keeps the last good rules and is reported in
        :attr:`rules_error`."""
        scorer = self.ensure_model()
        now = time.monotonic()
        if self.rules is not None and now - self._rules_checked < self.reload_every:
            return self.rules
        self._rules_checked = now
        try:
            mtime = self.rules_path.stat().st_mtime_ns
        except FileNotFoundError:
            ensure_rules_file(self.dir.parent)
            mtime = self.rules_path.stat().st_mtime_ns
        if self.rules is None or mtime != self._rules_mtime:
            try:
                self.rules = RuleSet.from_file(self.rules_path, scorer.names)
                self.rules_error = None
            except DataError as exc:
                self.rules_error = str(exc)
                if self.rules is None:
                    raise
            self._rules_mtime = mtime
        return self.rules

    # -- scoring -------------------------------------------------------------------------
    def _user(self, user_id: str | None) -> dict[str, Any]:
        if user_id is None:
            return {}
        if user_id not in self.users:
            u = self.store.table("users")
            rows = self.store.execute(u.filter(u.user_id == user_id).select(
                "signup_ts", user_country="country", user_source="source").limit(1))
            self.users[user_id] = ({k: (None if _missing(v) else v)
                                    for k, v in rows.iloc[0].to_dict().items()}
                                   if len(rows) else {})
        return self.users[user_id]

    def score(self, payment: dict[str, Any]) -> dict[str, Any]:
        """Decide on one payment (a dict of ``payments`` columns, optionally with
        ``shipping_address``, basket fields and customer fields); the decision as a dict.
        Scoring the same ``payment_id`` again returns the first decision; a payment without
        one gets an id from its content, so a retried request does too."""
        pid = str(payment.get("payment_id") or "")
        if not pid:
            pid = payment_id_from_content(payment)
            payment = {**payment, "payment_id": pid}
        if pid in self.decisions:
            return self.decisions[pid]
        scorer = self.ensure_model()
        rules = self.current_rules()
        with self.lock:
            if pid in self.decisions:
                return self.decisions[pid]
            user = self._user(None if payment.get("user_id") is None
                              else str(payment["user_id"]))
            p = {**{k: v for k, v in user.items()},
                 **{k: v for k, v in payment.items() if v is not None}}
            if self.state is None:
                raise NotFoundError("the risk feature state is not built; no model loaded")
            features = self.state.step(p)
            decision: Decision = scorer.decide(features, rules, payment_id=pid)
            row = {**decision.to_dict(), "ts": str(pd.Timestamp(p["ts"])),
                   "amount": payment.get("amount"), "user_id": payment.get("user_id"),
                   "decided_at": _now(), "features": features}
            self.decisions[pid] = row
            self._append("decisions.jsonl", row)
            self.pending.append(self._payment_row(payment, decision))
        return row

    def _payment_row(self, payment: dict[str, Any], d: Decision) -> dict[str, Any]:
        out = {k: payment.get(k) for k in _PAYMENT_FIELDS}
        attrs = payment.get("attributes") or {}
        if isinstance(attrs, str):
            try:
                attrs = json.loads(attrs)
            except ValueError:
                attrs = {"raw": attrs}
        out["attributes"] = json.dumps({**attrs, "risk": {
            "action": d.action, "score": d.score, "reasons": d.reasons,
            "model_version": d.model_version, "rules_version": d.rules_version}})
        return out

    def flush_due(self) -> bool:
        return bool(self.pending) and (len(self.pending) >= self.flush_rows
                                       or time.monotonic() - self._last_flush > 2.0)

    def flush(self) -> int:
        """Append the buffered scored payments to the store's ``payments`` table."""
        with self.lock:
            rows, self.pending = self.pending, []
            self._last_flush = time.monotonic()
        if rows:
            self.store.append("payments", rows, source_name="risk-api")
        return len(rows)

    # -- labels and alerts ---------------------------------------------------------------
    def label(self, payment_id: str, label: str, note: str = "") -> dict[str, Any]:
        """Record an outcome (``fraud``, ``chargeback`` or ``legitimate``) for retraining."""
        if label not in LABELS:
            raise DataError(f"label must be one of {sorted(LABELS)}; got {label!r}")
        if payment_id not in self.decisions:
            p = self.store.table("payments")
            known = int(self.store.execute(p.filter(p.payment_id == payment_id).count()))
            if not known and not any(r["payment_id"] == payment_id for r in self.pending):
                raise UnknownIdError(f"unknown payment {payment_id!r}: never scored and not "
                                     "in the payments table")
        row = {"payment_id": payment_id, "label": label, "is_fraud": LABELS[label],
               "note": note, "labelled_at": _now()}
        with self.lock:
            self.labels[payment_id] = row
            self._append("labels.jsonl", row)
        return row

    def alerts(self, limit: int = 100, include_labelled: bool = False) -> list[dict[str, Any]]:
        """Payments sent to review, highest score first, with their reasons and any label."""
        out = []
        for d in self.decisions.values():
            if d["action"] != "review":
                continue
            lab = self.labels.get(d["payment_id"])
            if lab is not None and not include_labelled:
                continue
            out.append({**d, "label": lab["label"] if lab else None})
        out.sort(key=lambda r: -r["score"])
        return out[:limit]

    def summary(self) -> dict[str, Any]:
        """Counts by action, rule hits, and precision/recall of labelled live decisions."""
        actions = Counter(d["action"] for d in self.decisions.values())
        hits = Counter(h["name"] for d in self.decisions.values() for h in d["rule_hits"])
        tp = fp = fn = 0
        for pid, lab in self.labels.items():
            d = self.decisions.get(pid)
            if d is None:
                continue
            flagged = d["action"] != "allow"
            tp += flagged and lab["is_fraud"] == 1
            fp += flagged and lab["is_fraud"] == 0
            fn += (not flagged) and lab["is_fraud"] == 1
        return {"decisions": len(self.decisions), "actions": dict(actions),
                "rule_hits": dict(hits), "labels": len(self.labels),
                "live_precision": tp / (tp + fp) if tp + fp else None,
                "live_recall": tp / (tp + fn) if tp + fn else None,
                "rules_version": self.rules.version if self.rules else None,
                "rules_error": self.rules_error}


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return isinstance(v, float) and math.isnan(v)
