"""Fused CPU kernels (numba): one pass per row, equal bit for bit to :mod:`merlin_mlm_ops.masking.rules`.

The reference makes ~20 full passes over temporaries; these kernels make one (the per-row
logic is :mod:`merlin_mlm_ops.masking.row_kernels`, compiled here by ``numba.njit``, shared with the
GPU kernel).
``tests/test_kernels_match_reference.py`` proves equality on random and edge-case inputs.

The kernels are serial and release the GIL (``nogil``).  A large partition is split into
row ranges run on a small thread pool (``MERLIN_MLM_OPS_THREADS``, default: the CPU count, at
most 8).  Plain Python threads are used rather than ``parallel=True``: Dask already calls
operators from several threads, and numba's default (workqueue) threading layer aborts when
two threads launch parallel kernels at once.

Compiled kernels are cached in ``__pycache__`` (``cache=True``).  numba checks only this
file's timestamp, not that of ``row_kernels.py``: after editing ``row_kernels.py`` in a
checkout, delete ``merlin_mlm_ops/__pycache__/*.nb[ic]`` (an installed release ships both
files together, so upgrades invalidate the cache).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from merlin_mlm_ops.masking import row_kernels
from merlin_mlm_ops.masking.kernel_args import extended_args, last_args, random_args

_ROWS = row_kernels.build(lambda inline: numba.njit(nogil=True, inline="always" if inline else "never"))
_content_key = _ROWS.content_key
_mask_random_row = _ROWS.mask_random_row
_mask_last_row = _ROWS.mask_last_row
_mask_random_or_last_row = _ROWS.mask_random_or_last_row
_corrupt_row = _ROWS.corrupt_row

#: Below this many items a partition is masked on the calling thread alone.
PARALLEL_MIN_ITEMS = 2_000_000
_POOL = None


@numba.njit(cache=True, nogil=True)
def mask_random_kernel(values, offsets, row_keys, use_row_keys, stream_key, threshold,
                       min_masked, max_masked, use_pad, pad, out, row_begin, row_end):
    """Fill ``out`` (bool, aligned with ``values``) with the random mask of rows [row_begin, row_end)."""
    for r in range(row_begin, row_end):
        start = offsets[r]
        end = offsets[r + 1]
        key = row_keys[r] if use_row_keys else _content_key(values, start, end, r)
        _mask_random_row(values, start, end, key, stream_key, threshold, min_masked,
                         max_masked, use_pad, pad, out)


@numba.njit(cache=True, nogil=True)
def mask_last_kernel(values, offsets, use_pad, pad, out, row_begin, row_end):
    """Fill ``out`` with True at the last eligible position of rows [row_begin, row_end)."""
    for r in range(row_begin, row_end):
        _mask_last_row(values, offsets[r], offsets[r + 1], use_pad, pad, out)


@numba.njit(cache=True, nogil=True)
def mask_extended_kernel(values, offsets, row_keys, use_row_keys, stream_key, threshold, min_masked, max_masked,
                         use_pad, pad, last_key, last_threshold, use_replace, replace_key, t_mask, t_random,
                         low, n, use_skip, skip, use_cdf, cdf, out, out_input, row_begin, row_end):
    """The random mask with last-item rows, and the 80/10/10 input ids when ``use_replace``."""
    for r in range(row_begin, row_end):
        start = offsets[r]
        end = offsets[r + 1]
        key = row_keys[r] if use_row_keys else _content_key(values, start, end, r)
        is_last = _mask_random_or_last_row(values, start, end, key, stream_key, threshold, min_masked,
                                           max_masked, use_pad, pad, last_key, last_threshold, out)
        if use_replace:
            _corrupt_row(values, start, end, key, replace_key, t_mask, t_random, is_last, pad,
                         low, n, use_skip, skip, use_cdf, cdf, out, out_input)


def mask_extended(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1, max_masked=None,
                  pad_id=0, last_ratio=0.0, replace=None, draw=None):
    """Fused equivalent of :func:`rules.mask_random_or_last` + :func:`rules.corrupted_input`.

    Returns ``(mask, input_u64)``; ``input_u64`` is None when ``replace`` is None.
    """
    n_items = values_u64.shape[0]
    out = np.empty(n_items, dtype=np.bool_)
    out_input = np.empty(n_items if replace is not None else 0, dtype=np.uint64)
    args = extended_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id,
                         last_ratio, replace, draw, np)
    _run_in_row_ranges(mask_extended_kernel, (*args, out, out_input), offsets)
    return out, (out_input if replace is not None else None)


def mask_random(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1,
                max_masked=None, pad_id=0):
    """Fused equivalent of :func:`rules.mask_random` on NumPy arrays.

    ``row_keys=None`` derives each row's key from its content and ordinal, as
    :func:`hashing.content_row_keys` does, inside the same pass.
    """
    out = np.empty(values_u64.shape[0], dtype=np.bool_)
    args = random_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id, np)
    _run_in_row_ranges(mask_random_kernel, (*args, out), offsets)
    return out


def mask_last(values_u64, offsets, *, pad_id=0):
    """Fused equivalent of :func:`rules.mask_last` on NumPy arrays."""
    out = np.empty(values_u64.shape[0], dtype=np.bool_)
    _run_in_row_ranges(mask_last_kernel, (*last_args(values_u64, offsets, pad_id), out), offsets)
    return out


def _threads():
    return max(1, int(os.environ.get("MERLIN_MLM_OPS_THREADS", min(os.cpu_count() or 1, 8))))


def _run_in_row_ranges(kernel, args, offsets):
    """Run ``kernel(*args, row_begin, row_end)`` over all rows, in parallel row ranges when large."""
    global _POOL
    n_rows = offsets.shape[0] - 1
    threads = _threads()
    if threads == 1 or offsets[-1] < PARALLEL_MIN_ITEMS:
        kernel(*args, 0, n_rows)
        return
    if _POOL is None or _POOL._max_workers != threads:
        _POOL = ThreadPoolExecutor(threads, thread_name_prefix="merlin-mlm-ops")
    # Equal item counts per range, so that long and short rows balance.
    bounds = np.searchsorted(offsets, np.linspace(0, offsets[-1], threads + 1)[1:-1])
    edges = [0, *sorted(set(int(b) for b in bounds)), n_rows]
    futures = [_POOL.submit(kernel, *args, lo, hi) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo]
    for future in futures:
        future.result()
