#!/usr/bin/env bash
# Reference venv for benchmarks/marketing.py: causalml (uplift random forest, X-learner) and
# scikit-uplift (two models, class transformation), kept out of the runtime venv (causalml pulls
# xgboost and its GPU libraries). scikit-uplift 0.5.1 is installed with --no-deps (its metadata
# pins old versions it does not need). The benchmark hands fold files (.npz) to this venv and
# reads the uplift scores back.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.bench-venv-marketing
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet \
  "numpy==2.2.6" "scipy==1.16.3" "scikit-learn==1.6.1" "pandas==2.2.3" "causalml==0.18.0"
"$VENV/bin/pip" install --quiet --no-deps "scikit-uplift==0.5.1"
"$VENV/bin/python" -c "import importlib.metadata as m, causalml, sklift; print({p: m.version(p) for p in ('causalml', 'scikit-uplift', 'scikit-learn', 'xgboost')})"
