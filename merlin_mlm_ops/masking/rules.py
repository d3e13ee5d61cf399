"""The masking rules: one reference implementation in array expressions (NumPy and CuPy).

Inputs are flat: ``values`` (the item ids of all rows, one after another) and ``offsets``
(``int64``, ``offsets[0] == 0``, row ``r`` is ``values[offsets[r]:offsets[r + 1]]``), plus one
``uint64`` key per row (see :mod:`merlin_mlm_ops.masking.hashing`).  The output is a flat ``bool``
array aligned with ``values``.  Nothing here loops over rows or items in Python.

The random rule (:func:`mask_random`), for a row with ``n`` eligible positions:

1. a position is *eligible* unless its id equals ``pad_id`` (``pad_id=None``: all are);
2. each eligible position gets a 64-bit hash ``h`` (:func:`hashing.position_hashes`) and is
   *drawn* when ``h >> 11 < floor(prob * 2**53)``, i.e. with probability ``prob``;
3. the number of masked positions is ``k = clip(d, lo, hi)`` where ``d`` is the number drawn,
   ``lo = min(min_masked, n - 1)`` and ``hi = min(max_masked, n - 1)`` when ``n >= 2``
   (so at least one position stays visible), and ``lo = min(min_masked, n)``,
   ``hi = min(max_masked, n)`` when ``n <= 1``;
4. the masked positions are the ``k`` eligible positions with the smallest ``(h, position)``.

Because drawing is a threshold on the same ``h``, rule 4 masks exactly the drawn positions
when ``lo <= d <= hi``; when ``d > hi`` it keeps ``hi`` of the drawn ones, and when ``d < lo``
it adds the ``lo - d`` undrawn ones with the smallest hash.  Given ``d``, hashes of drawn
(undrawn) positions are i.i.d. uniform, so both the kept and the added positions are uniform
among their candidates.

The last-item rule (:func:`mask_last`) masks the last eligible position of each row.
"""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.masking import hashing

NO_CAP = np.iinfo(np.int64).max


def prob_threshold(prob: float) -> int:
    """The integer threshold on ``h >> 11`` (53 random bits) that draws with probability ``prob``.

    ``prob * 2**53`` is exact in float64 (a power-of-two scale), so the threshold is the same
    integer on every device.
    """
    return int(float(prob) * (1 << 53))


def eligible_positions(values_u64, pad_id, xp=np):
    """``True`` where the id is not ``pad_id`` (all ``True`` when ``pad_id`` is None)."""
    if pad_id is None:
        return xp.ones(values_u64.shape[0], dtype=bool)
    return values_u64 != xp.uint64(int(pad_id) & ((1 << 64) - 1))


def masked_counts(drawn_count, eligible_count, min_masked, max_masked, xp=np):
    """``k = clip(d, lo, hi)`` per row (rule 3 above)."""
    cap = NO_CAP if max_masked is None else int(max_masked)
    visible = xp.where(eligible_count >= 2, eligible_count - 1, eligible_count)
    lo = xp.minimum(visible, int(min_masked))
    hi = xp.minimum(visible, cap)
    return xp.minimum(xp.maximum(drawn_count, lo), hi)


def segment_count(flags, offsets, xp=np):
    """Per-row counts (int64) of True ``flags`` in the rows delimited by ``offsets``."""
    csum = xp.zeros(flags.shape[0] + 1, dtype=xp.int64)
    xp.cumsum(flags, out=csum[1:])
    return csum[offsets[1:]] - csum[offsets[:-1]]


def mask_random(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1,
                max_masked=None, pad_id=0, xp=np):
    """Reference random mask of flat rows (see the module docstring for the rule).

    Parameters
    ----------
    values_u64 : uint64 array
        Item ids of all rows, as :func:`hashing.as_uint64` bit patterns.
    offsets : int64 array
        Row boundaries, ``len(offsets) == n_rows + 1``, ``offsets[0] == 0``.
    row_keys : uint64 array
        One key per row.
    seed, epoch : int
        Select the draw; ``(seed, epoch)`` pairs are independent streams.
    prob : float
        Probability that an eligible position is drawn, in (0, 1].
    min_masked, max_masked : int, int or None
        Bounds on masked positions per row (``None``: no upper bound).
    pad_id : int or None
        Id of padding positions, which are never masked.
    xp : module
        ``numpy`` or ``cupy``, matching the arrays.

    Returns
    -------
    bool array aligned with ``values_u64``.
    """
    n_items = values_u64.shape[0]
    h, rows = hashing.position_hashes(row_keys, offsets, n_items, hashing.stream_key(seed, epoch), xp)
    eligible = eligible_positions(values_u64, pad_id, xp)
    mask = eligible & ((h >> xp.uint64(11)) < xp.uint64(prob_threshold(prob)))
    n_eligible = segment_count(eligible, offsets, xp)
    drawn = segment_count(mask, offsets, xp)
    k = masked_counts(drawn, n_eligible, min_masked, max_masked, xp)
    fix_rows = drawn != k
    if bool(fix_rows.any()):
        # Rows whose draw broke a bound: rank their eligible positions by (h, position) and
        # keep the k smallest.  Only these (few) rows are sorted.
        idx = xp.nonzero(eligible & fix_rows[rows])[0]
        order = xp.argsort(h[idx], kind="stable")
        order = order[xp.argsort(rows[idx][order], kind="stable")]
        idx = idx[order]
        sorted_rows = rows[idx]
        rank = xp.arange(idx.shape[0], dtype=xp.int64) - xp.searchsorted(sorted_rows, sorted_rows, side="left")
        mask[idx] = rank < k[sorted_rows]
    return mask


def mask_last(values_u64, offsets, *, pad_id=0, xp=np):
    """Reference last-item mask: exactly the last eligible position of each row.

    A row without eligible positions (empty, or only padding) gets no masked position.
    """
    eligible = eligible_positions(values_u64, pad_id, xp)
    csum = xp.zeros(eligible.shape[0] + 1, dtype=xp.int64)
    xp.cumsum(eligible, out=csum[1:])
    rows = hashing.row_ids(offsets, eligible.shape[0], xp)
    # csum[i + 1] counts eligible positions up to and including i; the last eligible position
    # of a row is the one whose count reaches the row's total.
    return eligible & (csum[1:] == csum[offsets[1:]][rows])
