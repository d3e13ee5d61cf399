"""Chooses the implementation of the rules for an array library: fused kernel or reference.

``backend="auto"`` (the default) takes the fused kernel for the arrays' library (numba on
NumPy, CUDA on CuPy) when it is importable and the reference otherwise; ``"reference"`` and
``"fused"`` force one.  The environment variable ``MERLIN_MLM_OPS_BACKEND`` sets the default
for a process (benchmarks and tests use it to compare both on the same data).
"""
from __future__ import annotations

import os

import numpy as np

from merlin_mlm_ops import hashing, rules

BACKENDS = ("auto", "fused", "reference")


def array_module(arr):
    """``numpy`` for NumPy arrays, ``cupy`` for CuPy arrays."""
    if isinstance(arr, np.ndarray):
        return np
    import cupy  # only reached with device arrays, so cupy is present

    return cupy


def _backend(backend):
    backend = backend or os.environ.get("MERLIN_MLM_OPS_BACKEND", "auto")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def _fused_module(xp, backend):
    if backend == "reference":
        return None
    try:
        if xp is np:
            from merlin_mlm_ops import kernels_cpu as fused
        else:
            from merlin_mlm_ops import kernels_gpu as fused
    except ImportError:
        if backend == "fused":
            raise
        return None
    return fused


def row_keys_from_column(kind, data, offsets, xp=np):
    """uint64 row keys from a key column taken apart by an adapter (``"int"`` or ``"str"``)."""
    if kind == "int":
        return hashing.integer_row_keys(data, xp)
    return hashing.string_row_keys(data, offsets, xp)


def random_mask(values, offsets, row_keys, *, seed, epoch, prob, min_masked, max_masked,
                pad_id, backend=None):
    """The random mask of flat rows; ``row_keys=None`` keys rows by content and ordinal."""
    xp = array_module(values)
    values_u64 = hashing.as_uint64(values, xp)
    fused = _fused_module(xp, _backend(backend))
    params = dict(seed=seed, epoch=epoch, prob=prob, min_masked=min_masked,
                  max_masked=max_masked, pad_id=pad_id)
    if fused is not None:
        return fused.mask_random(values_u64, offsets, row_keys, **params)
    if row_keys is None:
        row_keys = hashing.content_row_keys(values_u64, offsets, xp)
    return rules.mask_random(values_u64, offsets, row_keys, xp=xp, **params)


def last_mask(values, offsets, *, pad_id, backend=None):
    """The last-eligible-position mask of flat rows."""
    xp = array_module(values)
    values_u64 = hashing.as_uint64(values, xp)
    fused = _fused_module(xp, _backend(backend))
    if fused is not None:
        return fused.mask_last(values_u64, offsets, pad_id=pad_id)
    return rules.mask_last(values_u64, offsets, pad_id=pad_id, xp=xp)
