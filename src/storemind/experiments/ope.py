"""Off-policy evaluation: what would a new policy's click rate be, from logs of an old one?

Logged rounds ``i = 1..n`` hold the context, the shown action ``a_i`` (e.g. item at a slot),
the reward ``r_i`` (click) and the logging policy's probability ``p_i`` of that action.
``w_i = pi_e(a_i | x_i) / p_i`` is the importance weight of the evaluation policy ``pi_e``.

- IPS: ``V = mean(w_i r_i)``.
- Self-normalised IPS: ``V = sum(w_i r_i) / sum(w_i)``.
- Doubly robust (Dudik, Langford and Li 2011): with a reward model ``q(x, a)``,
  ``V = mean( sum_a pi_e(a|x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)) )``.

Standard errors: the sample standard deviation of the per-round terms over ``sqrt(n)`` (for
SNIPS, of ``w_i (r_i - V) / mean(w)``, its linearisation); intervals are normal.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from storemind.errors import DataError

__all__ = ["OPEResult", "ips", "snips", "doubly_robust", "item_position_ctr_model",
           "empirical_policy"]


@dataclass(frozen=True)
class OPEResult:
    """An off-policy estimate of the evaluation policy's mean reward per round."""

    method: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    mean_weight: float
    max_weight: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _inputs(reward, pscore, target_prob, clip: float | None):
    r = np.asarray(reward, dtype=float).ravel()
    p = np.asarray(pscore, dtype=float).ravel()
    pe = np.asarray(target_prob, dtype=float).ravel()
    if not (r.size == p.size == pe.size) or r.size == 0:
        raise DataError(
            f"reward, pscore and target_prob need one value per logged round (and at least one "
            f"round); received {r.size}, {p.size} and {pe.size}"
        )
    for name, arr in (("reward", r), ("pscore", p), ("target_prob", pe)):
        if not np.isfinite(arr).all():
            raise DataError(f"{name}: expected finite numbers, received missing/infinite values")
    if (p <= 0).any() or (p > 1).any():
        i = int(np.flatnonzero((p <= 0) | (p > 1))[0])
        raise DataError(
            f"pscore: the logging policy's probability must be in (0, 1]; round {i} has {p[i]}"
        )
    if (pe < 0).any() or (pe > 1).any():
        raise DataError("target_prob: the evaluation policy's probabilities must be in [0, 1]")
    w = pe / p
    if clip is not None:
        w = np.minimum(w, clip)
    return r, w


def _result(method: str, terms: np.ndarray, estimate: float, w: np.ndarray,
            alpha: float) -> OPEResult:
    n = terms.size
    se = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    q = stats.norm.ppf(1 - alpha / 2)
    return OPEResult(method, float(estimate), se, float(estimate - q * se),
                     float(estimate + q * se), int(n), float(w.mean()), float(w.max()))


def ips(reward, pscore, target_prob, *, clip: float | None = None,
        alpha: float = 0.05) -> OPEResult:
    """Inverse propensity scoring.

    Parameters
    ----------
    reward : array-like
        Reward of each logged round (e.g. click 0/1).
    pscore : array-like
        The logging policy's probability of the logged action.
    target_prob : array-like
        The evaluation policy's probability of the same action in the same context.
    clip : float, optional
        Cap the importance weights (adds bias, removes variance).
    """
    r, w = _inputs(reward, pscore, target_prob, clip)
    terms = w * r
    return _result("ips", terms, terms.mean(), w, alpha)


def snips(reward, pscore, target_prob, *, clip: float | None = None,
          alpha: float = 0.05) -> OPEResult:
    """Self-normalised IPS: the weighted mean of rewards with the importance weights."""
    r, w = _inputs(reward, pscore, target_prob, clip)
    if w.sum() <= 0:
        raise DataError("SNIPS: the evaluation policy gives probability 0 to every logged action")
    est = float((w * r).sum() / w.sum())
    terms = w * (r - est) / w.mean() + est
    return _result("snips", terms, est, w, alpha)


def doubly_robust(reward, pscore, target_prob, q_logged, q_target, *,
                  clip: float | None = None, alpha: float = 0.05) -> OPEResult:
    """Doubly robust estimate.

    Parameters
    ----------
    q_logged : array-like
        The reward model's prediction for the logged action, ``q(x_i, a_i)``.
    q_target : array-like
        The reward model's expected reward under the evaluation policy in the same context,
        ``sum_a pi_e(a | x_i) q(x_i, a)``.
    """
    r, w = _inputs(reward, pscore, target_prob, clip)
    ql = np.asarray(q_logged, dtype=float).ravel()
    qt = np.asarray(q_target, dtype=float).ravel()
    if ql.size != r.size or qt.size != r.size:
        raise DataError(
            f"q_logged and q_target need one value per round ({r.size}); received {ql.size} "
            f"and {qt.size}"
        )
    terms = qt + w * (r - ql)
    return _result("dr", terms, terms.mean(), w, alpha)


def item_position_ctr_model(items, positions, rewards, *, prior_strength: float = 20.0):
    """A simple reward model: the click rate of each (item, position), shrunk towards the
    position's rate with a Beta prior worth ``prior_strength`` rounds.

    Returns
    -------
    callable
        ``q(items, positions) -> ndarray`` of predicted rewards (unseen pairs get the
        position's rate; unseen positions the overall rate).
    """
    items = np.asarray(items).ravel()
    positions = np.asarray(positions).ravel()
    r = np.asarray(rewards, dtype=float).ravel()
    if not (items.size == positions.size == r.size) or r.size == 0:
        raise DataError("items, positions and rewards need one value per round")
    overall = float(r.mean())
    pos_rate: dict[Any, float] = {}
    for k in np.unique(positions):
        m = positions == k
        pos_rate[k] = float((r[m].sum() + prior_strength * overall) / (m.sum() + prior_strength))
    table: dict[tuple[Any, Any], float] = {}
    keys = list(zip(items.tolist(), positions.tolist(), strict=True))
    sums: dict[tuple[Any, Any], list[float]] = {}
    for key, y in zip(keys, r.tolist(), strict=True):
        s = sums.setdefault(key, [0.0, 0.0])
        s[0] += y
        s[1] += 1
    for (a, k), (s, c) in sums.items():
        base = pos_rate[k]
        table[(a, k)] = (s + prior_strength * base) / (c + prior_strength)

    def q(query_items, query_positions) -> np.ndarray:
        qi = np.asarray(query_items).ravel().tolist()
        qp = np.asarray(query_positions).ravel().tolist()
        return np.array([
            table.get((a, k), pos_rate.get(k, overall)) for a, k in zip(qi, qp, strict=True)
        ])

    return q


def empirical_policy(items, positions, *, n_items: int | None = None, smoothing: float = 0.0):
    """A context-free policy estimated from its own logs: ``P(item | position)`` as the share
    of the position's rounds that showed the item (``smoothing`` adds pseudo-counts).

    Returns
    -------
    prob : callable
        ``prob(items, positions) -> ndarray`` of probabilities.
    support : dict
        position -> {item: probability}.
    """
    items = np.asarray(items).ravel()
    positions = np.asarray(positions).ravel()
    if items.size != positions.size or items.size == 0:
        raise DataError("items and positions need one value per logged round")
    universe = np.unique(items)
    k = max(n_items or 0, universe.size)
    support: dict[Any, dict[Any, float]] = {}
    for pos in np.unique(positions):
        shown, counts = np.unique(items[positions == pos], return_counts=True)
        total = counts.sum() + smoothing * k
        probs = {a: smoothing / total for a in universe}
        probs.update({a: (c + smoothing) / total for a, c in zip(shown.tolist(),
                                                                 counts.tolist(), strict=True)})
        support[pos] = probs

    def prob(query_items, query_positions) -> np.ndarray:
        qi = np.asarray(query_items).ravel().tolist()
        qp = np.asarray(query_positions).ravel().tolist()
        return np.array([support.get(p, {}).get(a, 0.0) for a, p in zip(qi, qp, strict=True)])

    return prob, support
