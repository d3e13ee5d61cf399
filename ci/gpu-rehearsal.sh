#!/usr/bin/env bash
# Dress rehearsal of ci/gpu-check.sh without a GPU, in an environment as close to the GPU machine's as the
# registries allow, so that the one run there does not die on an import or a NumPy 2 incompatibility.
# The GPU machine: Python 3.12.3, NumPy 2.5, cupy-cuda13x 14.2, numba + numba-cuda, pandas, pyarrow, pytest,
# hypothesis, scipy, PyTorch; no cuDF, Merlin or TensorFlow. Here: .venv-today (ci/env-today.sh: Python
# 3.12.1, NumPy 2.5.5, numba 0.68.1 + numba-cuda 0.30.4, pandas 3.1.1, pyarrow 26.0.1, pytest, hypothesis, scipy)
# under .venv-gpu-rehearsal (git-ignored), a venv that sees .venv-today's packages through a .pth file and
# adds cupy-cuda13x 14.2.0 (it installs and imports without a GPU; it finds no device) and the
# nvidia-cuda-nvcc-cu12 and -nvrtc-cu12 wheels (libNVVM and NVRTC: numba-cuda compiles the kernels to PTX). PyTorch is left out: the check does
# not import it. Then it fetches the carried wheels (ci/gpu-wheels.sh) and runs `ci/gpu-check.sh --rehearsal`
# with every carried wheel installed (MLM_GPU_WHEELS=all). Exit 1 when any step fails.
#   bash ci/gpu-rehearsal.sh        # log under $OUT (default /tmp/merlin-mlm-gpu-rehearsal)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ADD=(cupy-cuda13x==14.2.0 nvidia-cuda-nvcc-cu12==12.9.86 nvidia-cuda-nvrtc-cu12==12.9.86)
t0=$SECONDS
source "$ROOT/ci/env-today.sh"
LAYER="$ROOT/.venv-gpu-rehearsal"
want="$(cat "$ROOT/requirements-today.txt" "$ROOT/constraints-today.txt" <(echo "${ADD[*]}") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$LAYER/.stamp" ] || [ "$(cat "$LAYER/.stamp")" != "$want" ]; then
  rm -rf "$LAYER"
  "$(readlink -f "$VENV/bin/python")" -m venv "$LAYER"
  site="$("$LAYER/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # addsitedir, not a bare path line: .venv-today's own .pth files (numba-cuda's redirector) must be read.
  "$VENV/bin/python" -c 'import sysconfig; print("import site; site.addsitedir(%r)" % sysconfig.get_paths()["purelib"])' \
    > "$site/venv-today.pth"
  "$LAYER/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check -c "$ROOT/constraints-today.txt" \
    "${ADD[@]}" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
  "$LAYER/bin/python" -m pip check >&2
  echo "$want" > "$LAYER/.stamp"
fi
bash "$ROOT/ci/gpu-wheels.sh" 2>/dev/null
echo "gpu-rehearsal: environment ready in $((SECONDS - t0)) s" >&2
site="$(mktemp -d /tmp/mlm-rehearsal-site.XXXXXX)"
trap 'rm -rf "$site"' EXIT
status=0
PATH="$LAYER/bin:$PATH" MLM_GPU_WHEELS=all MLM_GPU_SITE="$site" OUT="${OUT:-/tmp/merlin-mlm-gpu-rehearsal}" \
  bash "$ROOT/ci/gpu-check.sh" --rehearsal || status=1
echo "gpu-rehearsal: $([ $status = 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s" >&2
exit $status
