"""Fused GPU kernels (numba.cuda, one thread per row) on CuPy arrays.

They compile the same per-row source as the CPU kernels (:mod:`merlin_mlm_ops.masking.row_kernels`,
here through ``cuda.jit(device=True)``), so CPU and GPU masks are equal by construction, and
are tested against the NumPy reference: on a GPU by ``tests/test_gpu.py`` and
``ci/gpu-check.sh``, elsewhere through numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``,
which runs the kernels on NumPy arrays), and compiled to PTX for every signature the engine
launches by ``tests/test_kernels_compile_ptx.py`` (no GPU needed).

The kernel with last-item rows and 80/10/10 (``mask_extended_kernel``) runs one thread per row
only; the default mask keeps both the thread and the warp kernels.

Kernels are launched on CuPy's current stream, so they are ordered with the CuPy work around
them also under per-thread default streams.  Importing this module needs ``numba.cuda``;
``engine`` falls back to the CuPy reference when it is missing or a kernel fails to compile
or launch.
"""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.masking.numba_cuda_compat import restore_row_stack

restore_row_stack()  # before numba.cuda loads its registries: numba-cuda 0.30 + NumPy 2.5 (see that module)
from numba import cuda  # noqa: E402

from merlin_mlm_ops.masking import row_kernels  # noqa: E402
from merlin_mlm_ops.masking.kernel_args import extended_args, last_args, random_args  # noqa: E402

THREADS_PER_BLOCK = 128
WARPS_PER_BLOCK = THREADS_PER_BLOCK // 32
COUNTS_SHAPE = (2, WARPS_PER_BLOCK)

_ROWS = row_kernels.build(lambda inline: cuda.jit(device=True))
_mix = _ROWS.mix
_position_hash = _ROWS.position_hash
_settle = _ROWS.settle
_content_key = _ROWS.content_key
_mask_random_row = _ROWS.mask_random_row
_mask_last_row = _ROWS.mask_last_row
_mask_random_or_last_row = _ROWS.mask_random_or_last_row
_corrupt_row = _ROWS.corrupt_row


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
def mask_random_warp_kernel(values, offsets, row_keys, use_row_keys, stream_key, threshold,
                            min_masked, max_masked, use_pad, pad, out):
    """The same mask, one warp per row: lanes take every 32nd position, so the hashing of a
    long row is spread over 32 threads and its loads are coalesced; the rare rows whose draw
    must be corrected (``k != drawn``) are settled by lane 0 with the row logic.

    Per-row sums go through shared-memory atomics rather than warp shuffles, which numba's CUDA
    simulator (the CI check) does not provide; hence block barriers, which every thread must
    reach: no early return.
    """
    key_sum = cuda.shared.array(WARPS_PER_BLOCK, dtype=np.uint64)
    counts = cuda.shared.array(COUNTS_SHAPE, dtype=np.int64)  # drawn, eligible
    w = cuda.threadIdx.x // 32
    lane = cuda.threadIdx.x % 32
    r = cuda.grid(1) // 32
    active = r < offsets.shape[0] - 1
    start = offsets[r] if active else 0
    end = offsets[r + 1] if active else 0
    if lane == 0:
        key_sum[w] = 0
        counts[0, w] = 0
        counts[1, w] = 0
    cuda.syncthreads()
    if active and not use_row_keys:  # row_kernels.content_key, summed across lanes (mod 2**64)
        part = np.uint64(0)
        for i in range(start + lane, end, 32):
            part += _position_hash(values[i], start, i)
        cuda.atomic.add(key_sum, w, part)
    cuda.syncthreads()
    row_hash = np.uint64(0)
    if active:
        key = row_keys[r] if use_row_keys else _mix(key_sum[w] + _mix(np.uint64(r + 1) * row_kernels.GOLDEN))
        row_hash = _mix(key ^ stream_key)
        drawn = 0
        n_eligible = 0
        for i in range(start + lane, end, 32):
            eligible = not use_pad or values[i] != pad
            hit = eligible and (_position_hash(row_hash, start, i) >> row_kernels.S11) < threshold
            n_eligible += eligible
            drawn += hit
            out[i] = hit
        cuda.atomic.add(counts, (0, w), drawn)
        cuda.atomic.add(counts, (1, w), n_eligible)
    cuda.syncthreads()  # also orders the other lanes' writes to out before lane 0 reads them
    if active and lane == 0:
        _settle(values, start, end, row_hash, use_pad, pad, out, counts[0, w], counts[1, w],
                min_masked, max_masked)


@cuda.jit
def mask_extended_kernel(values, offsets, row_keys, use_row_keys, stream_key, threshold, min_masked, max_masked,
                         use_pad, pad, last_key, last_threshold, use_replace, replace_key, t_mask, t_random,
                         low, n, use_skip, skip, use_cdf, cdf, out, out_input):
    """The random mask with last-item rows and the 80/10/10 input ids, one thread per row."""
    r = cuda.grid(1)
    if r < offsets.shape[0] - 1:
        start = offsets[r]
        end = offsets[r + 1]
        key = row_keys[r] if use_row_keys else _content_key(values, start, end, r)
        is_last = _mask_random_or_last_row(values, start, end, key, stream_key, threshold, min_masked,
                                           max_masked, use_pad, pad, last_key, last_threshold, out)
        if use_replace:
            _corrupt_row(values, start, end, key, replace_key, t_mask, t_random, is_last, pad,
                         low, n, use_skip, skip, use_cdf, cdf, out, out_input)


@cuda.jit
def mask_last_kernel(values, offsets, use_pad, pad, out):
    r = cuda.grid(1)
    if r < offsets.shape[0] - 1:
        _mask_last_row(values, offsets[r], offsets[r + 1], use_pad, pad, out)


def _launch(kernel, args, n_rows):
    if n_rows > 0:
        threads = n_rows * (32 if kernel is mask_random_warp_kernel else 1)
        blocks = (threads + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK
        kernel[blocks, THREADS_PER_BLOCK, _stream(args[0])](*args)


def _stream(values):
    """CuPy's current stream as a numba stream (numba's default would be the legacy stream)."""
    if isinstance(values, np.ndarray):  # NumPy arrays under the CUDA simulator
        return 0
    import cupy

    return cuda.external_stream(cupy.cuda.get_current_stream().ptr)


def _xp(values):
    from merlin_mlm_ops.masking.arrays import array_module

    return array_module(values)


def mask_random(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1,
                max_masked=None, pad_id=0, per_row="thread"):
    """Fused equivalent of :func:`rules.mask_random` on device arrays.

    ``per_row``: ``"thread"`` (default) runs one thread per row, ``"warp"`` one warp per row
    (meant for long rows; same masks; not yet timed on a GPU, see ``benchmarks/mask_gpu.py``).
    """
    if per_row not in ("thread", "warp"):
        raise ValueError(f"per_row must be 'thread' or 'warp', got {per_row!r}")
    xp = _xp(values_u64)
    out = xp.empty(values_u64.shape[0], dtype=xp.bool_)
    args = random_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id, xp)
    kernel = mask_random_warp_kernel if per_row == "warp" else mask_random_kernel
    _launch(kernel, (*args, out), offsets.shape[0] - 1)
    return out


def mask_extended(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1, max_masked=None,
                  pad_id=0, last_ratio=0.0, replace=None, draw=None):
    """Fused equivalent of :func:`rules.mask_random_or_last` + :func:`rules.corrupted_input` on device
    arrays (one thread per row); returns ``(mask, input_u64 or None)``."""
    xp = _xp(values_u64)
    n_items = values_u64.shape[0]
    out = xp.empty(n_items, dtype=xp.bool_)
    out_input = xp.empty(n_items if replace is not None else 0, dtype=xp.uint64)
    args = extended_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id,
                         last_ratio, replace, draw, xp)
    _launch(mask_extended_kernel, (*args, out, out_input), offsets.shape[0] - 1)
    return out, (out_input if replace is not None else None)


def mask_last(values_u64, offsets, *, pad_id=0):
    """Fused equivalent of :func:`rules.mask_last` on device arrays."""
    xp = _xp(values_u64)
    out = xp.empty(values_u64.shape[0], dtype=xp.bool_)
    _launch(mask_last_kernel, (*last_args(values_u64, offsets, pad_id), out), offsets.shape[0] - 1)
    return out
