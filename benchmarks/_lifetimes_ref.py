"""Runs inside .bench-venv-customers (lifetimes 0.11.3): fit BetaGeoFitter on a summary CSV and
write its parameters, fit time and holdout predictions. Called by benchmarks/customers.py."""
import json
import sys
import time

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from lifetimes.utils import ConvergenceError

src, out, horizon = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = pd.read_csv(src)
times = []
penalizer = 0.0
for _ in range(int(sys.argv[4]) if len(sys.argv) > 4 else 1):
    while True:  # unpenalised first; lifetimes' own advice on ConvergenceError is a penalty
        m = BetaGeoFitter(penalizer_coef=penalizer)
        t0 = time.perf_counter()
        try:
            m.fit(s["frequency"], s["recency"], s["T"])
            break
        except ConvergenceError:
            penalizer = 0.001 if penalizer == 0 else penalizer * 10
    times.append(time.perf_counter() - t0)
pred = m.conditional_expected_number_of_purchases_up_to_time(horizon, s["frequency"],
                                                             s["recency"], s["T"])
np.save(out + ".npy", np.asarray(pred, dtype=float))
json.dump({"params": {k: float(v) for k, v in m.params_.items()}, "fit_seconds": min(times),
           "penalizer": penalizer},
          open(out, "w"))
