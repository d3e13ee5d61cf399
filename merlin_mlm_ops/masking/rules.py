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


# -- BERT4Rec's two further rules: last-item rows and 80/10/10 corruption ------------------
#
# Both draw from the same counter-based hash as the random mask, on streams of their own:
# ``derived_key(seed, epoch, salt)`` is unrelated to ``stream_key(seed, epoch)`` and to the
# other salt's key, so turning one rule on never moves the bits the other rules draw.

#: Salt of the per-row "last-item row?" draw (``last_ratio``).
LAST_SALT = 0x6C6173745F726F77  # "last_row"
#: Salt of the per-position "[MASK] / random item / keep" draw (``replace``).
REPLACE_SALT = 0x7265706C61636521  # "replace!"
#: Codes of :func:`replace_codes`: not masked, [MASK], a random item, the item kept.
VISIBLE, MASK_TOKEN, RANDOM_ITEM, KEEP_ITEM = 0, 1, 2, 3


def derived_key(seed: int, epoch: int, salt: int) -> int:
    """The 64-bit key of a rule's own stream for ``(seed, epoch)``."""
    return hashing.mix64_int(hashing.stream_key(seed, epoch) ^ salt)


def last_rows(row_keys, *, seed, epoch, last_ratio, xp=np):
    """``True`` for the rows that take the last-item mask: ``mix(key_r ^ K_last) >> 11 < floor(last_ratio * 2**53)``."""
    k = xp.uint64(derived_key(seed, epoch, LAST_SALT))
    return (hashing.mix64(row_keys ^ k, xp) >> xp.uint64(11)) < xp.uint64(prob_threshold(last_ratio))


def mask_random_or_last(values_u64, offsets, row_keys, *, seed, epoch, prob, min_masked=1,
                        max_masked=None, pad_id=0, last_ratio=0.0, xp=np):
    """The random mask, except on the rows :func:`last_rows` picks, which get :func:`mask_last`.

    Returns ``(mask, last_row)``: the flat bool mask and the per-row bool array of the rows
    that took the last-item mask (all False when ``last_ratio == 0``).
    """
    mask = mask_random(values_u64, offsets, row_keys, seed=seed, epoch=epoch, prob=prob,
                       min_masked=min_masked, max_masked=max_masked, pad_id=pad_id, xp=xp)
    if last_ratio <= 0:
        return mask, xp.zeros(offsets.shape[0] - 1, dtype=bool)
    last = last_rows(row_keys, seed=seed, epoch=epoch, last_ratio=last_ratio, xp=xp)
    rows = hashing.row_ids(offsets, values_u64.shape[0], xp)
    return xp.where(last[rows], mask_last(values_u64, offsets, pad_id=pad_id, xp=xp), mask), last


def replace_thresholds(replace):
    """``(t_mask, t_mask_or_random)``: the integer thresholds on ``u = h >> 11`` of :func:`replace_codes`."""
    p_mask, p_random, _ = replace
    return prob_threshold(p_mask), prob_threshold(min(1.0, p_mask + p_random))


def replace_codes(row_keys, offsets, n_items, mask, last_row, *, seed, epoch, replace, xp=np):
    """What each position's input becomes: VISIBLE, MASK_TOKEN, RANDOM_ITEM or KEEP_ITEM (int8).

    A masked position of a random-mask row gets ``u = h >> 11`` from its own hash ``h`` on the
    replace stream (:func:`hashing.position_hashes` with :func:`derived_key` ``REPLACE_SALT``):
    [MASK] when ``u < t_mask``, a random item when ``t_mask <= u < t_mask_or_random``, its own
    item otherwise (:func:`replace_thresholds`).  Masked positions of last-item rows always get
    [MASK] (they stand for the [MASK] appended at inference).
    """
    h, rows = hashing.position_hashes(row_keys, offsets, n_items, derived_key(seed, epoch, REPLACE_SALT), xp)
    t_mask, t_random = replace_thresholds(replace)
    u = h >> xp.uint64(11)
    code = xp.where(u < xp.uint64(t_mask), MASK_TOKEN,
                    xp.where(u < xp.uint64(t_random), RANDOM_ITEM, KEEP_ITEM)).astype(xp.int8)
    code = xp.where(last_row[rows], xp.int8(MASK_TOKEN), code)
    return xp.where(mask, code, xp.int8(VISIBLE)).astype(xp.int8), h


class ItemDraw:
    """How a random item is drawn, as the kernels take it: uniform on a range, or by counts.

    Uniform (``counts is None``): ids in ``[low, high)`` less ``skip`` (the padding id, when it
    lies in the range), each with probability ``1 / n`` (``n = high - low``, less one when
    ``skip`` is in range): ``r = low + g % n``, then ``r + 1`` if ``r >= skip``.  By popularity
    (``counts``: non-negative integer weights of ids ``0 .. len(counts) - 1``, the padding id's
    set to 0): ``r = g % total`` and the id is the first ``j`` with ``cumsum(counts)[j] > r``.
    ``g`` is a 64-bit hash, so both are exact up to a bias of at most ``n / 2**64``
    (``total / 2**64``): integers only, the same on every device.
    """

    def __init__(self, low=0, high=1, pad_id=None, counts=None):
        self.uses_counts = counts is not None
        if self.uses_counts:
            counts = np.asarray(counts).astype(np.uint64, copy=True)
            if pad_id is not None and 0 <= pad_id < counts.shape[0]:
                counts[pad_id] = 0
            self.cdf = np.cumsum(counts, dtype=np.uint64)
            if self.cdf.shape[0] == 0 or int(self.cdf[-1]) == 0:
                raise ValueError("item counts must give at least one non-padding id a positive count")
            self.low, self.n, self.skip, self.use_skip = 0, int(self.cdf[-1]), 0, False
        else:
            self.cdf = np.zeros(1, dtype=np.uint64)
            self.use_skip = pad_id is not None and low <= pad_id < high
            self.low, self.skip = int(low), int(pad_id) if self.use_skip else 0
            self.n = int(high) - int(low) - (1 if self.use_skip else 0)
            if self.n < 1:
                raise ValueError(f"the vocabulary [{low}, {high}) holds no id to draw but the padding id")

    def cdf_on(self, xp):
        return self.cdf if xp is np else xp.asarray(self.cdf)

    def draw(self, g, xp=np):
        """Item ids (uint64 bit patterns) for the 64-bit hashes ``g``."""
        r = g % xp.uint64(self.n)
        if self.uses_counts:
            return xp.searchsorted(self.cdf_on(xp), r, side="right").astype(xp.uint64)
        r = r + xp.uint64(self.low)
        if self.use_skip:
            r = r + (r >= xp.uint64(self.skip)).astype(xp.uint64)
        return r


def corrupted_input(values_u64, offsets, row_keys, mask, last_row, *, seed, epoch, replace, draw,
                    pad_id, xp=np):
    """The model's input ids under 80/10/10: ``(input_u64, codes)``.

    Visible and kept positions hold their item, [MASK] positions hold ``pad_id`` (never a
    real item there: padding is never masked and never drawn), random positions an item from
    ``draw`` (:class:`ItemDraw`) hashed as ``g = mix(h + GOLDEN)`` from the position's replace
    hash ``h``.
    """
    codes, h = replace_codes(row_keys, offsets, values_u64.shape[0], mask, last_row, seed=seed,
                             epoch=epoch, replace=replace, xp=xp)
    out = values_u64.copy()
    out[codes == MASK_TOKEN] = xp.uint64(int(pad_id) & ((1 << 64) - 1))
    at = xp.nonzero(codes == RANDOM_ITEM)[0]
    if at.shape[0]:
        out[at] = draw.draw(hashing.mix64(h[at] + xp.uint64(hashing.GOLDEN), xp), xp)
    return out, codes
