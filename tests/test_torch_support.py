"""PyTorch tests skip cleanly without torch, and fail instead where CI's PyTorch step demands them."""
import pytest
from torch_support import REQUIRE_ENV, require


def test_a_missing_module_skips_the_tests_with_the_install_command(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs no_such_module_xyz: pip install -r requirements-torch.txt"):
        require("no_such_module_xyz")


def test_a_missing_module_fails_the_tests_where_the_step_requires_torch(monkeypatch):
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="MERLIN_MLM_OPS_REQUIRE_TORCH is set but needs no_such_module_xyz"):
        require("no_such_module_xyz")


def test_importing_merlin_mlm_ops_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, merlin_mlm_ops, merlin_mlm_ops.masking.rules; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_ci_torch_step_requires_torch_runs_every_torch_test_and_is_called_after_the_main_leg():
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    step = open(os.path.join(root, "ci", "test-torch.sh")).read()
    assert f"export {REQUIRE_ENV}=1" in step and "tests/test_torch_*.py merlin_mlm_ops/torch" in step
    assert "set -euo pipefail" in step and "exit $status" in step
    run = open(os.path.join(root, ".ci", "run")).read()
    assert run.index("bash ci/test.sh -q || status=1") < run.index("bash ci/test-torch.sh -q || status=1")
