"""Fused CPU kernels (numba): one pass per row, equal bit for bit to :mod:`merlin_mlm_ops.rules`.

The reference makes ~20 full passes over temporaries; these kernels make one, and only
sort the eligible positions of the rare rows whose draw broke ``min_masked``/``max_masked``.
``tests/test_kernels_match_reference.py`` proves equality on random and edge-case inputs.

The kernels are serial and release the GIL (``nogil``).  A large partition is split into
row ranges run on a small thread pool (``MERLIN_MLM_OPS_THREADS``, default: the CPU count, at
most 8).  Plain Python threads are used rather than ``parallel=True``: Dask already calls
operators from several threads, and numba's default (workqueue) threading layer aborts when
two threads launch parallel kernels at once.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from merlin_mlm_ops import hashing

_GOLDEN = np.uint64(hashing.GOLDEN)
_MIX1 = np.uint64(hashing.MIX1)
_MIX2 = np.uint64(hashing.MIX2)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)


@numba.njit(inline="always")
def _mix(z):
    z = z ^ (z >> _S30)
    z = z * _MIX1
    z = z ^ (z >> _S27)
    z = z * _MIX2
    return z ^ (z >> _S31)


@numba.njit(inline="always")
def _content_key(values, start, end, ordinal):
    total = np.uint64(0)
    for i in range(start, end):
        total += _mix(values[i] + np.uint64(i - start + 1) * _GOLDEN)
    return _mix(total + _mix(np.uint64(ordinal + 1) * _GOLDEN))


@numba.njit(cache=True, nogil=True)
def mask_random_kernel(values, offsets, row_keys, use_row_keys, stream_key, threshold,
                       min_masked, max_masked, use_pad, pad, out, row_begin, row_end):
    """Fill ``out`` (bool, aligned with ``values``) with the random mask of rows [row_begin, row_end)."""
    for r in range(row_begin, row_end):
        start = offsets[r]
        end = offsets[r + 1]
        if use_row_keys:
            key = row_keys[r]
        else:
            key = _content_key(values, start, end, r)
        row_hash = _mix(key ^ stream_key)
        # Branch-free loop bodies (the pad test is hoisted) let LLVM vectorise the hashing.
        n_eligible = 0
        drawn = 0
        if use_pad:
            for i in range(start, end):
                h = _mix(row_hash + np.uint64(i - start + 1) * _GOLDEN)
                eligible = values[i] != pad
                hit = eligible & ((h >> _S11) < threshold)
                n_eligible += eligible
                drawn += hit
                out[i] = hit
        else:
            for i in range(start, end):
                hit = (_mix(row_hash + np.uint64(i - start + 1) * _GOLDEN) >> _S11) < threshold
                drawn += hit
                out[i] = hit
            n_eligible = end - start
        visible = n_eligible - 1 if n_eligible >= 2 else n_eligible
        lo = min(visible, min_masked)
        hi = min(visible, max_masked)
        k = min(max(drawn, lo), hi)
        if k != drawn:
            _fix_row(values, start, end, row_hash, use_pad, pad, k, drawn, n_eligible, out)


@numba.njit(inline="always")
def _fix_row(values, start, end, row_hash, use_pad, pad, k, drawn, n_eligible, out):
    """Make the row's mask the k eligible positions with the smallest (hash, position).

    All drawn positions hash below all undrawn ones, so a small correction is a few
    selection passes (add the smallest undrawn, or drop the largest drawn); a large one
    sorts the row.  Both give the same set.
    """
    if abs(k - drawn) <= 8:
        for _ in range(abs(k - drawn)):
            best = -1
            best_h = np.uint64(0)
            for i in range(start, end):
                if use_pad and values[i] == pad:
                    continue
                h = _mix(row_hash + np.uint64(i - start + 1) * _GOLDEN)
                if k > drawn:  # add the smallest (h, i) not yet masked: strict < keeps the earlier i
                    if not out[i] and (best < 0 or h < best_h):
                        best, best_h = i, h
                else:  # drop the largest (h, i) masked: >= moves ties to the later i
                    if out[i] and (best < 0 or h >= best_h):
                        best, best_h = i, h
            out[best] = k > drawn
        return
    hashes = np.empty(n_eligible, dtype=np.uint64)
    where = np.empty(n_eligible, dtype=np.int64)
    j = 0
    for i in range(start, end):
        if not use_pad or values[i] != pad:
            hashes[j] = _mix(row_hash + np.uint64(i - start + 1) * _GOLDEN)
            where[j] = i
            j += 1
    order = np.argsort(hashes, kind="mergesort")  # stable: ties go to the earlier position
    for j in range(n_eligible):
        out[where[order[j]]] = j < k


@numba.njit(cache=True, nogil=True)
def mask_last_kernel(values, offsets, use_pad, pad, out):
    """Fill ``out`` with True at the last eligible position of every row."""
    n_rows = offsets.shape[0] - 1
    for r in range(n_rows):
        start = offsets[r]
        end = offsets[r + 1]
        for i in range(start, end):
            out[i] = False
        for i in range(end - 1, start - 1, -1):
            if not use_pad or values[i] != pad:
                out[i] = True
                break


def mask_random(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1,
                max_masked=None, pad_id=0):
    """Fused equivalent of :func:`rules.mask_random` on NumPy arrays.

    ``row_keys=None`` derives each row's key from its content and ordinal, as
    :func:`hashing.content_row_keys` does, inside the same pass.
    """
    from merlin_mlm_ops.rules import NO_CAP, prob_threshold

    out = np.empty(values_u64.shape[0], dtype=np.bool_)
    use_keys = row_keys is not None
    keys = row_keys if use_keys else np.empty(0, dtype=np.uint64)
    args = (values_u64, offsets, keys, use_keys, np.uint64(hashing.stream_key(seed, epoch)),
            np.uint64(prob_threshold(prob)), np.int64(min_masked),
            np.int64(NO_CAP if max_masked is None else max_masked),
            pad_id is not None, np.uint64(0 if pad_id is None else int(pad_id) & ((1 << 64) - 1)), out)
    _run_in_row_ranges(mask_random_kernel, args, offsets)
    return out


#: Below this many items a partition is masked on the calling thread alone.
PARALLEL_MIN_ITEMS = 2_000_000
_POOL = None


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


def mask_last(values_u64, offsets, *, pad_id=0):
    """Fused equivalent of :func:`rules.mask_last` on NumPy arrays."""
    out = np.empty(values_u64.shape[0], dtype=np.bool_)
    mask_last_kernel(values_u64, offsets, pad_id is not None,
                     np.uint64(0 if pad_id is None else int(pad_id) & ((1 << 64) - 1)), out)
    return out
