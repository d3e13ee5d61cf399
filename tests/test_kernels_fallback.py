"""Under backend="auto" an unavailable fused kernel falls back to the reference: once, with a
warning saying why, never an error.  ``backend="fused"`` still raises."""
import sys
import warnings

import numpy as np
import pytest
from numba.core.errors import LoweringError

from merlin_mlm_ops.masking import engine, hashing, kernels_cpu, rules

from helpers import random_rows

PARAMS = dict(seed=3, epoch=1, prob=0.3, min_masked=1, max_masked=None, pad_id=0)


@pytest.fixture(autouse=True)
def fresh_engine(monkeypatch):
    monkeypatch.setattr(engine, "_FALLEN_BACK", {})


def reference(values, offsets):
    v64 = hashing.as_uint64(values)
    return rules.mask_random(v64, offsets, hashing.content_row_keys(v64, offsets), **PARAMS)


def broken(*args, **kwargs):
    # What numba < 0.57 raised for the CUDA kernel: a lowering error on first launch.
    raise LoweringError("No definition for lowering content_key")


def test_a_kernel_that_fails_to_compile_falls_back_once_with_a_warning(monkeypatch):
    monkeypatch.setattr(kernels_cpu, "mask_random", broken)
    monkeypatch.setattr(kernels_cpu, "mask_last", broken)
    values, offsets = random_rows(300, seed=1)
    with pytest.warns(RuntimeWarning, match=r"fused CPU \(numba\) masking kernel is unavailable "
                                            r"\(LoweringError: No definition for lowering content_key\)"):
        got = engine.random_mask(values, offsets, None, **PARAMS)
    assert np.array_equal(got, reference(values, offsets))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: no second warning, and the kernel is not retried
        again = engine.random_mask(values, offsets, None, **PARAMS)
        last = engine.last_mask(values, offsets, pad_id=0)
    assert np.array_equal(again, got)
    assert np.array_equal(last, rules.mask_last(hashing.as_uint64(values), offsets, pad_id=0))


def test_a_kernel_module_that_fails_to_import_falls_back(monkeypatch):
    import merlin_mlm_ops.masking

    monkeypatch.delattr(merlin_mlm_ops.masking, "kernels_cpu")
    monkeypatch.setitem(sys.modules, "merlin_mlm_ops.masking.kernels_cpu", None)  # import raises ImportError
    values, offsets = random_rows(100, seed=2)
    with pytest.warns(RuntimeWarning, match="ModuleNotFoundError: import of merlin_mlm_ops.masking.kernels_cpu"):
        got = engine.random_mask(values, offsets, None, **PARAMS)
    assert np.array_equal(got, reference(values, offsets))


def test_backend_fused_raises_instead_of_falling_back(monkeypatch):
    monkeypatch.setattr(kernels_cpu, "mask_random", broken)
    values, offsets = random_rows(10, seed=3)
    with pytest.raises(LoweringError):
        engine.random_mask(values, offsets, None, backend="fused", **PARAMS)
    assert engine._FALLEN_BACK == {}


def test_the_working_kernel_is_used_without_a_warning():
    values, offsets = random_rows(100, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(engine.random_mask(values, offsets, None, **PARAMS), reference(values, offsets))
    assert engine._FALLEN_BACK == {}
