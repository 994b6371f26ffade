"""Click model: calibrated probabilities and ranking on planted clicks; click features."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from storemind.evaluation import log_loss, roc_auc
from storemind.marketing import ClickModel, click_features


def test_click_features_read_open_bandit_shape():
    exp = pd.DataFrame({"item_id": ["all-3", "all-5"], "position": [1, 3],
                        "campaign_id": ["obd_all", "obd_all"],
                        "ts": pd.to_datetime(["2019-11-24 10:00", "2019-11-24 23:00"]),
                        "attributes": [json.dumps({"user_feature_0": "x", "affinity": {"3": 2.0}}),
                                       json.dumps({"user_feature_0": "y", "affinity": {}})]})
    X = click_features(exp)
    assert X.affinity.tolist() == [2.0, 0.0]
    assert X.hour.tolist() == [10.0, 23.0]
    assert X.user_feature_0.tolist() == ["x", "y"]


def test_calibrated_and_better_than_constant():
    rng = np.random.default_rng(0)
    n = 20000
    X = pd.DataFrame({"item_id": rng.choice([f"i{k}" for k in range(20)], n),
                      "position": rng.integers(1, 4, n).astype(float),
                      "affinity": rng.poisson(0.3, n).astype(float)})
    item_effect = {f"i{k}": -3.5 + 0.08 * k for k in range(20)}
    logit = X.item_id.map(item_effect) - 0.3 * X.position + 0.8 * X.affinity
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)
    train = np.arange(n) < 15000
    m = ClickModel(random_state=0).fit(X[train], y[train])
    p = m.predict_proba(X[~train])
    best = roc_auc(y[~train], logit[~train])  # the true model's ranking
    assert roc_auc(y[~train], p) > best - 0.04
    const = np.full((~train).sum(), y[train].mean())
    assert log_loss(y[~train], p) < log_loss(y[~train], const)
    assert abs(p.mean() - y[~train].mean()) < 0.01  # calibrated on average
