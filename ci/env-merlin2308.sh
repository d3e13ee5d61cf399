#!/usr/bin/env bash
# Creates .venv-2308 (git-ignored) at the repo root: the second CI environment, as close to the
# NVIDIA Merlin 23.08 container as a CPU machine allows (Python 3.10, tensorflow-cpu 2.12.0,
# merlin-* 23.8.0, numpy 1.22.4, pandas 1.5.2, protobuf 3.20.3, dask 2023.1.1, numba 0.56.4,
# pyarrow 10.0.1; see docs/environment.md), with ci/env.sh. Rebuilt only when
# requirements-merlin2308.txt or constraints-merlin2308.txt change (pyproject.toml: the package only).
#   source ci/env-merlin2308.sh && python -m pytest -q
# Needs Python 3.10 (pyenv has 3.10.13 on these machines); set PYTHON310 to pick the interpreter.
MLM_VENV=.venv-2308
MLM_PYTHON_VERSION=3.10
MLM_PYTHON="${PYTHON310:-}"
MLM_REQUIREMENTS=requirements-merlin2308.txt
MLM_CONSTRAINTS=constraints-merlin2308.txt
# pip 23.2.1 reads PyPI's separate metadata files (PEP 658/714) where the index serves them.
# Never pip >= 26.3 (it refuses merlin packages).
MLM_PIP=23.2.1
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
