"""Every CUDA kernel compiles to PTX, for every signature the engine launches, without a GPU.

numba's CUDA simulator (``test_kernels_gpu_simulated.py``) runs the kernels as Python and
cannot see a kernel that numba fails to type or lower for CUDA; this test compiles them for
real, with libNVVM from the pinned ``nvidia-cuda-nvcc-cu12`` wheel (``tests/compile_ptx.py``
finds it; nothing is skipped when it is missing: the test fails).  ``ci/ptx-check.sh`` runs
the same script with numba 0.57.1 and 0.56.4.
"""
import os
import subprocess
import sys

import numba
import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "compile_ptx.py")
#: mask_random (thread and warp per row), mask_last and mask_extended (last-item rows, 80/10/10),
#: each with int32 and int64 offsets (ids reach the kernels as uint64), for compute capabilities
#: 7.0, 8.0 and 9.0.
COMPILATIONS = 4 * 2 * 3


@pytest.mark.skipif(tuple(int(x) for x in numba.__version__.split(".")[:2]) < (0, 57),
                    reason="numba 0.56 (the Merlin 23.08 leg) needs CUDA 11's libNVVM: ci/ptx-check.sh compiles "
                           "the kernels with it; under the container's CUDA 12.1 the engine falls back to CuPy")
def test_every_cuda_kernel_compiles_to_ptx_with_the_pinned_numba():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "CUDA_"))}
    run = subprocess.run([sys.executable, SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert f"compiled-ok {COMPILATIONS}" in run.stdout, run.stdout
