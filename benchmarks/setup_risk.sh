#!/usr/bin/env bash
# Reference venv for benchmarks/risk.py: PyOD (ECOD, IForest) and its numba/matplotlib
# dependencies, kept out of the runtime venv. The benchmark hands feature matrices to this venv
# through .npz files and reads the anomaly scores back.
# scikit-learn is held at 1.5.2: PyOD 2.0.5's IForest fails on 1.6+ (__sklearn_tags__).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.bench-venv-risk
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet \
  "numpy==2.1.3" "scipy==1.14.1" "scikit-learn==1.5.2" "pyod==2.0.5"
"$VENV/bin/python" -c "import pyod, numpy, sklearn; print('pyod', pyod.__version__, 'numpy', numpy.__version__, 'sklearn', sklearn.__version__)"
