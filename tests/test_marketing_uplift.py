"""Uplift learners and their evaluation: planted effects, several treatments, intervals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from storemind.errors import DataError
from storemind.marketing import (
    ClassTransformation,
    DRLearner,
    SLearner,
    TLearner,
    XLearner,
    cross_validate_uplift,
    uplift_folds,
    uplift_metrics,
)


def _planted(n: int = 4000, seed: int = 1):
    """'mail' lifts customers with a > 0 by 0.3; 'sms' lifts web customers by 0.2."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(size=n),
                      "channel": rng.choice(["web", "phone"], n)})
    arm = rng.choice(["control", "mail", "sms"], n)
    true = np.column_stack([0.3 * (X.a > 0), 0.2 * (X.channel == "web")])
    base = 0.2 + 0.1 * X.b
    p = base + np.where(arm == "mail", true[:, 0], 0) + np.where(arm == "sms", true[:, 1], 0)
    y = (rng.uniform(size=n) < p).astype(float)
    return X, arm, y, true


@pytest.mark.parametrize("cls", [SLearner, TLearner, XLearner, DRLearner, ClassTransformation])
def test_learners_recover_planted_effects(cls):
    X, arm, y, true = _planted()
    m = cls(n_estimators=60, min_child_samples=50, random_state=0).fit(X, arm, y)
    assert m.treatments_ == ["mail", "sms"] and m.arms_[0] == "control"
    u = m.predict_uplift(X)
    assert u.shape == (len(X), 2)
    for j in range(2):
        assert np.corrcoef(u[:, j], true[:, j])[0, 1] > 0.45, (cls.__name__, j)
    # who gets what: mail for a > 0, sms for web customers with a < 0, nothing for phone a < 0
    rec = m.recommend(X, min_uplift=0.05)
    assert (rec[(X.a > 0.5).to_numpy()] == "mail").mean() > 0.8
    web_low = ((X.a < -0.5) & (X.channel == "web")).to_numpy()
    assert (rec[web_low] == "sms").mean() > 0.7
    phone_low = ((X.a < -0.5) & (X.channel == "phone")).to_numpy()
    assert (rec[phone_low] == "control").mean() > 0.45


def test_intervals_from_bags_cover_the_mean():
    X, arm, y, _ = _planted(2000)
    m = TLearner(n_estimators=40, n_bags=4, random_state=0).fit(X, arm, y)
    lo, hi = m.predict_interval(X, coverage=0.8)
    u = m.predict_uplift(X)
    assert lo.shape == hi.shape == u.shape
    assert (lo <= u + 1e-12).all() and (u <= hi + 1e-12).all()
    assert (hi - lo).mean() > 0
    one = TLearner(n_estimators=10).fit(X, arm, y)
    with pytest.raises(DataError, match="n_bags"):
        one.predict_interval(X)


def test_bad_inputs_say_what_is_wrong():
    X, arm, y, _ = _planted(600)
    with pytest.raises(DataError, match="control"):
        TLearner().fit(X, np.where(arm == "control", "base", arm), y)
    m = TLearner(control="base", n_estimators=5).fit(X, np.where(arm == "control", "base", arm),
                                                     y)
    assert m.arms_ == ["base", "mail", "sms"]
    with pytest.raises(DataError, match="binary"):
        ClassTransformation().fit(X, arm, y * 3.5)
    with pytest.raises(DataError, match="rows"):
        TLearner().fit(X, arm[:10], y)
    with pytest.raises(DataError, match="lack"):
        m.predict_uplift(X.drop(columns=["a"]))


def test_folds_and_metrics_on_held_out_rows():
    X, arm, y, true = _planted(3000)
    folds = uplift_folds(arm, 3, random_state=0)
    assert set(folds) == {0, 1, 2}
    for a in ("control", "mail", "sms"):  # each arm spread evenly over the folds
        counts = np.bincount(folds[arm == a])
        assert counts.max() - counts.min() <= 1
    res = cross_validate_uplift(lambda: TLearner(n_estimators=40, random_state=0), X, arm, y,
                                folds)
    assert len(res) == 6 and set(res.treatment) == {"mail", "sms"}
    assert (res.groupby("treatment").qini.mean() > 0.1).all()
    perfect = uplift_metrics(y, arm, true, ["mail", "sms"], "control")
    shuffled = uplift_metrics(y, arm, np.random.default_rng(0).permutation(true), ["mail", "sms"],
                              "control")
    assert perfect["mail"]["qini"] > shuffled["mail"]["qini"] + 0.05


def _hillstrom_womens(data_dir):
    """Hillstrom's Womens E-Mail and No E-Mail rows, as the benchmark reads them:
    (features, exposures)."""
    from storemind.datasets import read_hillstrom
    from storemind.marketing._features import _attributes

    fr = read_hillstrom(data_dir)
    e = fr["exposures"]
    X = _attributes(fr["users"]["attributes"]).drop(columns=["history_segment"])
    keep = e.arm.isin(["Womens E-Mail", "No E-Mail"]).to_numpy()
    X, e = X[keep].reset_index(drop=True), e[keep].reset_index(drop=True)
    return X, e


def test_hillstrom_minimum_quality(data_dir):
    X, e = _hillstrom_womens(data_dir)
    arms, y = e.arm.to_numpy(), e.visited.to_numpy(float)
    test = uplift_folds(arms, 5, 0) == 0
    m = TLearner(random_state=0).fit(X[~test], arms[~test], y[~test])
    got = uplift_metrics(y[test], arms[test], m.predict_uplift(X[test]), m.treatments_,
                         "No E-Mail")["Womens E-Mail"]
    # measured 2026-11-28 with this exact code (TLearner defaults, fold 0 of
    # uplift_folds(arms, 5, 0), visit): qini 0.0847, auuc 0.0378, uplift@30% 0.0800;
    # floors leave room for LightGBM version noise. Random targeting gives qini ~0.
    assert got["qini"] > 0.06
    assert got["auuc"] > 0.025
    assert got["uplift_at_k"] > 0.06


def test_hillstrom_autouplift_conversion_pinned_to_the_benchmark(data_dir):
    """AutoUplift's default (its five candidates averaged) on Hillstrom conversion, every fold
    of the benchmark. benchmarks/marketing.py --sections hillstrom (2026-11-29) measured
    Qini per fold 0.1683, 0.0781, 0.1379, 0.0012, 0.0574 (mean 0.0886; the best reference,
    scikit-uplift TwoModels, 0.0654)."""
    from storemind.evaluation import qini_coefficient
    from storemind.marketing import AutoUplift

    X, e = _hillstrom_womens(data_dir)
    arms, y = e.arm.to_numpy(), e.converted.to_numpy(float)
    t = (arms == "Womens E-Mail").astype(int)
    folds = uplift_folds(arms, 5, 0)
    qini = []
    for f in range(5):
        test = folds == f
        m = AutoUplift(random_state=0).fit(X[~test], arms[~test], y[~test])
        qini.append(qini_coefficient(y[test], t[test], m.predict_uplift(X[test])[:, 0]))
    np.testing.assert_allclose(qini, [0.1683, 0.0781, 0.1379, 0.0012, 0.0574], atol=0.01)
    assert np.mean(qini) > 0.0654  # the best reference's mean in the same benchmark run
