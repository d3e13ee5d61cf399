"""The windows of BERT4Rec's data generator over list rows, in array expressions (NumPy or CuPy).

``window_plan`` says which windows a partition's rows are cut into and where each output item
comes from; ``window_keys`` gives each window its own stable key.  No dataframe library and no
Merlin here: the NVTabular operator (``ops/sliding_windows.py``), the frame-level cut
(``adapters/windows.py``) and the dataframe API use them.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from merlin_mlm_ops.masking import hashing
from merlin_mlm_ops.masking.arrays import array_module


def check_window(max_len, step=None):
    """``(max_len, step)`` checked: ints >= 1, ``step <= max_len``; ``step`` None is ``max_len // 2``
    (BERT4Rec's 0.5) or 1.  Raises TypeError/ValueError (SlidingWindows' and the job's words)."""
    from merlin_mlm_ops.masking.params import check_int

    max_len = check_int("max_len", max_len, minimum=1)
    if step is None:
        step = max(1, max_len // 2)
    checked = check_int("step", step, minimum=1)
    if checked > max_len:
        raise ValueError(f"step must be <= max_len ({max_len}), got {step}: a larger step "
                         "would skip items between windows")
    return max_len, checked


#: Salt of the window keys of windows 1, 2, ... (window 0 keeps the session's own key).
WINDOW_SALT = 0x5BD1E9955BD1E995


class WindowPlan(NamedTuple):
    """Which windows a partition's rows are cut into (arrays of NumPy or CuPy).

    ``rows[w]`` is the input row of window ``w``, ``index[w]`` its window index within the row
    (0, 1, ... in increasing start order), ``starts[w]`` its first position in the row,
    ``offsets`` the windows' offsets (``offsets[w + 1] - offsets[w]`` items each) and
    ``source[i]`` the position in the input's flat values of output item ``i``.
    """

    rows: object
    index: object
    starts: object
    offsets: object
    source: object


def _repeat(xp, values, counts, ends, total):
    """``values[r]`` repeated ``counts[r]`` times (``ends`` = cumsum(counts)); CuPy's ``repeat``
    takes no per-row counts, so it searches the ends instead, as hashing.row_ids does."""
    if xp is np:
        return np.repeat(values, counts)
    return values[xp.searchsorted(ends, xp.arange(total, dtype=xp.int64), side="right")]


def window_plan(offsets, max_len, step, xp=None):
    """The windows of rows delimited by ``offsets`` (int64, starting at 0), as BERT4Rec cuts them.

    A row of ``n <= max_len`` items is one window, itself.  A longer row gives
    ``1 + ceil((n - max_len) / step)`` windows of ``max_len`` items starting at
    ``0, ..., n - max_len - 2 * step, n - max_len - step, n - max_len``: the last window ends at
    the row's end, the others step back from it by ``step``, and the first starts at 0.

    >>> p = window_plan(np.array([0, 3, 10]), max_len=4, step=2)
    >>> p.rows.tolist(), p.index.tolist(), p.starts.tolist(), p.offsets.tolist()
    ([0, 1, 1, 1], [0, 0, 1, 2], [0, 0, 1, 3], [0, 3, 7, 11, 15])
    """
    xp = xp or array_module(offsets)
    n_rows = offsets.shape[0] - 1
    lengths = offsets[1:] - offsets[:-1]
    over = xp.maximum(lengths - max_len, 0)  # the last window's start
    counts = 1 + (over + (step - 1)) // step
    ends = xp.cumsum(counts)
    n_windows = int(ends[-1]) if n_rows else 0
    rows = _repeat(xp, xp.arange(n_rows, dtype=xp.int64), counts, ends, n_windows)
    index = xp.arange(n_windows, dtype=xp.int64) - (ends - counts)[rows]
    # Counted back from the last window; window 0 starts at 0 (gen_data_fin appends beg_idx 0).
    starts = xp.where(index == 0, 0, over[rows] - (counts[rows] - 1 - index) * step)
    sizes = xp.minimum(lengths, max_len)[rows]
    out_offsets = xp.zeros(n_windows + 1, dtype=xp.int64)
    xp.cumsum(sizes, out=out_offsets[1:])
    n_items = int(out_offsets[-1])
    shift = offsets[:-1][rows] + starts - out_offsets[:-1]
    source = _repeat(xp, shift, sizes, out_offsets[1:], n_items) + xp.arange(n_items, dtype=xp.int64)
    return WindowPlan(rows, index, starts, out_offsets, source)


def window_keys(row_keys, index, xp=None):
    """The uint64 key of each window: the session's row key for window 0, else
    ``mix64(mix64(row_key ^ WINDOW_SALT) + index * GOLDEN)`` (splitmix64, masking.hashing).

    >>> window_keys(np.array([7, 7], dtype=np.uint64), np.array([0, 1])).tolist()[0]
    7
    """
    xp = xp or array_module(row_keys)
    mixed = hashing.mix64(hashing.mix64(row_keys ^ xp.uint64(WINDOW_SALT), xp)
                          + index.astype(xp.uint64) * xp.uint64(hashing.GOLDEN), xp)
    return xp.where(index == 0, row_keys, mixed)
