#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and CuPy (+ numba-cuda), runs the GPU tests and
# the GPU benchmark and prints device, versions and figures. Finishes in a few minutes.
#   bash ci/gpu-check.sh            # from the repo root; results also under $OUT if set
# It fails (exit 1) when no GPU is visible to CuPy, when numba.cuda cannot be imported, and when
# the GPU tests did not run (all skipped): a check that cannot fail is no check.
# Python packages missing there travel as wheels in .whl/ (see docs/gpu.md); the package itself
# is pure Python and is used from the checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-/tmp/merlin-mlm-gpu-check}"
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/mlm-site .whl/*.whl
  export PYTHONPATH="/tmp/mlm-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:$PWD/tests:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  python3 -c "import sys, numpy, cupy, numba; print('python', sys.version.split()[0], '| numpy', numpy.__version__, '| cupy', cupy.__version__, '| numba', numba.__version__)" || true
  python3 -c "import numba_cuda; print('numba-cuda', numba_cuda.__version__)" 2>/dev/null || true
  # Without a GPU (or CuPy, or numba.cuda) every GPU test would be skipped: stop here, failed.
  if ! python3 -c "import sys, cupy; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)"; then
    echo "NO GPU VISIBLE TO CUPY: GPU CHECK FAILED (1)"; exit 1
  fi
  python3 -c "from numba import cuda; cuda.detect()" || { echo "NUMBA.CUDA UNUSABLE: GPU CHECK FAILED (1)"; exit 1; }
  echo "== GPU tests"
  timeout 420 python3 -m pytest -q -o addopts="-ra" -p no:cacheprovider \
    tests/test_gpu.py tests/test_rules.py tests/test_kernels_match_reference.py || echo "GPU TESTS FAILED ($?)"
  echo "== GPU benchmark"
  timeout 240 python3 benchmarks/mask_gpu.py --json "$OUT/gpu-benchmark.json" || echo "GPU BENCHMARK FAILED ($?)"
} 2>&1 | tee "$OUT/gpu-check.log"
# test_gpu.py is skipped where no GPU is visible: demand that its tests ran.
if grep -q "SKIPPED.*test_gpu.py.*needs an NVIDIA GPU" "$OUT/gpu-check.log" ||
   ! grep -qE "^[0-9]+ passed" "$OUT/gpu-check.log"; then
  echo "GPU TESTS WERE SKIPPED: GPU CHECK FAILED (1)" | tee -a "$OUT/gpu-check.log"
fi
! grep -q "FAILED (" "$OUT/gpu-check.log"
