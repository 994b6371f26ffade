#!/usr/bin/env bash
# Reference venv for benchmarks/recommend.py: RecBole 1.2.1 (SASRec, EASE), run through
# benchmarks/recbole_runner.py. RecBole needs numpy < 2 (np.float_) and pulls ray 2.6.3, whose
# import fails on numpy 2, so it cannot live in the project's venv. pandas is held at 2.2.3:
# with pandas 3, RecBole's in-place fillna of missing feature values silently does nothing.
# Every package is pinned (the set pip resolved on 2026-11-28, then pandas 2.2.3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.bench-venv-recbole
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# torch is named first so pip takes the CPU build (found through PIP_FIND_LINKS here)
"$VENV/bin/pip" install --quiet \
  "torch==2.13.0" "numpy==1.26.4" "recbole==1.2.1" "pandas==2.2.3" "scipy==1.17.1" \
  "scikit-learn==1.9.1" "ray==2.6.3" "colorlog==4.7.2" "colorama==0.4.4" "tensorboard==2.21.0" \
  "thop==0.1.1.post2209072238" "tabulate==0.10.0" "texttable==1.7.2" "plotly==7.1.0" \
  "psutil==7.2.2" "pyyaml==6.0.4" "tqdm==4.70.1" "joblib==1.6.0" "threadpoolctl==3.8.0" \
  "protobuf==7.36.2" "grpcio==1.85.3" "networkx==3.6.1" "sympy==1.14.0" "filelock==4.3.1" \
  "fsspec==2026.9.0" "jinja2==3.1.6" "typing-extensions==4.16.0" "msgpack==1.2.4" \
  "click==8.5.1" "requests==2.34.2" "jsonschema==4.26.0" "python-dateutil==4.0.0" \
  "pytz==2026.6" "tzdata==2026.6"
"$VENV/bin/python" -c "import recbole, torch, numpy, pandas; print('recbole', recbole.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__, 'pandas', pandas.__version__)"
