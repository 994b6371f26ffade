"""Risk building blocks on tiny data with known answers: ECOD, FraudGBM, rules, thresholds,
and the feature state."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storemind.errors import DataError
from storemind.evaluation import roc_auc
from storemind.risk import (
    DEFAULT_RULES_YAML,
    ECOD,
    FeatureState,
    FraudGBM,
    RuleSet,
    choose_threshold,
    fit_scorer,
    precision_recall_at,
    replay,
)
from storemind.risk._features import BASE_FEATURES
from storemind.risk.forest import FOREST_KEYS, fit_forest, forest_proba


def test_ecod_matches_its_definition_and_flags_the_outlier() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    X[7] = [6.0, -6.0, 5.0]
    m = ECOD().fit(X)
    s = m.score(X)
    assert int(np.argmax(s)) == 7
    # by hand: -log tail probability per feature on the skewness side, summed; max of sides
    n = len(X)
    left = -np.log((X[:, None, :] >= X[None, :, :]).sum(1) / n)   # share <= x
    right = -np.log((X[:, None, :] <= X[None, :, :]).sum(1) / n)  # share >= x
    skew = ((X - X.mean(0)) ** 3).mean(0) / X.std(0) ** 3
    auto = np.where(skew < 0, left, right)
    want = np.maximum.reduce([left.sum(1), right.sum(1), auto.sum(1)])
    np.testing.assert_allclose(s, want, rtol=1e-12)


def test_ecod_missing_values_contribute_nothing() -> None:
    X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, np.nan], [4.0, 5.0]])
    m = ECOD().fit(X)
    t = m.tail_scores(np.array([[2.0, np.nan]]))
    assert t[0, 1] == 0.0 and t[0, 0] > 0


def _toy(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"velocity": rng.poisson(1, n).astype(float),
                      "amount": rng.lognormal(3, 1, n),
                      "method": rng.choice(["card", "paypal", "wallet"], n)})
    logit = -6 + 1.2 * X.velocity + 0.8 * (X.method == "card")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_fraudgbm_ranks_and_is_calibrated_and_explains() -> None:
    X, y = _toy()
    m = FraudGBM(random_state=0).fit(X, y)
    Xt, yt = _toy(seed=1)
    p = m.predict_proba(Xt)
    oracle = roc_auc(yt, 1.2 * Xt.velocity + 0.8 * (Xt.method == "card"))  # the true logit
    assert roc_auc(yt, p) > oracle - 0.03
    assert abs(p.mean() - yt.mean()) < 0.02  # class weights undone by calibration
    reasons = m.explain(Xt.iloc[[int(np.argmax(p))]])[0]
    assert reasons[0]["feature"] == "velocity" and reasons[0]["contribution"] > 0
    same = m.predict_proba_matrix(m.matrix_from_dicts(Xt.head(20).to_dict("records")))
    np.testing.assert_allclose(same, p[:20])


def test_flat_forest_answers_as_scikit_learn() -> None:
    from sklearn.ensemble import ExtraTreesClassifier

    rng = np.random.default_rng(3)
    A = rng.normal(size=(600, 4))
    y = (A[:, 0] + 0.5 * A[:, 1] ** 2 + rng.normal(0, 0.5, 600) > 1.2).astype(int)
    A[::7, 2] = np.nan  # missing values go below every threshold, in fitting and answering
    forest = fit_forest(A, y, n_trees=40, max_leaves=32, seed=5)
    dense = np.where(np.isnan(A), -np.finfo(np.float32).max, A)
    sk = ExtraTreesClassifier(40, max_leaf_nodes=32, random_state=5).fit(dense, y)
    # 600 rows walk one tree at a time, one row walks all trees at once: both as scikit-learn
    np.testing.assert_allclose(forest_proba(forest, A), sk.predict_proba(dense)[:, 1],
                               atol=1e-12)
    one = forest_proba(forest, A[:1])
    assert one.shape == (1,) and one[0] == pytest.approx(sk.predict_proba(dense[:1])[0, 1])
    assert (forest["rows"] == 600).all()  # under max_rows every tree sees every row
    capped = fit_forest(A, y, n_trees=10, max_rows=200, seed=5)
    assert (capped["rows"] <= 200).all() and (capped["rows"] > 100).all()  # bootstrap of 200


def test_fraudgbm_forest_stacks_and_survives_save(tmp_path) -> None:
    X, y = _toy()
    Xt, yt = _toy(seed=1)
    with_forest = FraudGBM(random_state=0).fit(X, y)
    alone = FraudGBM(random_state=0, forest=0).fit(X, y)
    assert with_forest.platt_.size == 3 and alone.platt_.size == 2
    p = with_forest.predict_proba(Xt)
    # by hand: the stacking regression over the boosting margin and the forest's logit
    m = with_forest
    forest = {k: getattr(m, f"forest_{k}_") for k in FOREST_KEYS}
    q = np.clip(forest_proba(forest, m._matrix(Xt)), 0.5 / 300, 1 - 0.5 / 300)
    z = m.platt_ @ np.vstack([m.raw_score(Xt), np.log(q / (1 - q)), np.ones(len(q))])
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-z)), rtol=1e-10)
    assert not np.allclose(p, alone.predict_proba(Xt))
    assert abs(p.mean() - yt.mean()) < 0.02
    back = FraudGBM.load(with_forest.save(tmp_path / "m"))
    np.testing.assert_allclose(back.predict_proba(Xt), p)
    holdout = FraudGBM(random_state=0, cv_folds=1).fit(X, y)  # forest on the holdout path
    assert holdout.platt_.size == 3 and roc_auc(yt, holdout.predict_proba(Xt)) > 0.7


def test_fraudgbm_bad_input() -> None:
    X, y = _toy(200)
    with pytest.raises(DataError, match="rows"):
        FraudGBM().fit(X, y[:10])
    with pytest.raises(DataError, match="at least 2 fraud"):
        FraudGBM().fit(X, np.zeros(200))
    with pytest.raises(DataError, match="pos_weight"):
        FraudGBM(pos_weight="lots").fit(X, np.r_[np.ones(20), np.zeros(180)])
    with pytest.raises(DataError, match="forest must be a whole number >= 0"):
        FraudGBM(forest=-5).fit(X, np.r_[np.ones(20), np.zeros(180)])
    with pytest.raises(DataError, match="forest_leaves"):
        FraudGBM(forest_leaves=1.5).fit(X, np.r_[np.ones(20), np.zeros(180)])


def test_rules_scalar_and_vector_agree() -> None:
    names = ["amount", "card_count_1h", "method", "x"]
    rs = RuleSet.from_yaml(
        "version: 2\nrules:\n"
        "  - {name: a, when: 'card_count_1h >= 5 and amount < 10', action: block, reason: A}\n"
        "  - {name: b, when: \"method in ['paypal'] or score > 0.9\", action: review, reason: B}\n"
        "  - {name: c, when: 'missing(x) and not amount > 100', action: allow, reason: C}\n"
        "  - {name: d, when: 'amount / card_count_1h > 3', action: review, reason: D}\n",
        names)
    assert rs.version == "2" and [r.name for r in rs.rules] == ["a", "b", "c", "d"]
    rows = [{"amount": 3.0, "card_count_1h": 6.0, "method": "card", "x": 1.0, "score": 0.1},
            {"amount": 50.0, "card_count_1h": 0.0, "method": "paypal", "x": None, "score": 0.2},
            {"amount": 500.0, "card_count_1h": float("nan"), "method": None, "x": float("nan"),
             "score": 0.95, "anomaly": 0.1}]
    scalar = [[r.name for r in rs.hits(row)] for row in rows]
    assert scalar == [["a"], ["b", "c", "d"], ["b"]]
    env = {k: np.array([r.get(k) for r in rows], dtype=object if k == "method" or k == "x"
                       else float) for k in ("amount", "card_count_1h", "method", "x", "score")}
    H = rs.hit_matrix(env, 3)
    assert [[r.name for r, h in zip(rs.rules, row, strict=True) if h] for row in H] == scalar


@pytest.mark.parametrize("text, message", [
    ("rules:\n  - {name: a, when: 'nosuch > 1', action: block, reason: A}", "unknown feature"),
    ("rules:\n  - {name: a, when: 'amount >', action: block, reason: A}", "cannot parse"),
    ("rules:\n  - {name: a, when: 'amount > 1', action: ban, reason: A}", "action"),
    ("rules:\n  - {name: a, when: '__import__(1)', action: block, reason: A}", "function"),
    ("rules:\n  - {name: a, when: 'amount > 1', action: block}", "missing"),
    ("rules: [", "YAML"),
])
def test_rules_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        RuleSet.from_yaml(text, ["amount"])


def test_default_rules_parse_against_the_features() -> None:
    rs = RuleSet.from_yaml(DEFAULT_RULES_YAML, BASE_FEATURES)
    assert {r.action for r in rs.rules} <= {"review", "block"} and len(rs.rules) >= 5


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=5, max_size=200), st.floats(0.01, 0.5))
def test_review_rate_threshold_respects_the_budget(scores: list[float], rate: float) -> None:
    t = choose_threshold(scores, review_rate=rate)
    s = np.asarray(scores)
    flagged = (s >= t).mean()
    top_group = (s == s.max()).mean()
    assert flagged <= rate + 1e-9 or flagged == top_group
    # lowering the threshold to the next score would break the budget
    below = s[s < t]
    if below.size and flagged <= rate:
        assert (s >= below.max()).mean() > rate


def test_precision_and_recall_targets() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    assert choose_threshold(s, y, precision=1.0) == 0.8
    assert choose_threshold(s, y, recall=1.0) == 0.6
    assert precision_recall_at(y, s, 0.6)["precision"] == 0.75
    assert math.isinf(choose_threshold(s, 1 - y, precision=1.0))
    with pytest.raises(DataError, match="exactly one"):
        choose_threshold(s, y)


def test_feature_state_windows_and_novelty() -> None:
    t0 = pd.Timestamp("2024-01-01 10:00")
    pays = pd.DataFrame([
        {"payment_id": "p1", "user_id": "u", "ts": t0, "amount": 10.0, "card_id": "c",
         "device_id": "d1", "ip": "1.1.1.1", "country": "FR", "signup_ts": t0 - pd.Timedelta("2h")},
        {"payment_id": "p2", "user_id": "u", "ts": t0 + pd.Timedelta("30min"), "amount": 20.0,
         "card_id": "c", "device_id": "d1", "ip": "1.1.1.1", "country": "FR"},
        {"payment_id": "p3", "user_id": "v", "ts": t0 + pd.Timedelta("2h"), "amount": 5.0,
         "card_id": "c", "device_id": "d1", "ip": "2.2.2.2", "country": "DE"},
        {"payment_id": "p4", "user_id": "u", "ts": t0 + pd.Timedelta("25h"), "amount": 90.0,
         "card_id": "c", "device_id": "d9", "ip": "1.1.1.1", "country": "US"},
    ])
    F = replay(pays)
    assert F.loc["p1", "is_first_payment"] == 1 and F.loc["p1", "hours_since_signup"] == 2
    assert F.loc["p2", "card_count_1h"] == 1 and F.loc["p2", "card_sum_1h"] == 10
    assert F.loc["p3", "card_count_1h"] == 0 and F.loc["p3", "card_count_24h"] == 2
    assert F.loc["p3", "device_users"] == 2 and F.loc["p3", "card_users"] == 2
    assert F.loc["p4", "card_count_24h"] == 1  # p1 and p2 fell out of the 24 h window
    assert F.loc["p4", "new_device"] == 1 and F.loc["p4", "new_country"] == 1
    assert F.loc["p4", "new_ip"] == 0 and F.loc["p4", "amount_to_user_max"] == 4.5
    assert F.loc["p4", "user_prev_payments"] == 2
    # stepping one payment at a time gives the same as the batch replay
    state = FeatureState()
    for rec in pays.to_dict("records"):
        f = state.step(rec)
        for k, v in f.items():
            w = F.loc[rec["payment_id"], k]
            assert (v == w) or (pd.isna(v) and pd.isna(w)), (rec["payment_id"], k)
    assert state.update(pays.iloc[0].to_dict()) is False  # a payment is added once
    with pytest.raises(DataError, match="ts"):
        state.features({"payment_id": "x", "amount": 1.0})


def test_an_unknown_value_reads_unknown_in_the_reasons() -> None:
    """A payment without an IP: when the missing value is what raised the score, the reason
    says "ip_users=unknown" (it read "ip_users=nan") and the feature's value is null."""
    rng = np.random.default_rng(0)
    n = 600
    ip_users = rng.integers(1, 4, n).astype(float)
    fraud = rng.random(n) < 0.3
    ip_users[fraud] = np.nan  # in this shop, frauds come without an IP
    X = pd.DataFrame({"ip_users": ip_users, "amount": rng.lognormal(3, 0.5, n)})
    scorer = fit_scorer(X, fraud.astype(int), n_estimators=30)
    d = scorer.decide({"ip_users": float("nan"), "amount": 20.0}, payment_id="p1")
    assert "ip_users=unknown" in d.reasons and not any("nan" in r for r in d.reasons)
    top = {t["feature"]: t["value"] for t in d.top_features}
    assert "ip_users" in top and top["ip_users"] is None
