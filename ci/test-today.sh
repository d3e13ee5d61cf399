#!/usr/bin/env bash
# "Today's stack" CI leg: Python 3.12, NumPy 2.5, pandas 3, PyArrow 26, Polars 2, Dask/distributed 2026.8,
# numba 0.68.1, no Merlin (ci/env-today.sh builds .venv-today from requirements-today.txt +
# constraints-today.txt). Runs what works without NVTabular: the dataframe API (tests/test_frames_*.py,
# its doctests, docs/frames.md), the `merlin-mlm mask` job without NVTabular (tests/test_job_plain.py: the
# NVTabular job's golden digests) and the masking core's tests (hashing, rules, fused kernels, the CUDA
# kernels under numba's simulator). Tests that need NVTabular skip there (pytest.importorskip); the run
# fails if nothing ran at all, so a broken environment cannot pass by skipping everything.
# Extra arguments replace the default test selection: bash ci/test-today.sh tests/test_frames_kinds.py
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/ci/env-today.sh"
cd "$ROOT"
DEFAULT=(tests/test_frames_*.py tests/test_job_plain.py tests/test_hashing.py tests/test_rules.py
         tests/test_kernels_match_reference.py
         tests/test_kernels_fallback.py tests/test_kernels_gpu_simulated.py
         tests/test_rules_statistics.py tests/test_rules_bert_statistics.py
         merlin_mlm_ops/frames merlin_mlm_ops/masking)
if [ "$#" -gt 0 ]; then DEFAULT=("$@"); fi
report="$(mktemp -d)/today.xml"
status=0
python -m pytest -p no:cacheprovider --junitxml="$report" "${DEFAULT[@]}" || status=$?
python - "$report" "$status" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
count = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "skipped", "failures", "errors")}
ran = count["tests"] - count["skipped"]
print(f"today's stack: {ran} tests ran, {count['skipped']} skipped, "
      f"{count['failures']} failed, {count['errors']} errors")
if ran <= 0:
    sys.exit("today's stack: every test was skipped or none was collected: the environment is broken")
sys.exit(int(sys.argv[2]))
PY
