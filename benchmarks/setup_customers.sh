#!/usr/bin/env bash
# Reference venv for benchmarks/customers.py: lifetimes 0.11.3, which predates numpy 2 and
# scipy's removal of `scipy.misc.logsumexp`-era APIs, and imports pkg_resources
# (setuptools < 81). Pinned versions below were checked to import and fit BetaGeoFitter.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.bench-venv-customers
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade "pip<25"
"$VENV/bin/pip" install --quiet \
  "setuptools==80.9.0" "numpy==1.26.4" "scipy==1.11.4" "pandas==2.1.4" "autograd==1.6.2" \
  "dill==0.3.8" "lifetimes==0.11.3"
"$VENV/bin/python" -c "import lifetimes, numpy, scipy, pandas; print('lifetimes', lifetimes.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__, 'pandas', pandas.__version__)"
