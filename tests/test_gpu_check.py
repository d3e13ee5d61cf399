"""``ci/gpu-check.sh`` cannot pass where its GPU tests would all be skipped."""
import os
import subprocess

import pytest

from merlin_mlm_ops.masking.gpu import has_gpu

from helpers import ROOT


@pytest.mark.skipif(has_gpu(), reason="on a GPU machine the check runs for real (ci/gpu-check.sh)")
def test_gpu_check_fails_without_a_gpu(tmp_path):
    run = subprocess.run(["bash", os.path.join(ROOT, "ci", "gpu-check.sh")], env=dict(os.environ, OUT=str(tmp_path)),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "NO GPU VISIBLE TO CUPY: GPU CHECK FAILED" in (tmp_path / "gpu-check.log").read_text()
