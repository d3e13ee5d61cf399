"""Statistical properties of the random rule, with fixed seeds and honest (5-sigma) tolerances.

Each check compares a deterministic draw (fixed seeds, so it cannot flake) against the
exact distribution of the rules (merlin_mlm_ops.masking.stats); a bug that shifts a mean or a
position preference by more than noise fails every run.
"""
import numpy as np
import pytest
from scipy import stats as sps

from merlin_mlm_ops.masking import engine, stats

N_ROWS = 200_000


def draw(lengths, prob, min_masked=1, max_masked=None, seed=2024, epoch=0):
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.arange(1, offsets[-1] + 1, dtype=np.int64)  # no padding: all eligible
    keys = np.arange(len(lengths), dtype=np.uint64)
    mask = engine.random_mask(values, offsets, keys, seed=seed, epoch=epoch, prob=prob,
                              min_masked=min_masked, max_masked=max_masked, pad_id=0)
    return mask, offsets


def per_row(mask, offsets):
    csum = np.concatenate([[0], np.cumsum(mask)])
    return csum[offsets[1:]] - csum[offsets[:-1]]


@pytest.mark.parametrize("prob,min_masked,max_masked", [(0.2, 1, None), (0.15, 1, 5), (0.5, 3, None), (0.05, 0, None)])
def test_masked_total_matches_the_exact_expectation(prob, min_masked, max_masked):
    lengths = np.random.default_rng(1).integers(1, 51, N_ROWS)
    mask, offsets = draw(lengths, prob, min_masked, max_masked)
    counts = per_row(mask, offsets)
    mean = stats.expected_masked(lengths, prob, min_masked, max_masked).sum()
    sd = np.sqrt(stats.variance_masked(lengths, prob, min_masked, max_masked).sum())
    assert abs(counts.sum() - mean) < 5 * sd, (counts.sum(), mean, sd)


def test_masked_count_distribution_per_length_matches_the_pmf():
    lengths = np.full(N_ROWS, 8)
    counts = per_row(*draw(lengths, 0.3, 1, 4))
    observed = np.bincount(counts, minlength=9)
    expected = stats.masked_count_pmf(8, 0.3, 1, 4) * N_ROWS
    keep = expected > 0
    assert observed[~keep].sum() == 0
    assert sps.chisquare(observed[keep], expected[keep]).pvalue > 1e-4


@pytest.mark.parametrize("prob,min_masked,max_masked", [(0.2, 1, None), (0.9, 1, 2), (0.01, 3, None)])
def test_masked_positions_are_uniform_in_the_row(prob, min_masked, max_masked):
    """Plain draws, draws thinned by max_masked, and top-ups by min_masked are all uniform."""
    length = 10
    mask, _ = draw(np.full(N_ROWS // 2, length), prob, min_masked, max_masked)
    by_position = mask.reshape(-1, length).sum(axis=0)
    assert sps.chisquare(by_position).pvalue > 1e-4, by_position


def test_rows_are_independent():
    mask, _ = draw(np.full(N_ROWS, 20), 0.2)
    rows = mask.reshape(-1, 20).astype(float)
    r = np.corrcoef(rows[:-1].ravel(), rows[1:].ravel())[0, 1]
    assert abs(r) < 5 / np.sqrt(rows[1:].size)


def test_epochs_are_independent_draws():
    lengths = np.full(N_ROWS, 20)
    a, _ = draw(lengths, 0.2, epoch=0)
    b, _ = draw(lengths, 0.2, epoch=1)
    r = np.corrcoef(a.astype(float), b.astype(float))[0, 1]
    assert abs(r) < 5 / np.sqrt(a.size)
    assert not np.array_equal(a, b)
