#!/usr/bin/env bash
# Adds the optional PyTorch side (requirements-torch.txt: torch 2.1.2, Transformers4Rec 23.8.0) to .venv,
# after ci/env.sh has built it; sourced by ci/test-torch.sh. Only new packages are installed: constraints.txt
# holds every package of the main environment at its pin and constraints-torch.txt pins the new ones
# (pip check must stay clean). Reinstalls only when one of those files changes. PyPI's torch brings the
# CUDA libraries: ~2.7 GB download, .venv 2.7 -> 7.4 GB (docs/environment.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
TORCH_STAMP="$VENV/.merlin-mlm-ops-torch-installed"
want_torch="$(cat "$ROOT/requirements-torch.txt" "$ROOT/constraints-torch.txt" "$CON" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$TORCH_STAMP" ] || [ "$(cat "$TORCH_STAMP")" != "$want_torch" ]; then
  echo "merlin-mlm-ops: adding torch + transformers4rec to $VENV (~2.7 GB download)" >&2
  pip_quiet install -r "$ROOT/requirements-torch.txt" -c "$CON" -c "$ROOT/constraints-torch.txt"
  "$VENV/bin/python" -m pip check >&2
  echo "$want_torch" > "$TORCH_STAMP"
fi
