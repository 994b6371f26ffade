"""Reference uplift models for benchmarks/marketing.py, run inside .bench-venv-marketing.

Usage: python _marketing_ref.py IN.npz OUT.npz
IN holds X (float matrix, one-hot categoricals), t (0/1), y (0/1), folds; OUT gets per model a
score vector over all rows (each row scored by the model fitted without its fold) and fit
seconds per fold.
"""
from __future__ import annotations

import sys
import time

import numpy as np


def models(seed: int) -> dict:
    from causalml.inference.meta import BaseXClassifier
    from causalml.inference.tree import UpliftRandomForestClassifier
    from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression
    from sklift.models import ClassTransformation, TwoModels

    def lr() -> LogisticRegression:
        return LogisticRegression(max_iter=1000)

    return {
        "sklift TwoModels (logistic)": lambda: TwoModels(estimator_trmnt=lr(),
                                                         estimator_ctrl=lr(), method="vanilla"),
        "sklift ClassTransformation (logistic)": lambda: ClassTransformation(estimator=lr()),
        "causalml UpliftRandomForest (KL)": lambda: UpliftRandomForestClassifier(
            n_estimators=50, max_depth=5, min_samples_leaf=200, control_name="0",
            random_state=seed, n_jobs=1),
        "causalml X-learner (sklearn GBM)": lambda: BaseXClassifier(
            outcome_learner=GradientBoostingClassifier(n_estimators=100, max_depth=3,
                                                       random_state=seed),
            effect_learner=GradientBoostingRegressor(n_estimators=100, max_depth=3,
                                                     random_state=seed)),
    }


def fit_score(name: str, make, X, t, y, train, test):
    m = make()
    t0 = time.perf_counter()
    if name.startswith("sklift"):
        m.fit(X[train], y[train], t[train])
        sec = time.perf_counter() - t0
        return m.predict(X[test]), sec
    if "RandomForest" in name:
        m.fit(X[train], t[train].astype(int).astype(str), y[train])
        sec = time.perf_counter() - t0
        return np.asarray(m.predict(X[test]))[:, 0], sec
    p = np.full(train.sum(), t[train].mean())
    m.fit(X[train], t[train].astype(int), y[train], p=p)
    sec = time.perf_counter() - t0
    return np.asarray(m.predict(X[test], p=np.full(test.sum(), p[0]))).ravel(), sec


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    d = np.load(src)
    X, t, y, folds = d["X"], d["t"], d["y"], d["folds"]
    only = sys.argv[3].split("|") if len(sys.argv) > 3 else None
    out = {}
    for name, make in models(0).items():
        if only and name not in only:
            continue
        score = np.zeros(len(y))
        secs = []
        for f in np.unique(folds):
            test = folds == f
            s, sec = fit_score(name, make, X, t, y, ~test, test)
            score[test] = s
            secs.append(sec)
            print(name, "fold", f, round(sec, 1), flush=True)
        out[f"{name}|score"] = score
        out[f"{name}|seconds"] = np.array(secs)
    np.savez(dst, **out)


if __name__ == "__main__":
    main()
