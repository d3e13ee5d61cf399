#!/usr/bin/env bash
# Creates .venv-2308 (git-ignored) at the repo root: the second CI environment, as close to the
# NVIDIA Merlin 23.08 container as a CPU machine allows (Python 3.10, tensorflow-cpu 2.12.0,
# merlin-* 23.8.0, numpy 1.22.4, pandas 1.5.2, protobuf 3.20.3, dask 2023.1.1, numba 0.56.4,
# pyarrow 10.0.1; see docs/environment.md). Rebuilt only when requirements-merlin2308.txt,
# constraints-merlin2308.txt or pyproject.toml change. Source it, then run python/pytest:
#   source ci/env-merlin2308.sh && python -m pytest -q
# Needs Python 3.10 (pyenv has 3.10.13 on these machines); set PYTHON310 to pick the interpreter.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-2308"
STAMP="$VENV/.merlin-mlm-ops-installed"
REQ="$ROOT/requirements-merlin2308.txt"
CON="$ROOT/constraints-merlin2308.txt"

find_python310() {
  for candidate in "${PYTHON310:-}" python3.10 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "merlin-mlm-ops: Python 3.10 not found (set PYTHON310=/path/to/python3.10, or: pyenv install 3.10)" >&2
  return 1
}

want="$(cat "$REQ" "$CON" | sha256sum | cut -d' ' -f1)"
want_pkg="$(sha256sum < "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  py="$(find_python310)"
  echo "merlin-mlm-ops: creating $VENV with $($py --version) (a few minutes, 2.5 GB)" >&2
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  # pip 23.2.1 reads PyPI's separate metadata files (PEP 658/714): the packaging test's resolve
  # then skips downloading whole wheels. Never pip >= 26.3 (it refuses merlin packages).
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check "pip==23.2.1" 2>&1 |
    { grep -v "^WARNING: Location" || true; } >&2
  # (grep drops pip's notes about this machine's local find-links folders; pipefail keeps errors)
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
    -r "$REQ" -c "$CON" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
  echo "$want" > "$STAMP"
  rm -f "$STAMP.pkg"
fi
if [ ! -f "$STAMP.pkg" ] || [ "$(cat "$STAMP.pkg")" != "$want_pkg" ]; then
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check --no-deps -e "$ROOT" 2>&1 |
    { grep -v "^WARNING: Location" || true; } >&2
  "$VENV/bin/python" -m pip check >&2
  echo "$want_pkg" > "$STAMP.pkg"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
