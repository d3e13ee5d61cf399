"""The per-row masking logic of the fused kernels, written once for numba's CPU and CUDA targets.

Every function is ``register_jitable``: the CPU kernels (``kernels_cpu``, a loop over rows)
and the GPU kernel (``kernels_gpu``, one CUDA thread per row) compile the same source.  Only
scalar arithmetic and array indexing are used (no allocation, no sorting), so it runs on a
GPU thread.  It implements exactly the formulas of :mod:`merlin_mlm_ops.hashing` and the rule
of :mod:`merlin_mlm_ops.rules`; the tests compare it with them on both targets (the GPU one
through numba's CUDA simulator when no GPU is present).
"""
from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from merlin_mlm_ops import hashing

GOLDEN = np.uint64(hashing.GOLDEN)
MIX1 = np.uint64(hashing.MIX1)
MIX2 = np.uint64(hashing.MIX2)
S11 = np.uint64(11)
S27 = np.uint64(27)
S30 = np.uint64(30)
S31 = np.uint64(31)


@register_jitable(inline="always")
def mix(z):
    z = z ^ (z >> S30)
    z = z * MIX1
    z = z ^ (z >> S27)
    z = z * MIX2
    return z ^ (z >> S31)


@register_jitable(inline="always")
def position_hash(row_hash, start, i):
    return mix(row_hash + np.uint64(i - start + 1) * GOLDEN)


@register_jitable
def content_key(values, start, end, ordinal):
    """:func:`hashing.content_row_keys` for one row."""
    total = np.uint64(0)
    for i in range(start, end):
        total += position_hash(values[i], start, i)  # the same formula, keyed by the id
    return mix(total + mix(np.uint64(ordinal + 1) * GOLDEN))


@register_jitable
def _before(h, i, best_h, best_i):
    """``(h, i) < (best_h, best_i)`` in lexicographic order (the rule's ranking)."""
    return h < best_h or (h == best_h and i < best_i)


@register_jitable
def _select(values, start, end, row_hash, use_pad, pad, out, masked):
    """Among eligible positions whose bit is ``masked``: the largest ``(h, i)`` if ``masked``,
    else the smallest."""
    best_i = -1
    best_h = np.uint64(0)
    for i in range(start, end):
        if (use_pad and values[i] == pad) or out[i] != masked:
            continue
        h = position_hash(row_hash, start, i)
        if best_i < 0 or (_before(best_h, best_i, h, i) if masked else _before(h, i, best_h, best_i)):
            best_i = i
            best_h = h
    return best_i


@register_jitable
def mask_random_row(values, start, end, row_key, stream_key, threshold, min_masked, max_masked,
                    use_pad, pad, out):
    """Write the random mask of ``values[start:end]`` into ``out[start:end]``."""
    row_hash = mix(row_key ^ stream_key)
    # Branch-free loop bodies (the pad test hoisted out) let LLVM vectorise the hashing.
    drawn = 0
    if use_pad:
        n_eligible = 0
        for i in range(start, end):
            eligible = values[i] != pad
            hit = eligible & ((position_hash(row_hash, start, i) >> S11) < threshold)
            n_eligible += eligible
            drawn += hit
            out[i] = hit
    else:
        n_eligible = end - start
        for i in range(start, end):
            hit = (position_hash(row_hash, start, i) >> S11) < threshold
            drawn += hit
            out[i] = hit
    visible = n_eligible - 1 if n_eligible >= 2 else n_eligible
    k = min(max(drawn, min(visible, min_masked)), min(visible, max_masked))
    # The mask must be the k eligible positions with the smallest (h, i).  Drawn positions
    # all hash below undrawn ones, so: add the smallest undrawn ones, or drop the largest
    # drawn ones, or (when that would drop more than it keeps) clear and add the k smallest.
    if drawn > k and drawn - k > k:
        for i in range(start, end):
            out[i] = False
        drawn = 0
    if k > drawn:
        for _ in range(k - drawn):
            out[_select(values, start, end, row_hash, use_pad, pad, out, False)] = True
    else:
        for _ in range(drawn - k):
            out[_select(values, start, end, row_hash, use_pad, pad, out, True)] = False


@register_jitable
def mask_last_row(values, start, end, use_pad, pad, out):
    """Write the last-eligible-position mask of ``values[start:end]`` into ``out[start:end]``."""
    for i in range(start, end):
        out[i] = False
    for i in range(end - 1, start - 1, -1):
        if not use_pad or values[i] != pad:
            out[i] = True
            break
