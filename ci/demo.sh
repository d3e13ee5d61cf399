#!/usr/bin/env bash
# The main job: creates .venv if needed, then masks synthetic sessions (Categorify -> MaskRandom)
# and prints a summary. Extra arguments go to `merlin-mlm demo` (--sessions, --output, ...).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
exec python -W ignore -m merlin_mlm_ops.job.cli demo "$@"
