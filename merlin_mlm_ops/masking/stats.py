"""Exact expectations of the MaskRandom rules, for checks, summaries and plots.

For a row with ``n`` eligible positions the number drawn is ``D ~ Binomial(n, prob)`` and
the number masked is ``clip(D, lo, hi)`` (see :mod:`merlin_mlm_ops.masking.rules`); its distribution
follows in closed form.  With ``last_ratio = q`` a row takes the last-item mask (one position
when ``n >= 1``) with probability ``q`` and the random mask otherwise; under ``replace`` each
masked position of a random-mask row is [MASK] / a random item / kept with the shares of
:func:`effective_shares`, and a random item has the probabilities of :func:`item_pmf`.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from merlin_mlm_ops.masking.rules import prob_threshold, replace_thresholds


def effective_prob(prob):
    """The exact draw probability the integer threshold realises (``prob`` rounded down to 2**-53)."""
    return prob_threshold(prob) / float(1 << 53)


def bounds(n, min_masked=1, max_masked=None):
    """``(lo, hi)`` arrays of the masked count for rows of ``n`` eligible positions."""
    n = np.asarray(n, dtype=np.int64)
    visible = np.where(n >= 2, n - 1, n)
    lo = np.minimum(visible, min_masked)
    hi = visible if max_masked is None else np.minimum(visible, max_masked)
    return lo, hi


def masked_count_pmf(n, prob, min_masked=1, max_masked=None):
    """``P(masked == j)`` for ``j = 0..n``, a row of ``n`` eligible positions."""
    p = effective_prob(prob)
    lo, hi = bounds(n, min_masked, max_masked)
    drawn = stats.binom.pmf(np.arange(n + 1), n, p)
    pmf = np.zeros(n + 1)
    np.add.at(pmf, np.clip(np.arange(n + 1), lo, hi), drawn)
    return pmf


def expected_masked(n, prob, min_masked=1, max_masked=None):
    """``E[masked count]`` for each row length in ``n`` (array-like of eligible counts)."""
    n = np.asarray(n, dtype=np.int64)
    out = np.zeros(n.shape, dtype=np.float64)
    for length in np.unique(n):  # one small pmf per distinct length, not per row
        pmf = masked_count_pmf(int(length), prob, min_masked, max_masked)
        out[n == length] = pmf @ np.arange(int(length) + 1)
    return out


def variance_masked(n, prob, min_masked=1, max_masked=None):
    """``Var[masked count]`` for each row length in ``n``."""
    n = np.asarray(n, dtype=np.int64)
    out = np.zeros(n.shape, dtype=np.float64)
    for length in np.unique(n):
        pmf = masked_count_pmf(int(length), prob, min_masked, max_masked)
        j = np.arange(int(length) + 1)
        mean = pmf @ j
        out[n == length] = pmf @ (j - mean) ** 2
    return out


def expected_masked_with_last(n, prob, min_masked=1, max_masked=None, last_ratio=0.0):
    """``E[masked count]`` per row length in ``n`` when a ``last_ratio`` share of rows take the last-item mask."""
    n = np.asarray(n, dtype=np.int64)
    q = effective_prob(last_ratio)
    return (1 - q) * expected_masked(n, prob, min_masked, max_masked) + q * (n >= 1)


def variance_masked_with_last(n, prob, min_masked=1, max_masked=None, last_ratio=0.0):
    """``Var[masked count]`` per row length in ``n``, for the mixture of :func:`expected_masked_with_last`."""
    n = np.asarray(n, dtype=np.int64)
    q = effective_prob(last_ratio)
    mean_r = expected_masked(n, prob, min_masked, max_masked)
    second_r = variance_masked(n, prob, min_masked, max_masked) + mean_r ** 2
    last = (n >= 1).astype(np.float64)
    mean = (1 - q) * mean_r + q * last
    return (1 - q) * second_r + q * last - mean ** 2


def effective_shares(replace):
    """The exact ``(mask, random, keep)`` probabilities that the integer thresholds of ``replace`` realise."""
    t_mask, t_random = replace_thresholds(replace)
    scale = float(1 << 53)
    return t_mask / scale, (t_random - t_mask) / scale, 1.0 - t_random / scale


def item_pmf(low=None, high=None, pad_id=None, counts=None):
    """Probability of each id ``0 .. size - 1`` as a random item: uniform on ``[low, high)`` less
    ``pad_id``, or proportional to ``counts`` with ``pad_id``'s count taken as 0 (exact up to the
    draw's ``n / 2**64`` bias, :class:`rules.ItemDraw`)."""
    if counts is not None:
        weights = np.asarray(counts, dtype=np.float64).copy()
        if pad_id is not None and 0 <= pad_id < weights.shape[0]:
            weights[pad_id] = 0
        return weights / weights.sum()
    pmf = np.zeros(high, dtype=np.float64)
    pmf[low:high] = 1.0
    if pad_id is not None and low <= pad_id < high:
        pmf[pad_id] = 0.0
    return pmf / pmf.sum()
