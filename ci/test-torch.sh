#!/usr/bin/env bash
# The PyTorch step of CI: adds requirements-torch.txt to .venv (ci/env-torch.sh), then runs the PyTorch
# tests (tests/test_torch_*.py and the doctests of merlin_mlm_ops/torch) with MERLIN_MLM_OPS_REQUIRE_TORCH=1:
# there a missing torch or transformers4rec fails them instead of skipping, so this step cannot pass with
# every test skipped. Then the Transformers4Rec tests again with transformers4rec 23.12.0, in a throwaway
# copy of .venv made of hard links (.venv-t4r2312: seconds, no disk). Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env-torch.sh"
cd "$ROOT"
export MERLIN_MLM_OPS_REQUIRE_TORCH=1
status=0
python -c "from importlib.metadata import version as v; print('transformers4rec', v('transformers4rec'), '| torch', v('torch'))"
python -m pytest -p no:cacheprovider "$@" tests/test_torch_*.py merlin_mlm_ops/torch || status=$?
echo "== the Transformers4Rec tests on transformers4rec 23.12.0 (.venv-t4r2312)"
rm -rf .venv-t4r2312
cp -al "$VENV" .venv-t4r2312
.venv-t4r2312/bin/python -m pip install --quiet --no-cache-dir --disable-pip-version-check "transformers4rec==23.12.0" \
  -c "$CON" -c constraints-torch.txt 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
.venv-t4r2312/bin/python -m pip check >&2
.venv-t4r2312/bin/python -c "from importlib.metadata import version as v; print('transformers4rec', v('transformers4rec'), '| torch', v('torch'))"
.venv-t4r2312/bin/python -m pytest -p no:cacheprovider "$@" tests/test_torch_t4r.py || status=$?
rm -rf .venv-t4r2312
exit $status
