"""``benchmarks/mask_gpu.py`` runs end to end without a GPU under numba's CUDA simulator (``--simulate``).

That mode is how CI rehearses the GPU benchmark (``ci/gpu-rehearsal.sh``): the same code checks every
mask against the NumPy reference and prints the same table; only the times mean nothing.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "mask_gpu.py")


def run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    return subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True, text=True, timeout=300)


def test_simulated_run_checks_every_mask_and_prints_the_table(tmp_path):
    out = tmp_path / "bench.json"
    done = run("--simulate", "--cases", "12x5,2x40", "--json", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("all masks equal, bit for bit") == 2
    for row in ("d2d copy of the values", "fused thread-per-row, key", "fused warp-per-row, no key",
                "NumPy reference, key", "fused last-item", "faster per-row strategy"):
        assert row in done.stdout
    figures = json.loads(out.read_text())
    assert figures["simulated"] is True
    assert [(c["rows"], c["mean_length"]) for c in figures["cases"]] == [(12, 5.0), (2, 40.0)]
    assert all(not c["mismatched"] for c in figures["cases"])


@pytest.mark.parametrize("bad", ["12", "12x", "ax5"])
def test_a_malformed_case_is_named_in_the_error(bad):
    done = run("--simulate", "--cases", bad)
    assert done.returncode != 0
    assert f"got {bad!r}" in done.stderr
