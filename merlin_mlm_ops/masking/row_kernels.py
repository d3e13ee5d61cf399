"""The per-row masking logic of the fused kernels, written once for numba's CPU and CUDA targets.

:func:`build` defines the row functions as plain Python and compiles them with the ``jit`` it
is given: ``kernels_cpu`` passes ``numba.njit``, ``kernels_gpu`` passes
``numba.cuda.jit(device=True)``, so both targets compile the same source.  (An earlier version
used ``numba.extending.register_jitable``, which numba before 0.57 lowers for the CPU only, and
the built-ins ``min``/``max``, which numba 0.68's CUDA target does not type with two arguments:
both broke the CUDA kernel; ``tests/test_kernels_compile_ptx.py`` now compiles it in CI.)

Only scalar arithmetic, comparisons and array indexing are used (no allocation, no sorting, no
built-in calls), so a row runs on one GPU thread.  It implements exactly the formulas of
:mod:`merlin_mlm_ops.masking.hashing` and the rule of :mod:`merlin_mlm_ops.masking.rules`; the tests compare
it with them on both targets (the GPU one through numba's CUDA simulator when no GPU is
present).

Example (pure Python, no compilation: slow, but handy to step through a row)::

    >>> import numpy as np
    >>> rows = build(lambda inline: (lambda fn: fn))
    >>> out = np.zeros(3, dtype=bool)
    >>> rows.mask_last_row(np.array([4, 5, 0], dtype=np.uint64), 0, 3, True, np.uint64(0), out)
    >>> out.tolist()
    [False, True, False]
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from merlin_mlm_ops.masking import hashing

GOLDEN = np.uint64(hashing.GOLDEN)
MIX1 = np.uint64(hashing.MIX1)
MIX2 = np.uint64(hashing.MIX2)
S11 = np.uint64(11)
S27 = np.uint64(27)
S30 = np.uint64(30)
S31 = np.uint64(31)
ZERO = np.uint64(0)
ONE = np.uint64(1)


class RowFunctions(NamedTuple):
    """The compiled row functions (see :func:`build`)."""

    mix: Callable
    position_hash: Callable
    content_key: Callable
    settle: Callable
    mask_random_row: Callable
    mask_last_row: Callable
    mask_random_or_last_row: Callable
    corrupt_row: Callable


def build(jit) -> RowFunctions:
    """Compile the row functions with ``jit``.

    ``jit(inline)`` must return a decorator; ``inline=True`` marks the two tiny hashing helpers
    that the CPU compiler should inline into the loops (so that LLVM vectorises them).  The
    functions call one another through this closure, so every one of them is compiled by the
    same ``jit``.
    """

    @jit(True)
    def mix(z):
        z = z ^ (z >> S30)
        z = z * MIX1
        z = z ^ (z >> S27)
        z = z * MIX2
        return z ^ (z >> S31)

    @jit(True)
    def position_hash(row_hash, start, i):
        return mix(row_hash + np.uint64(i - start + 1) * GOLDEN)

    @jit(False)
    def content_key(values, start, end, ordinal):
        """:func:`hashing.content_row_keys` for one row."""
        total = ZERO
        for i in range(start, end):
            total += position_hash(values[i], start, i)  # the same formula, keyed by the id
        return mix(total + mix(np.uint64(ordinal + 1) * GOLDEN))

    @jit(False)
    def before(h, i, best_h, best_i):
        """``(h, i) < (best_h, best_i)`` in lexicographic order (the rule's ranking)."""
        return h < best_h or (h == best_h and i < best_i)

    @jit(False)
    def select(values, start, end, row_hash, use_pad, pad, out, masked):
        """Among eligible positions whose bit is ``masked``: the largest ``(h, i)`` if ``masked``,
        else the smallest."""
        best_i = -1
        best_h = ZERO
        for i in range(start, end):
            if (use_pad and values[i] == pad) or out[i] != masked:
                continue
            h = position_hash(row_hash, start, i)
            if best_i < 0:
                better = True
            elif masked:
                better = before(best_h, best_i, h, i)
            else:
                better = before(h, i, best_h, best_i)
            if better:
                best_i = i
                best_h = h
        return best_i

    @jit(False)
    def settle(values, start, end, row_hash, use_pad, pad, out, drawn, n_eligible, min_masked, max_masked):
        """Bring a row's ``drawn`` bits (already in ``out``) to the rule's count ``k``."""
        # k = clip(drawn, min(visible, min_masked), min(visible, max_masked)), written with
        # comparisons: numba 0.68's CUDA target cannot type the built-ins min/max on two scalars.
        visible = n_eligible - 1 if n_eligible >= 2 else n_eligible
        lo = min_masked if min_masked < visible else visible
        hi = max_masked if max_masked < visible else visible
        k = drawn if drawn > lo else lo
        k = k if k < hi else hi
        # The mask must be the k eligible positions with the smallest (h, i).  Drawn positions
        # all hash below undrawn ones, so: add the smallest undrawn ones, or drop the largest
        # drawn ones, or (when that would drop more than it keeps) clear and add the k smallest.
        if drawn > k and drawn - k > k:
            for i in range(start, end):
                out[i] = False
            drawn = 0
        if k > drawn:
            for _ in range(k - drawn):
                out[select(values, start, end, row_hash, use_pad, pad, out, False)] = True
        else:
            for _ in range(drawn - k):
                out[select(values, start, end, row_hash, use_pad, pad, out, True)] = False

    @jit(False)
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
        settle(values, start, end, row_hash, use_pad, pad, out, drawn, n_eligible, min_masked, max_masked)

    @jit(False)
    def mask_last_row(values, start, end, use_pad, pad, out):
        """Write the last-eligible-position mask of ``values[start:end]`` into ``out[start:end]``."""
        for i in range(start, end):
            out[i] = False
        for i in range(end - 1, start - 1, -1):
            if not use_pad or values[i] != pad:
                out[i] = True
                break

    @jit(False)
    def mask_random_or_last_row(values, start, end, row_key, stream_key, threshold, min_masked, max_masked,
                                use_pad, pad, last_key, last_threshold, out):
        """:func:`rules.mask_random_or_last` for one row; returns whether it took the last-item mask."""
        if (mix(row_key ^ last_key) >> S11) < last_threshold:
            mask_last_row(values, start, end, use_pad, pad, out)
            return True
        mask_random_row(values, start, end, row_key, stream_key, threshold, min_masked, max_masked,
                        use_pad, pad, out)
        return False

    @jit(False)
    def draw_item(g, low, n, use_skip, skip, use_cdf, cdf):
        """:meth:`rules.ItemDraw.draw` for one 64-bit hash ``g``."""
        r = g % n
        if use_cdf:  # the first j with cdf[j] > r
            lo = 0
            hi = cdf.shape[0] - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if cdf[mid] > r:
                    hi = mid
                else:
                    lo = mid + 1
            return np.uint64(lo)
        r = r + low
        if use_skip and r >= skip:
            r = r + ONE
        return r

    @jit(True)  # inlined on the CPU: a call per row with four arrays costs more than the loop
    def corrupt_row(values, start, end, row_key, replace_key, t_mask, t_random, is_last, pad,
                    low, n, use_skip, skip, use_cdf, cdf, mask, out):
        """:func:`rules.corrupted_input` for one row, given its mask: writes ``out[start:end]``."""
        row_hash = mix(row_key ^ replace_key)
        for i in range(start, end):
            v = values[i]
            if mask[i]:
                if is_last:
                    v = pad
                else:
                    h = position_hash(row_hash, start, i)
                    u = h >> S11
                    if u < t_mask:
                        v = pad
                    elif u < t_random:
                        v = draw_item(mix(h + GOLDEN), low, n, use_skip, skip, use_cdf, cdf)
            out[i] = v

    return RowFunctions(mix, position_hash, content_key, settle, mask_random_row, mask_last_row,
                        mask_random_or_last_row, corrupt_row)
