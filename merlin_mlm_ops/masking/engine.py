"""Chooses the implementation of the rules for an array library: fused kernel or reference.

``backend="auto"`` (the default) takes the fused kernel for the arrays' library (numba on
NumPy, CUDA on CuPy) and the reference otherwise; ``"reference"`` and ``"fused"`` force one.
The environment variable ``MERLIN_MLM_OPS_BACKEND`` sets the default for a process
(benchmarks and tests use it to compare both on the same data).

Under ``"auto"`` the fast path is never a reason to fail: when the kernel module cannot be
imported, or a kernel fails to compile or launch (any exception: an old numba that cannot lower
it, no libNVVM, a driver error), the engine warns once per array library, saying why, and uses
the reference (same masks, slower) from then on in this process.  ``"fused"`` raises instead.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from merlin_mlm_ops.masking import hashing, rules
from merlin_mlm_ops.masking.arrays import array_module

BACKENDS = ("auto", "fused", "reference")


def _backend(backend):
    backend = backend or os.environ.get("MERLIN_MLM_OPS_BACKEND", "auto")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


#: Array library ("numpy"/"cupy") -> why its fused kernels are not used in this process.
_FALLEN_BACK: dict = {}


def _run(xp, backend, fused_call, reference_call):
    """``fused_call(kernel module)``, or ``reference_call()`` when the fused path is off or fails."""
    if backend == "reference":
        return reference_call()
    lib = "numpy" if xp is np else "cupy"
    if backend == "auto" and lib in _FALLEN_BACK:
        return reference_call()
    try:
        if xp is np:
            from merlin_mlm_ops.masking import kernels_cpu as fused
        else:
            from merlin_mlm_ops.masking import kernels_gpu as fused
        return fused_call(fused)
    except Exception as exc:  # noqa: BLE001 - any compile, toolchain or driver error: see module doc
        if backend == "fused":
            raise
        _fall_back(lib, exc)
    return reference_call()


def _fall_back(lib, exc):
    reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]
    _FALLEN_BACK[lib] = reason
    target = "CPU (numba)" if lib == "numpy" else "CUDA (numba.cuda)"
    warnings.warn(f"merlin-mlm-ops: the fused {target} masking kernel is unavailable ({reason}); "
                  f"using the {lib} reference implementation in this process from now on "
                  "(same masks, slower)", RuntimeWarning, stacklevel=4)


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
    params = dict(seed=seed, epoch=epoch, prob=prob, min_masked=min_masked,
                  max_masked=max_masked, pad_id=pad_id)

    def reference():
        keys = hashing.content_row_keys(values_u64, offsets, xp) if row_keys is None else row_keys
        return rules.mask_random(values_u64, offsets, keys, xp=xp, **params)

    return _run(xp, _backend(backend), lambda fused: fused.mask_random(values_u64, offsets, row_keys, **params),
                reference)


def random_mask_extended(values, offsets, row_keys, *, seed, epoch, prob, min_masked, max_masked, pad_id,
                         last_ratio=0.0, replace=None, draw=None, backend=None):
    """The random mask with last-item rows (``last_ratio``) and 80/10/10 input ids (``replace``).

    Returns ``(mask, input_ids)``: ``input_ids`` (in the dtype of ``values``) is None when
    ``replace`` is None.  ``draw`` is a :class:`rules.ItemDraw`, needed when ``replace`` gives the
    random item a share.  With ``last_ratio=0`` and ``replace=None`` the mask equals
    :func:`random_mask`'s.
    """
    xp = array_module(values)
    values_u64 = hashing.as_uint64(values, xp)
    params = dict(seed=seed, epoch=epoch, prob=prob, min_masked=min_masked, max_masked=max_masked, pad_id=pad_id)

    def reference():
        keys = hashing.content_row_keys(values_u64, offsets, xp) if row_keys is None else row_keys
        mask, last = rules.mask_random_or_last(values_u64, offsets, keys, last_ratio=last_ratio, xp=xp, **params)
        if replace is None:
            return mask, None
        ids, _ = rules.corrupted_input(values_u64, offsets, keys, mask, last, seed=seed, epoch=epoch,
                                       replace=replace, draw=draw, pad_id=pad_id, xp=xp)
        return mask, ids

    def fused(kernels):
        return kernels.mask_extended(values_u64, offsets, row_keys, last_ratio=last_ratio, replace=replace,
                                     draw=draw, **params)

    mask, ids_u64 = _run(xp, _backend(backend), fused, reference)
    if ids_u64 is None or values.dtype == ids_u64.dtype:
        return mask, ids_u64
    return mask, ids_u64.view(xp.int64).astype(values.dtype, copy=False)


def last_mask(values, offsets, *, pad_id, backend=None):
    """The last-eligible-position mask of flat rows."""
    xp = array_module(values)
    values_u64 = hashing.as_uint64(values, xp)
    return _run(xp, _backend(backend), lambda fused: fused.mask_last(values_u64, offsets, pad_id=pad_id),
                lambda: rules.mask_last(values_u64, offsets, pad_id=pad_id, xp=xp))
