"""Every masking rule, on the vectorised reference, against the plain-Python oracle and by hand."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from merlin_mlm_ops.masking import hashing, rules

from helpers import flat_rows, random_rows
from oracle import content_key, mask_last_row, mask_row


def reference(rows, seed=1, epoch=0, prob=0.2, min_masked=1, max_masked=None, pad_id=0, keys=None):
    values, offsets = flat_rows(rows)
    v64 = hashing.as_uint64(values)
    row_keys = hashing.content_row_keys(v64, offsets) if keys is None else hashing.as_uint64(np.array(keys, dtype=np.int64))
    mask = rules.mask_random(v64, offsets, row_keys, seed=seed, epoch=epoch, prob=prob,
                             min_masked=min_masked, max_masked=max_masked, pad_id=pad_id)
    return [mask[offsets[r]:offsets[r + 1]].tolist() for r in range(len(rows))]


rows_strategy = st.lists(st.lists(st.integers(0, 30), max_size=30), max_size=12)


@given(rows=rows_strategy, seed=st.integers(0, 2**64 - 1), epoch=st.integers(0, 50),
       prob=st.floats(0.01, 1.0), min_masked=st.integers(0, 5),
       extra=st.one_of(st.none(), st.integers(0, 10)), pad_id=st.one_of(st.none(), st.just(0)))
def test_reference_equals_the_rule_text(rows, seed, epoch, prob, min_masked, extra, pad_id):
    max_masked = None if extra is None else max(min_masked, 1) + extra
    got = reference(rows, seed, epoch, prob, min_masked, max_masked, pad_id)
    want = [mask_row(r, content_key(r, i), seed, epoch, prob, min_masked, max_masked, pad_id)
            for i, r in enumerate(rows)]
    assert got == want


@given(rows=rows_strategy, prob=st.floats(0.01, 1.0), min_masked=st.integers(0, 4),
       cap=st.one_of(st.none(), st.integers(4, 8)), seed=st.integers(0, 1000))
def test_counts_stay_within_the_bounds(rows, prob, min_masked, cap, seed):
    for row, mask in zip(rows, reference(rows, seed=seed, prob=prob, min_masked=min_masked, max_masked=cap)):
        n = sum(1 for v in row if v != 0)
        k = sum(mask)
        assert not any(m and v == 0 for m, v in zip(mask, row)), "padding was masked"
        if n >= 2:
            assert min(min_masked, n - 1) <= k <= n - 1
        elif n == 1 and min_masked >= 1:
            assert k == 1
        if cap is not None:
            assert k <= cap


def test_padding_is_never_masked_and_pad_id_none_makes_everything_eligible():
    rows = [[0, 0, 5, 0, 6], [0, 0]]
    assert reference(rows, prob=1.0) in ([[False, False, True, False, False], [False, False]],
                                         [[False, False, False, False, True], [False, False]])
    masked = reference(rows, prob=1.0, pad_id=None)
    assert [sum(m) for m in masked] == [4, 1]


def test_prob_one_masks_all_but_one_eligible_position():
    rows = [list(range(1, n + 1)) for n in range(2, 30)]
    assert [sum(m) for m in reference(rows, prob=1.0)] == [n - 1 for n in range(2, 30)]


def test_a_row_with_one_eligible_position_is_masked_when_min_masked_is_at_least_one():
    rows = [[7], [0, 7, 0]]
    assert reference(rows, prob=0.01) == [[True], [False, True, False]]
    # with min_masked=0 it is drawn like any position: over many keys, about prob of them
    drawn = reference([[7]] * 2000, prob=0.3, min_masked=0, keys=list(range(2000)))
    assert 0.25 < np.mean([m[0] for m in drawn]) < 0.35


def test_min_masked_tops_up_and_max_masked_caps():
    rows = [list(range(1, 21))] * 50
    keys = list(range(50))
    assert all(sum(m) >= 4 for m in reference(rows, prob=0.01, min_masked=4, keys=keys))
    assert all(sum(m) == 3 for m in reference(rows, prob=0.9, max_masked=3, keys=keys))


def test_empty_rows_give_empty_masks():
    masks = reference([[], [1, 2], []])
    assert masks[0] == [] and masks[2] == [] and sum(masks[1]) == 1


def test_same_inputs_same_mask_and_other_seed_or_epoch_another():
    values, offsets = random_rows(2000, seed=4)
    v64 = hashing.as_uint64(values)
    keys = hashing.content_row_keys(v64, offsets)

    def draw(seed, epoch):
        return rules.mask_random(v64, offsets, keys, seed=seed, epoch=epoch, prob=0.2)

    assert np.array_equal(draw(5, 0), draw(5, 0))
    assert not np.array_equal(draw(5, 0), draw(6, 0))
    assert not np.array_equal(draw(5, 0), draw(5, 1))


def test_mask_last_marks_the_last_eligible_position():
    rows = [[4, 5, 6], [4, 0, 0], [0, 0], [], [9]]
    values, offsets = flat_rows(rows)
    mask = rules.mask_last(hashing.as_uint64(values), offsets)
    got = [mask[offsets[r]:offsets[r + 1]].tolist() for r in range(len(rows))]
    assert got == [mask_last_row(r) for r in rows]
    assert got[1] == [True, False, False] and got[2] == [False, False]


@pytest.mark.parametrize("prob", [0.1, 0.5, 1.0])
def test_threshold_is_exact(prob):
    assert rules.prob_threshold(prob) == int(prob * 2**53)
    assert rules.prob_threshold(1.0) == 2**53  # every 53-bit value is below it
