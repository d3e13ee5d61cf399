#!/usr/bin/env bash
# Compiles every CUDA kernel to PTX with the older numba releases the GPU path supports, each in
# a small venv of its own (no GPU needed; the pinned numba is checked by the test suite):
#   .venv-numba057: numba 0.57.1, Python 3.11 (the oldest numba of cuDF 23.06+ / NVTabular 23.08)
#   .venv-numba056: numba 0.56.4, Python 3.10, CUDA 11.8 (cuDF 23.02/23.04 pin numba<0.57)
#   .venv-numbacuda: numba 0.68.1 with the numba-cuda 0.30.4 target (what newer stacks carry)
# Each holds only NumPy, numba and the nvcc wheel (libNVVM): the kernel modules load without
# NVTabular.  Built once (about a minute each), reused while their requirements are unchanged.
#   bash ci/ptx-check.sh            # from anywhere; exit 1 when a kernel fails to compile
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NVCC="nvidia-cuda-nvcc-cu12==12.9.86"   # the pin of requirements.txt

check() {  # check NAME PYTHON REQUIREMENT...
  local name="$1" py="$2"; shift 2
  local venv="$ROOT/.venv-$name" t0=$SECONDS want
  want="$(echo "$py $*" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$venv/.stamp" ] || [ "$(cat "$venv/.stamp")" != "$want" ]; then
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check "$@" 2>&1 |
      { grep -v "^WARNING: Location" || true; } >&2
    "$venv/bin/python" -m pip check >&2
    echo "$want" > "$venv/.stamp"
    echo "ptx-check: built $venv in $((SECONDS - t0)) s" >&2
  fi
  t0=$SECONDS
  # One compute capability: what differs between numbas is typing and lowering, not the target.
  "$venv/bin/python" "$ROOT/tests/compile_ptx.py" --cc 8.0
  echo "ptx-check: $name compiled in $((SECONDS - t0)) s"
}

check numbacuda python3.11 numba==0.68.1 llvmlite==0.50.0 numpy==1.23.5 numba-cuda==0.30.4 \
  cuda-bindings==12.9.10 cuda-core==1.2.2 cuda-pathfinder==1.9.1 "$NVCC" nvidia-cuda-nvrtc-cu12==12.9.86
check numba057 python3.11 numba==0.57.1 llvmlite==0.40.1 numpy==1.23.5 "$NVCC"
py310="${PYTHON310:-}"  # numba 0.56 has no wheels for Python 3.11
for candidate in python3.10 "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.10*/bin/python3.10; do
  [ -n "$py310" ] && break
  if "$candidate" -c "" 2>/dev/null; then py310="$candidate"; fi
done
[ -n "$py310" ] || { echo "ptx-check: Python 3.10 not found (numba 0.56.4 needs it; set PYTHON310)" >&2; exit 1; }
# numba 0.56 writes NVVM IR 1.6, which CUDA 12's libNVVM refuses: CUDA 11.8's, as its containers had.
check numba056 "$py310" numba==0.56.4 llvmlite==0.39.1 numpy==1.23.5 nvidia-cuda-nvcc-cu11==11.8.89
