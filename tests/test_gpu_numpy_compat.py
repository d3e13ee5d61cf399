"""numba-cuda 0.30 compiles under NumPy 2.5 because ``kernels_gpu`` restores ``numpy.row_stack`` first.

The compilation itself (numba-cuda 0.30.4 with NumPy 2.5.5, to PTX) is checked by ``ci/gpu-rehearsal.sh``;
these tests pin down what the shim does and does not touch.
"""
import numpy as np

from merlin_mlm_ops.masking import numba_cuda_compat


def test_a_missing_row_stack_becomes_vstack(monkeypatch):
    monkeypatch.delattr(np, "row_stack", raising=False)
    numba_cuda_compat.restore_row_stack()
    assert np.row_stack is np.vstack
    assert np.row_stack(([1, 2], [3, 4])).tolist() == [[1, 2], [3, 4]]


def test_an_existing_row_stack_is_left_alone(monkeypatch):
    sentinel = object.__new__(type("RowStack", (), {"__call__": lambda self, *a: None}))
    monkeypatch.setattr(np, "row_stack", sentinel, raising=False)
    numba_cuda_compat.restore_row_stack()
    assert np.row_stack is sentinel
