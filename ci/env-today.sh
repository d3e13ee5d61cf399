#!/usr/bin/env bash
# Creates .venv-today (git-ignored) at the repo root: "today's stack", Python 3.12 with NumPy 2.5, pandas 3,
# pyarrow 26, polars 2, dask/distributed 2026.8, numba 0.68.1 + numba-cuda 0.30.4, narwhals, scipy, pytest and hypothesis
# (requirements-today.txt, pinned in full by constraints-today.txt); no Merlin, no TensorFlow. Built with
# ci/env.sh, rebuilt only when those two files change. The package is not installed into it: it is
# read from the checkout through PYTHONPATH, which this script sets, so that edits need no reinstall.
#   source ci/env-today.sh && python -m pytest -q tests/test_rules.py
# Needs Python 3.12 (pyenv has 3.12.1 on these machines); set PYTHON312 to pick the interpreter.
MLM_VENV=.venv-today
MLM_PYTHON_VERSION=3.12
MLM_PYTHON="${PYTHON312:-}"
MLM_REQUIREMENTS=requirements-today.txt
MLM_CONSTRAINTS=constraints-today.txt
MLM_INSTALL_PACKAGE=0
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
