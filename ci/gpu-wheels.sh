#!/usr/bin/env bash
# Fetches into .whl/ (git-ignored) the wheels ci/gpu-check.sh carries to the GPU machine, for CPython 3.12 on
# x86-64 Linux, at the versions of constraints-today.txt: the pure-Python or small packages the check needs
# beyond what the machine is known to hold (numba-cuda, hypothesis and its sortedcontainers: about 3 MB).
# ci/gpu-check.sh installs a wheel there only where the machine lacks its distribution (MLM_GPU_WHEELS=all:
# every one). numba, NumPy, CuPy, pandas, pyarrow and pytest are the machine's own (numba with llvmlite would
# be 45 MB of the 64 MiB a call may carry). Reruns only download what is missing.
#   bash ci/gpu-wheels.sh           # then the device tool's run carries ".whl"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
CARRY=(numba-cuda hypothesis sortedcontainers)
mkdir -p "$ROOT/.whl"
pins=()
for name in "${CARRY[@]}"; do
  pin="$(grep -i "^$name==" "$ROOT/constraints-today.txt")" || { echo "gpu-wheels: $name is not in constraints-today.txt" >&2; exit 1; }
  pins+=("$pin")
done
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$ROOT/.whl" "${pins[@]}" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
# One version of each: two would stop the whole install there.
for name in "${CARRY[@]}"; do
  stem="$(echo "$name" | tr - _)"
  n="$(find "$ROOT/.whl" -maxdepth 1 -iname "${stem}-*.whl" | wc -l)"
  [ "$n" = 1 ] || { echo "gpu-wheels: $n wheels of $name in .whl/ (want 1): remove the stale ones" >&2; exit 1; }
done
ls -1 "$ROOT/.whl" >&2
du -sh "$ROOT/.whl" >&2
