"""Exact expectations of the MaskRandom rules, for checks, summaries and plots.

For a row with ``n`` eligible positions the number drawn is ``D ~ Binomial(n, prob)`` and
the number masked is ``clip(D, lo, hi)`` (see :mod:`merlin_mlm_ops.masking.rules`); its distribution
follows in closed form.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from merlin_mlm_ops.masking.rules import prob_threshold


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
