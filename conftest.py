"""Test set-up for tests/ and the doctests: quiet third-party noise, a derandomised hypothesis profile."""
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=".*CPU mode.*")
warnings.filterwarnings("ignore", message=".*PyTorch dtype mappings.*")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Derandomised: every run explores the same examples, so a property test cannot flake.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=150,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def sessions_df():
    from merlin_mlm_ops.data.synthetic import make_sessions

    return make_sessions(300, n_items=200, mean_length=8, seed=3)

# Runs only inside Triton's python backend (it imports triton_python_backend_utils); the serving
# tests exercise it through a real server.
collect_ignore = ["merlin_mlm_ops/serving/executor_model.py"]

# merlin_mlm_ops.torch needs requirements-torch.txt (CI adds it in its own step, ci/test-torch.sh): where torch or
# transformers4rec is missing, the doctests of the modules that import them are not collected.
import importlib.util  # noqa: E402

if importlib.util.find_spec("torch") is None:
    collect_ignore_glob = ["merlin_mlm_ops/torch/*.py"]
elif importlib.util.find_spec("transformers4rec") is None:
    collect_ignore.append("merlin_mlm_ops/torch/t4r.py")
