#!/usr/bin/env bash
# The test suite in the second environment (.venv-2308: Python 3.10 and the Merlin 23.08 container's
# versions, see docs/environment.md): creates it if needed, then runs pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env-merlin2308.sh"
cd "$ROOT"
exec python -m pytest "$@"
