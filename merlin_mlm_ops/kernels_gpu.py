"""Fused GPU kernels (numba.cuda, one thread per row) on CuPy arrays.

They compile the same per-row source as the CPU kernels (:mod:`merlin_mlm_ops.row_kernels`,
here through ``cuda.jit(device=True)``), so CPU and GPU masks are equal by construction, and
are tested against the NumPy reference: on a GPU by ``tests/test_gpu.py`` and
``ci/gpu-check.sh``, elsewhere through numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``,
which runs the kernels on NumPy arrays), and compiled to PTX for every signature the engine
launches by ``tests/test_kernels_compile_ptx.py`` (no GPU needed).

Kernels are launched on CuPy's current stream, so they are ordered with the CuPy work around
them also under per-thread default streams.  Importing this module needs ``numba.cuda``;
``engine`` falls back to the CuPy reference when it is missing or a kernel fails to compile
or launch.
"""
from __future__ import annotations

import numpy as np
from numba import cuda

from merlin_mlm_ops import row_kernels
from merlin_mlm_ops.kernel_args import last_args, random_args

THREADS_PER_BLOCK = 128

_ROWS = row_kernels.build(lambda inline: cuda.jit(device=True))
_content_key = _ROWS.content_key
_mask_random_row = _ROWS.mask_random_row
_mask_last_row = _ROWS.mask_last_row


@cuda.jit
def mask_random_kernel(values, offsets, row_keys, use_row_keys, stream_key, threshold,
                       min_masked, max_masked, use_pad, pad, out):
    r = cuda.grid(1)
    if r < offsets.shape[0] - 1:
        start = offsets[r]
        end = offsets[r + 1]
        key = row_keys[r] if use_row_keys else _content_key(values, start, end, r)
        _mask_random_row(values, start, end, key, stream_key, threshold, min_masked,
                         max_masked, use_pad, pad, out)


@cuda.jit
def mask_last_kernel(values, offsets, use_pad, pad, out):
    r = cuda.grid(1)
    if r < offsets.shape[0] - 1:
        _mask_last_row(values, offsets[r], offsets[r + 1], use_pad, pad, out)


def _launch(kernel, args, n_rows):
    if n_rows > 0:
        blocks = (n_rows + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        kernel[blocks, THREADS_PER_BLOCK, _stream(args[0])](*args)


def _stream(values):
    """CuPy's current stream as a numba stream (numba's default would be the legacy stream)."""
    if isinstance(values, np.ndarray):  # NumPy arrays under the CUDA simulator
        return 0
    import cupy

    return cuda.external_stream(cupy.cuda.get_current_stream().ptr)


def _xp(values):
    from merlin_mlm_ops.engine import array_module

    return array_module(values)


def mask_random(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1,
                max_masked=None, pad_id=0):
    """Fused equivalent of :func:`rules.mask_random` on device arrays."""
    xp = _xp(values_u64)
    out = xp.empty(values_u64.shape[0], dtype=xp.bool_)
    args = random_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id, xp)
    _launch(mask_random_kernel, (*args, out), offsets.shape[0] - 1)
    return out


def mask_last(values_u64, offsets, *, pad_id=0):
    """Fused equivalent of :func:`rules.mask_last` on device arrays."""
    xp = _xp(values_u64)
    out = xp.empty(values_u64.shape[0], dtype=xp.bool_)
    _launch(mask_last_kernel, (*last_args(values_u64, offsets, pad_id), out), offsets.shape[0] - 1)
    return out
