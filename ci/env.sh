#!/usr/bin/env bash
# Creates .venv (git-ignored) at the repo root with the pinned Merlin stack and this package,
# unless it is already there and up to date. Sourced by ci/demo.sh and ci/test.sh.
# Needs Python 3.11 with pip < 26.3 (the pip bundled with 3.11 works; never upgrade it:
# pip 26.3 refuses merlin packages). Set PYTHON to pick the interpreter.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.merlin-mlm-ops-installed"

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "merlin-mlm-ops: Python 3.11 not found (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

want="$(cat "$ROOT/requirements.txt" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
want_pkg="$(sha256sum < "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  py="$(find_python)"
  echo "merlin-mlm-ops: creating $VENV with $($py --version) (about 2 minutes, 2.5 GB)" >&2
  rm -rf "$VENV"
  "$py" -m venv "$VENV"
  # (grep drops pip's notes about this machine's local find-links folders; pipefail keeps errors)
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
    -r "$ROOT/requirements.txt" -c "$ROOT/constraints.txt" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
  echo "$want" > "$STAMP"
fi
if [ ! -f "$STAMP.pkg" ] || [ "$(cat "$STAMP.pkg")" != "$want_pkg" ]; then
  "$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check --no-deps -e "$ROOT"
  "$VENV/bin/python" -m pip check >&2
  echo "$want_pkg" > "$STAMP.pkg"
fi
export PATH="$VENV/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
