"""Declarative risk rules: a versioned YAML file of conditions over payment features.

::

    version: 3
    rules:
      - name: card_testing_burst
        when: card_count_1h >= 5 and amount < 10
        action: block            # allow | review | block
        reason: CARD_TESTING
        description: many small payments on one card within the hour

A condition is a Python-like expression over feature names, ``score`` (the calibrated fraud
probability) and ``anomaly`` (the unsupervised detector's percentile, 0-1): comparisons
(``< <= > >= == !=``, ``in [...]``, ``not in [...]``), ``and`` / ``or`` / ``not``, ``+ - * /``,
numbers, strings, lists and ``missing(x)``. It is parsed once into a closure (no ``eval``) that
runs on one payment's values or on whole columns. A comparison with a missing value is false.

How actions combine: any ``block`` rule hit blocks; else any ``allow`` rule hit allows (a
whitelist overrides the model); else a ``review`` rule hit or a score above the review
threshold reviews, and a score above the block threshold blocks.
"""
from __future__ import annotations

import ast
import hashlib
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storemind.errors import DataError

__all__ = ["Rule", "RuleSet", "ACTIONS", "DEFAULT_RULES_YAML"]

ACTIONS = ("allow", "review", "block")

DEFAULT_RULES_YAML = """\
# storemind risk rules. Edit freely: the server reloads this file when it changes.
# Conditions use feature names (see docs/risk.md), score (fraud probability) and anomaly (0-1).
version: 1
rules:
  - name: card_testing_burst
    when: card_count_1h >= 5 and amount < 10
    action: block
    reason: CARD_TESTING
    description: five or more earlier payments on this card within the hour, and a tiny amount
  - name: device_velocity
    when: device_count_1h >= 8
    action: review
    reason: DEVICE_VELOCITY
    description: many payments from one device within the hour
  - name: new_account_high_value
    when: is_first_payment == 1 and hours_since_signup < 1 and amount_to_global_mean > 5
    action: review
    reason: NEW_ACCOUNT_HIGH_VALUE
    description: a first order five times the usual value within an hour of sign-up
  - name: account_takeover_signals
    when: new_device + new_ip + new_country + new_address >= 3 and amount_to_user_max > 2
    action: review
    reason: ACCOUNT_TAKEOVER_SIGNALS
    description: an old account pays much more than ever before from a new device, IP and place
  - name: shared_device
    when: device_users >= 5
    action: review
    reason: SHARED_DEVICE
    description: five or more accounts have used this device
  - name: unusual_payment
    when: anomaly >= 0.999
    action: review
    reason: UNUSUAL_PAYMENT
    description: rarer than 1 in 1000 payments on the unsupervised detector
"""

_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
          ast.Div: operator.truediv}
Env = Mapping[str, Any]


def _compile(node: ast.AST, names: set[str], where: str) -> Callable[[Env], Any]:
    """A closure computing ``node`` from an environment of scalars or numpy arrays."""
    if isinstance(node, ast.Expression):
        return _compile(node.body, names, where)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names, where) for v in node.values]
        fn = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

        def boolop(env: Env) -> Any:
            out = parts[0](env)
            for p in parts[1:]:
                out = fn(out, p(env))
            return out
        return boolop
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, names, where)
        return lambda env: np.logical_not(inner(env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _compile(node.operand, names, where)
        return lambda env: -inner(env)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        op = _ARITH[type(node.op)]
        a, b = _compile(node.left, names, where), _compile(node.right, names, where)

        def arith(env: Env) -> Any:
            with np.errstate(divide="ignore", invalid="ignore"):
                return op(np.asarray(a(env), dtype=float), np.asarray(b(env), dtype=float))
        return arith
    if isinstance(node, ast.Compare):
        left = _compile(node.left, names, where)
        steps = []
        for op, comp in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(comp, ast.List | ast.Tuple):
                    raise DataError(f"{where}: 'in' needs a literal list, e.g. x in ['a', 'b']")
                values = [_literal(e, where) for e in comp.elts]
                neg = isinstance(op, ast.NotIn)
                steps.append(("in", neg, values))
            elif type(op) in _CMP:
                steps.append(("cmp", _CMP[type(op)], _compile(comp, names, where)))
            else:
                raise DataError(f"{where}: unsupported comparison {type(op).__name__}")

        def compare(env: Env) -> Any:
            x = left(env)
            out: Any = True
            for kind, a, b in steps:
                if kind == "in":
                    hit = np.isin(np.asarray(x, dtype=object), b)
                    out = np.logical_and(out, np.logical_not(hit) if a else hit)
                else:
                    y = b(env)
                    out = np.logical_and(out, _safe_cmp(a, x, y))
                    x = y
            return out
        return compare
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id == "missing"
                and len(node.args) == 1 and not node.keywords):
            raise DataError(f"{where}: the only function is missing(feature)")
        inner = _compile(node.args[0], names, where)
        return lambda env: _isnull(inner(env))
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise DataError(f"{where}: unknown feature {node.id!r}; known: {sorted(names)}")
        key = node.id
        return lambda env: env[key]
    if isinstance(node, ast.Constant | ast.List | ast.Tuple):
        value = _literal(node, where)
        return lambda env: value
    raise DataError(f"{where}: unsupported expression {ast.dump(node)[:60]}")


def _literal(node: ast.AST, where: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise DataError(f"{where}: expected a number, string or list literal") from None
    if not isinstance(value, int | float | str | list | tuple) or isinstance(value, bool):
        raise DataError(f"{where}: expected a number, string or list; got {value!r}")
    return value


def _isnull(x: Any) -> Any:
    arr = np.asarray(x, dtype=object)
    out = np.vectorize(lambda v: v is None or (isinstance(v, float) and v != v),
                       otypes=[bool])(arr) if arr.ndim else (
        x is None or (isinstance(x, float) and x != x))
    return out


def _safe_cmp(op: Callable[[Any, Any], Any], x: Any, y: Any) -> Any:
    """``op(x, y)`` that is false (not an error) for missing values and mixed types."""
    xs, ys = isinstance(x, str) or x is None, isinstance(y, str) or y is None
    if np.ndim(x) == 0 and np.ndim(y) == 0:
        if x is None or y is None:
            return False
        if xs != ys and op not in (operator.eq, operator.ne):
            return False
        try:
            return bool(op(x, y))
        except TypeError:
            return False
    xa, ya = np.asarray(x), np.asarray(y)
    if xa.dtype.kind in "fiub" and ya.dtype.kind in "fiub":
        with np.errstate(invalid="ignore"):
            return op(xa.astype(float), ya.astype(float))
    xo, yo = np.broadcast_arrays(xa.astype(object), ya.astype(object))
    return np.array([_safe_cmp(op, a, b) for a, b in zip(xo.ravel(), yo.ravel(), strict=True)],
                    dtype=bool).reshape(xo.shape)


@dataclass(frozen=True)
class Rule:
    """One rule: a compiled condition, its action and reason code."""

    name: str
    when: str
    action: str
    reason: str
    description: str = ""
    test: Callable[[Env], Any] = field(repr=False, compare=False, default=lambda env: False)


@dataclass
class RuleSet:
    """A parsed, validated rules file.

    Attributes
    ----------
    rules : list of Rule
    version : str
        The file's ``version`` field.
    digest : str
        SHA-256 prefix of the file's text (changes with any edit).
    """

    rules: list[Rule]
    version: str = "0"
    digest: str = ""
    source: str = "<text>"

    @classmethod
    def from_yaml(cls, text: str, names: Iterable[str], source: str = "<text>") -> RuleSet:
        """Parse a rules document; every condition must only name ``names`` (plus ``score``
        and ``anomaly``). Raises :class:`DataError` naming the rule and problem."""
        import yaml

        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise DataError(f"{source}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rules", []), list):
            raise DataError(f"{source}: expected a mapping with 'version' and a list 'rules'")
        known = {*names, "score", "anomaly"}
        rules, seen = [], set()
        for i, item in enumerate(doc.get("rules") or []):
            where = f"{source}: rule {i + 1}"
            if not isinstance(item, dict):
                raise DataError(f"{where}: expected a mapping with name, when, action, reason")
            missing = [k for k in ("name", "when", "action", "reason") if not item.get(k)]
            if missing:
                raise DataError(f"{where}: missing {missing}")
            name = str(item["name"])
            where = f"{source}: rule {name!r}"
            if name in seen:
                raise DataError(f"{where}: duplicate rule name")
            seen.add(name)
            if item["action"] not in ACTIONS:
                raise DataError(f"{where}: action must be one of {ACTIONS}; "
                                f"got {item['action']!r}")
            try:
                tree = ast.parse(str(item["when"]), mode="eval")
            except SyntaxError as exc:
                raise DataError(f"{where}: cannot parse condition {item['when']!r}: "
                                f"{exc.msg}") from None
            rules.append(Rule(name, str(item["when"]), str(item["action"]),
                              str(item["reason"]), str(item.get("description", "")),
                              _compile(tree, known, where)))
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        return cls(rules, str(doc.get("version", "0")), digest, source)

    @classmethod
    def from_file(cls, path: str | Path, names: Iterable[str]) -> RuleSet:
        """Read and parse a rules file."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot read rules file {p}: {exc}") from None
        return cls.from_yaml(text, names, source=str(p))

    def hits(self, env: Env) -> list[Rule]:
        """The rules whose condition holds for one payment's values."""
        out = []
        for r in self.rules:
            try:
                ok = bool(np.all(r.test(env)))
            except (TypeError, ValueError):
                ok = False
            if ok:
                out.append(r)
        return out

    def hit_matrix(self, env: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Rule hits for many payments at once: bool array (n, rules)."""
        out = np.zeros((n, len(self.rules)), dtype=bool)
        for j, r in enumerate(self.rules):
            out[:, j] = np.broadcast_to(np.asarray(r.test(env), dtype=bool), (n,))
        return out
