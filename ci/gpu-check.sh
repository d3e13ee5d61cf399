#!/usr/bin/env bash
# The GPU check, one command: on a machine with an NVIDIA GPU, CuPy and numba-cuda (the lent GPU machine:
# Python 3.12, NumPy 2.5, cupy-cuda13x, no cuDF/Merlin/TF, no internet), from the repo root:
#   bash ci/gpu-check.sh                 # results under $OUT (default /tmp/merlin-mlm-gpu-check)
# It prints and writes to $OUT/gpu-check.log: date, device and driver, the versions of the Python packages it
# uses, every GPU test's result (pytest -v; $OUT/gpu-tests.xml), and the benchmark table of
# benchmarks/mask_gpu.py (1M rows x mean length 25 and 100k rows x mean length 500; $OUT/gpu-benchmark.json).
# About 4 minutes expected; the steps' timeouts (240 s tests, 180 s benchmark) bound it near 7.
# Exit 1 when no GPU is visible to CuPy, numba.cuda is unusable, a GPU test fails or was skipped, or a mask
# differs from the NumPy reference: a check that cannot fail is no check.
#
# Wheels in .whl/ (ci/gpu-wheels.sh fetches them; the device tool must carry ".whl") are installed, with
# pip --no-index --no-deps --target, only for the distributions the machine lacks (MLM_GPU_WHEELS=all: every
# one), and put first on PYTHONPATH. The package itself is pure Python and is used from the checkout.
#
#   bash ci/gpu-check.sh --rehearsal     # no GPU: ci/gpu-rehearsal.sh runs this in an environment like the
# GPU machine's. The same steps, except that the GPU tests must be collected and skipped, numba.cuda is
# checked through its simulator (tests/test_kernels_gpu_simulated.py) and by compiling the kernels to PTX
# for the H100's compute capability 9.0, and the benchmark runs --help and --simulate.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODE=gpu
if [ "${1:-}" = --rehearsal ]; then MODE=rehearsal; fi
OUT="${OUT:-/tmp/merlin-mlm-gpu-check}"
SITE="${MLM_GPU_SITE:-/tmp/mlm-site}"
LOG="$OUT/gpu-check.log"
mkdir -p "$OUT"
export PYTHONPATH="$PWD:$PWD/tests:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

install_wheels() {
  compgen -G ".whl/*.whl" >/dev/null || { echo "no wheels carried (.whl/ empty or absent)"; return 0; }
  # Distribution name of each wheel (the file name up to the first '-'), installed where it is missing.
  local wanted
  wanted="$(python3 - .whl/*.whl <<'EOF'
import os, re, sys
from importlib.metadata import PackageNotFoundError, version
every = os.environ.get("MLM_GPU_WHEELS") == "all"
for path in sys.argv[1:]:
    name = re.sub(r"[-_.]+", "-", os.path.basename(path).split("-")[0]).lower()
    try:
        have = version(name)
    except PackageNotFoundError:
        have = None
    take = every or have is None
    print(f"wheel {os.path.basename(path)}: machine has {have or 'none'}; "
          f"{'installed' if take else 'not installed'}", file=sys.stderr)
    if take:
        print(path)
EOF
  )"
  if [ -n "$wanted" ]; then
    rm -rf "$SITE"
    # shellcheck disable=SC2086  # one path per line, no spaces (wheel names)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" $wanted ||
      { echo "WHEEL INSTALL FAILED ($?)"; return 0; }
    # A directory on PYTHONPATH is no site directory: its .pth files (numba-cuda's, which redirects
    # numba.cuda to numba_cuda) would be ignored. This sitecustomize makes it one.
    printf 'import site\nsite.addsitedir(%s)\n' "'$SITE'" > "$SITE/sitecustomize.py"
    export PYTHONPATH="$SITE:$PYTHONPATH"
    echo "wheels installed into $SITE (first on PYTHONPATH; its .pth files read)"
  fi
}

versions() {
  python3 - <<'EOF'
import platform, sys
from importlib.metadata import PackageNotFoundError, version
print("python", sys.version.split()[0], "at", sys.executable, "|", platform.platform())
found = []
for dist in ("numpy", "cupy-cuda13x", "cupy-cuda12x", "numba", "numba-cuda", "llvmlite", "cuda-bindings",
             "cuda-core", "pandas", "pyarrow", "scipy", "pytest", "hypothesis", "torch"):
    try:
        found.append(f"{dist} {version(dist)}")
    except PackageNotFoundError:
        pass
print(" | ".join(found))
import numba, numpy  # noqa: E401 - where they come from: the machine's or a carried wheel
print("numpy from", numpy.__file__, "| numba from", numba.__file__)
from merlin_mlm_ops.masking.numba_cuda_compat import restore_row_stack
restore_row_stack()
import numba.cuda
print("numba.cuda target:", getattr(numba.cuda, "implementation", "built-in"), "from", numba.cuda.__file__)
try:
    import cupy
    print("cupy", cupy.__version__, "| CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(),
          "| driver", cupy.cuda.runtime.driverGetVersion(), "| devices", cupy.cuda.runtime.getDeviceCount())
except Exception as exc:  # noqa: BLE001 - printed; the GPU test below decides
    print("cupy: no usable device:", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
import merlin_mlm_ops
from merlin_mlm_ops.masking import engine, hashing, kernel_args, rules, row_kernels  # noqa: F401
print("merlin_mlm_ops", merlin_mlm_ops.__version__, "from", merlin_mlm_ops.__file__, "| masking core imports: ok")
EOF
}

tests() {  # the GPU tests, and the CPU kernels against the reference on this machine's numba/NumPy
  timeout 240 python3 -m pytest -v -rs -o addopts="" -p no:cacheprovider --junitxml="$OUT/gpu-tests.xml" -W ignore::DeprecationWarning \
    tests/test_gpu.py tests/test_rules.py tests/test_kernels_match_reference.py "$@" || echo "GPU TESTS FAILED ($?)"
}

{
  echo "merlin-mlm-ops GPU check ($MODE), $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(uname -n)"
  echo "== wheels"
  install_wheels
  echo "== device and driver"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 || echo "(no nvidia-smi)"
  echo "== versions and imports"
  versions || echo "IMPORTS FAILED ($?)"
  if [ "$MODE" = gpu ]; then
    if ! python3 -c "import sys, cupy; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)"; then
      echo "NO GPU VISIBLE TO CUPY: GPU CHECK FAILED (1)"; exit 1
    fi
    python3 -c "from numba import cuda; cuda.detect()" || { echo "NUMBA.CUDA UNUSABLE: GPU CHECK FAILED (1)"; exit 1; }
    echo "== GPU tests"
    tests
    echo "== GPU benchmark"
    timeout 180 python3 benchmarks/mask_gpu.py --json "$OUT/gpu-benchmark.json" || echo "GPU BENCHMARK FAILED ($?)"
  else
    # The GPU machine compiles with numba-cuda (NVIDIA's target), not numba's deprecated built-in one.
    grep -q "^numba.cuda target: NVIDIA" "$LOG" || echo "NUMBA-CUDA TARGET NOT IN USE: REHEARSAL FAILED (1)"
    echo "== GPU tests (rehearsal: collected, skipped without a GPU), CPU kernels and the CUDA simulator"
    python3 -m pytest --collect-only -q -o addopts="" -p no:cacheprovider tests/test_gpu.py | tail -1 ||
      echo "GPU TESTS NOT COLLECTED ($?)"
    tests tests/test_kernels_gpu_simulated.py
    echo "== CUDA kernels compile to PTX for compute capability 9.0 (this numba-cuda, NumPy 2)"
    timeout 300 python3 tests/compile_ptx.py --cc 9.0 || echo "PTX COMPILE FAILED ($?)"
    echo "== GPU benchmark (rehearsal: --help, then --simulate)"
    python3 benchmarks/mask_gpu.py --help || echo "BENCHMARK --help FAILED ($?)"
    timeout 300 python3 benchmarks/mask_gpu.py --simulate --json "$OUT/gpu-benchmark.json" ||
      echo "SIMULATED BENCHMARK FAILED ($?)"
  fi
} 2>&1 | tee "$LOG"  # (set -e, pipefail: an early exit 1 above ends the script here)

if [ "$MODE" = gpu ]; then
  # test_gpu.py is skipped where no GPU is visible: demand that its tests ran.
  # (Its cuDF test is skipped on a machine without cuDF: only the no-GPU reason counts.)
  if grep -qE "SKIPPED.*test_gpu.py.*needs an NVIDIA GPU|test_gpu.py::.*SKIPPED.*needs an NVIDIA GPU" "$LOG" ||
     ! grep -q "test_gpu.py::.* PASSED" "$LOG"; then
    echo "GPU TESTS WERE SKIPPED: GPU CHECK FAILED (1)" | tee -a "$LOG"
  fi
else
  # Without a GPU every GPU test must be collected, then skipped for that reason only.
  if ! grep -qE "^[0-9]+ tests? collected" "$LOG" || grep -q "test_gpu.py.* \(PASSED\|FAILED\|ERROR\)" "$LOG" ||
     grep -q "ERROR collecting" "$LOG"; then
    echo "GPU TEST MODULE NOT COLLECTED AS EXPECTED: REHEARSAL FAILED (1)" | tee -a "$LOG"
  fi
fi
! grep -q "FAILED (" "$LOG"
