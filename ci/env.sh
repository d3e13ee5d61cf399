#!/usr/bin/env bash
# Creates .venv (git-ignored) at the repo root with the pinned Merlin stack and this package,
# unless it is already there and up to date. Sourced by ci/demo.sh and ci/test.sh.
# Needs Python 3.11 with pip < 26.3 (the pip bundled with 3.11 works; never upgrade it:
# pip 26.3 refuses merlin packages). Set PYTHON to pick the interpreter.
# ci/env-merlin2308.sh builds the second environment with this same script: it sets MLM_VENV,
# MLM_PYTHON_VERSION, MLM_REQUIREMENTS, MLM_CONSTRAINTS, MLM_PIP and MLM_PYTHON first.
# MLM_INSTALL_PACKAGE=0 leaves the package out of the environment (ci/env-today.sh: Python 3.12 is outside
# pyproject's requires-python; that environment reads the package from the checkout through PYTHONPATH).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/${MLM_VENV:-.venv}"
PY_VERSION="${MLM_PYTHON_VERSION:-3.11}"
REQ="$ROOT/${MLM_REQUIREMENTS:-requirements.txt}"
CON="$ROOT/${MLM_CONSTRAINTS:-constraints.txt}"
STAMP="$VENV/.merlin-mlm-ops-installed"

find_python() {
  for candidate in "${MLM_PYTHON:-${PYTHON:-}}" "python$PY_VERSION" python3 \
                   "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$PY_VERSION".*/bin/python"$PY_VERSION"; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c "import sys; sys.exit('%d.%d' % sys.version_info[:2] != '$PY_VERSION')" 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "merlin-mlm-ops: Python $PY_VERSION not found (set PYTHON=/path/to/python$PY_VERSION)" >&2
  return 1
}

pip_quiet() {
  # (grep drops pip's notes about this machine's local find-links folders; pipefail keeps errors)
  "$VENV/bin/python" -m pip "$@" --quiet --no-cache-dir --disable-pip-version-check 2>&1 |
    { grep -v "^WARNING: Location" || true; } >&2
}

want="$(cat "$REQ" "$CON" | sha256sum | cut -d' ' -f1)"
want_pkg="$(sha256sum < "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  py="$(find_python)"
  echo "merlin-mlm-ops: creating $VENV with $($py --version) (a few minutes, 2.5 GB)" >&2
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  if [ -n "${MLM_PIP:-}" ]; then pip_quiet install "pip==$MLM_PIP"; fi
  pip_quiet install -r "$REQ" -c "$CON"
  echo "$want" > "$STAMP"
  rm -f "$STAMP.pkg"
fi
if [ "${MLM_INSTALL_PACKAGE:-1}" = 0 ]; then
  "$VENV/bin/python" -m pip check >&2
elif [ ! -f "$STAMP.pkg" ] || [ "$(cat "$STAMP.pkg")" != "$want_pkg" ]; then
  pip_quiet install --no-deps -e "$ROOT"
  "$VENV/bin/python" -m pip check >&2
  echo "$want_pkg" > "$STAMP.pkg"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
