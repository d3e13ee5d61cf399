"""Statistics of last-item rows and 80/10/10 against their exact expectations (masking/stats.py).

Fixed seeds, so nothing can flake; tolerances are 5 standard deviations or a chi-square
p-value above 1e-4, so a bug that shifts a share by more than noise fails every run.
"""
import numpy as np
import pytest
from scipy import stats as sps

from merlin_mlm_ops.masking import engine, hashing, rules, stats

N_ROWS = 200_000


def rows_of(lengths):
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = np.arange(1, offsets[-1] + 1, dtype=np.int64) % 997 + 1  # no padding: all eligible
    return values, offsets, np.arange(len(lengths), dtype=np.uint64)


def per_row(flags, offsets):
    csum = np.concatenate([[0], np.cumsum(flags)])
    return csum[offsets[1:]] - csum[offsets[:-1]]


@pytest.mark.parametrize("last_ratio", [0.1, 0.5])
def test_share_of_last_item_rows_is_binomial(last_ratio):
    keys = np.arange(N_ROWS, dtype=np.uint64)
    picked = int(rules.last_rows(keys, seed=2024, epoch=0, last_ratio=last_ratio).sum())
    q = stats.effective_prob(last_ratio)
    assert abs(picked - N_ROWS * q) < 5 * np.sqrt(N_ROWS * q * (1 - q)), picked


@pytest.mark.parametrize("prob,last_ratio", [(0.2, 0.1), (0.5, 0.3)])
def test_masked_total_with_last_item_rows_matches_the_exact_expectation(prob, last_ratio):
    lengths = np.random.default_rng(1).integers(1, 51, N_ROWS)
    values, offsets, keys = rows_of(lengths)
    mask, _ = engine.random_mask_extended(values, offsets, keys, seed=2024, epoch=0, prob=prob, min_masked=1,
                                          max_masked=None, pad_id=0, last_ratio=last_ratio)
    mean = stats.expected_masked_with_last(lengths, prob, last_ratio=last_ratio).sum()
    sd = np.sqrt(stats.variance_masked_with_last(lengths, prob, last_ratio=last_ratio).sum())
    assert abs(mask.sum() - mean) < 5 * sd, (mask.sum(), mean, sd)


def test_last_item_rows_of_two_epochs_are_independent():
    keys = np.arange(N_ROWS, dtype=np.uint64)
    a = rules.last_rows(keys, seed=3, epoch=0, last_ratio=0.2).astype(float)
    b = rules.last_rows(keys, seed=3, epoch=1, last_ratio=0.2).astype(float)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(N_ROWS)


def corrupted(replace, draw, lengths, last_ratio=0.0, prob=0.3):
    values, offsets, keys = rows_of(lengths)
    mask, ids = engine.random_mask_extended(values, offsets, keys, seed=2024, epoch=0, prob=prob, min_masked=1,
                                            max_masked=None, pad_id=0, last_ratio=last_ratio,
                                            replace=replace, draw=draw)
    last = rules.last_rows(keys, seed=2024, epoch=0, last_ratio=last_ratio)
    codes, _ = rules.replace_codes(keys, offsets, len(values), mask, last, seed=2024, epoch=0, replace=replace)
    return values, offsets, mask, ids, codes, last


@pytest.mark.parametrize("replace", [(0.8, 0.1, 0.1), (0.5, 0.25, 0.25)])
def test_mask_random_keep_split_is_multinomial_with_the_exact_shares(replace):
    _, _, mask, _, codes, _ = corrupted(replace, rules.ItemDraw(1, 998, pad_id=0), np.full(N_ROWS // 2, 20))
    observed = np.bincount(codes[mask], minlength=4)[1:]
    expected = np.array(stats.effective_shares(replace)) * mask.sum()
    assert sps.chisquare(observed, expected).pvalue > 1e-4, (observed, expected)


def test_the_split_is_the_same_at_every_position_of_the_row():
    length = 10
    _, _, mask, _, codes, _ = corrupted((0.8, 0.1, 0.1), rules.ItemDraw(1, 998, pad_id=0),
                                        np.full(N_ROWS // 2, length), prob=0.5)
    at = np.arange(mask.shape[0]) % length
    table = np.array([np.bincount(at[mask & (codes == c)], minlength=length) for c in (1, 2, 3)])
    assert sps.chi2_contingency(table).pvalue > 1e-4


def test_last_item_rows_are_mask_token_and_the_rest_follow_the_split():
    _, offsets, mask, ids, codes, last = corrupted((0.0, 0.5, 0.5), rules.ItemDraw(1, 998, pad_id=0),
                                                  np.full(N_ROWS // 4, 12), last_ratio=0.25)
    rows = hashing.row_ids(offsets, mask.shape[0])
    assert np.all(codes[mask & last[rows]] == rules.MASK_TOKEN)
    assert np.all(ids[mask & last[rows]] == 0)
    assert not np.any(codes[mask & ~last[rows]] == rules.MASK_TOKEN)


@pytest.mark.parametrize("pad_inside", [True, False])
def test_random_items_are_uniform_on_the_vocabulary_less_padding(pad_inside):
    low, high = (0, 50) if pad_inside else (10, 60)
    _, _, mask, ids, codes, _ = corrupted((0.0, 1.0, 0.0), rules.ItemDraw(low, high, pad_id=0),
                                          np.full(N_ROWS // 4, 20))
    drawn = ids[codes == rules.RANDOM_ITEM]
    observed = np.bincount(drawn, minlength=high)
    pmf = stats.item_pmf(low, high, pad_id=0)
    assert observed[pmf == 0].sum() == 0
    assert sps.chisquare(observed[pmf > 0], pmf[pmf > 0] * drawn.size).pvalue > 1e-4


def test_random_items_follow_the_counts_by_popularity():
    counts = np.array([50, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 3, 0, 7])
    _, _, mask, ids, codes, _ = corrupted((0.0, 1.0, 0.0), rules.ItemDraw(counts=counts, pad_id=0),
                                          np.full(N_ROWS // 4, 20))
    drawn = ids[codes == rules.RANDOM_ITEM]
    observed = np.bincount(drawn, minlength=len(counts))
    pmf = stats.item_pmf(counts=counts, pad_id=0)
    assert observed[pmf == 0].sum() == 0
    assert sps.chisquare(observed[pmf > 0], pmf[pmf > 0] * drawn.size).pvalue > 1e-4
