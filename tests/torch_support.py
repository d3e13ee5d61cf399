"""Import the PyTorch side or skip the calling test module (fail instead in CI's PyTorch step).

The PyTorch tests need ``requirements-torch.txt``, which CI adds to .venv only in its own step
(``ci/test-torch.sh``); elsewhere they skip with the reason. That step sets
``MERLIN_MLM_OPS_REQUIRE_TORCH=1``, under which a missing module fails the tests instead, so the
step cannot pass with every PyTorch test skipped.
"""
import importlib
import os

import pytest

REQUIRE_ENV = "MERLIN_MLM_OPS_REQUIRE_TORCH"
INSTALL = "pip install -r requirements-torch.txt -c constraints.txt -c constraints-torch.txt (ci/env-torch.sh)"


def require(*modules):
    """Import ``modules`` (names); skip the calling module when one is missing, or fail under $MERLIN_MLM_OPS_REQUIRE_TORCH."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            reason = f"needs {name}: {INSTALL} ({exc})"
            if os.environ.get(REQUIRE_ENV):
                pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
            pytest.skip(reason, allow_module_level=True)
