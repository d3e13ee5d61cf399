"""Last-item rows (last_ratio) and 80/10/10 (replace): reference = plain-Python oracle = fused CPU kernel.

The CUDA kernel is compared with the reference in tests/test_kernels_gpu_simulated.py and
compiled in tests/test_kernels_compile_ptx.py; the statistics are in
tests/test_rules_bert_statistics.py.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merlin_mlm_ops.masking import engine, hashing, kernels_cpu, rules

from helpers import flat_rows, random_rows
from oracle import corrupt_row, mask_last_row, mask_row, takes_last

SEED, EPOCH = 11, 3
UNIFORM = dict(low=1, high=60)
COUNTS = np.arange(60) % 7  # ids 0, 7, 14, ... have count 0: never drawn


def draw_of(kind, pad_id=0):
    if kind == "uniform":
        return rules.ItemDraw(UNIFORM["low"], UNIFORM["high"], pad_id=pad_id)
    if kind == "uniform-pad-outside":
        return rules.ItemDraw(5, 60, pad_id=pad_id)
    return rules.ItemDraw(counts=COUNTS, pad_id=pad_id)


def reference(values, offsets, keys, *, last_ratio, replace, draw, prob=0.3, min_masked=1, max_masked=None,
              pad_id=0):
    v64 = hashing.as_uint64(values)
    ref_keys = hashing.content_row_keys(v64, offsets) if keys is None else keys
    mask, last = rules.mask_random_or_last(v64, offsets, ref_keys, seed=SEED, epoch=EPOCH, prob=prob,
                                           min_masked=min_masked, max_masked=max_masked, pad_id=pad_id,
                                           last_ratio=last_ratio)
    if replace is None:
        return mask, None, last, ref_keys
    ids, _ = rules.corrupted_input(v64, offsets, ref_keys, mask, last, seed=SEED, epoch=EPOCH, replace=replace,
                                   draw=draw, pad_id=pad_id)
    return mask, ids, last, ref_keys


def fused(values, offsets, keys, *, last_ratio, replace, draw, prob=0.3, min_masked=1, max_masked=None, pad_id=0):
    return kernels_cpu.mask_extended(hashing.as_uint64(values), offsets, keys, seed=SEED, epoch=EPOCH, prob=prob,
                                     min_masked=min_masked, max_masked=max_masked, pad_id=pad_id,
                                     last_ratio=last_ratio, replace=replace, draw=draw)


CASES = [dict(last_ratio=0.1, replace=None), dict(last_ratio=0.0, replace=(0.8, 0.1, 0.1)),
         dict(last_ratio=0.3, replace=(0.4, 0.4, 0.2)), dict(last_ratio=1.0, replace=(0.0, 1.0, 0.0)),
         dict(last_ratio=0.5, replace=(0.0, 0.0, 1.0))]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("draw_kind", ["uniform", "uniform-pad-outside", "counts"])
@pytest.mark.parametrize("keyed", [False, True])
def test_fused_kernel_equals_the_reference_on_50k_rows(case, draw_kind, keyed):
    values, offsets = random_rows(50_000, max_len=50, vocab=60, pad_frac=0.1, seed=4)
    keys = hashing.as_uint64(np.arange(len(offsets) - 1) * 7919) if keyed else None
    want_mask, want_ids, _, _ = reference(values, offsets, keys, draw=draw_of(draw_kind), **case)
    got_mask, got_ids = fused(values, offsets, keys, draw=draw_of(draw_kind), **case)
    assert np.array_equal(want_mask, got_mask)
    assert (want_ids is None) == (got_ids is None)
    if want_ids is not None:
        assert np.array_equal(want_ids, got_ids)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.lists(st.integers(0, 30), max_size=30), max_size=15), prob=st.floats(0.01, 1.0),
       last_ratio=st.sampled_from([0.0, 0.2, 1.0]), shares=st.sampled_from([(0.8, 0.1, 0.1), (0.0, 1.0, 0.0)]),
       counts=st.booleans(), keyed=st.booleans())
def test_reference_and_fused_kernel_equal_the_oracle_on_any_rows(rows, prob, last_ratio, shares, counts, keyed):
    values, offsets = flat_rows(rows)
    keys = hashing.as_uint64(np.arange(len(rows)) * 31 + 5) if keyed else None
    draw = rules.ItemDraw(counts=COUNTS, pad_id=0) if counts else rules.ItemDraw(0, 40, pad_id=0)
    mask, ids, last, ref_keys = reference(values, offsets, keys, last_ratio=last_ratio, replace=shares,
                                          draw=draw, prob=prob)
    got_mask, got_ids = fused(values, offsets, keys, last_ratio=last_ratio, replace=shares, draw=draw, prob=prob)
    assert np.array_equal(mask, got_mask) and np.array_equal(ids, got_ids)
    for r, row in enumerate(rows):
        key = int(ref_keys[r])
        is_last = takes_last(key, SEED, EPOCH, last_ratio, rules.LAST_SALT)
        assert bool(last[r]) == is_last
        want = mask_last_row(row) if is_last else mask_row(row, key, SEED, EPOCH, prob)
        assert mask[offsets[r]:offsets[r + 1]].tolist() == want
        oracle_ids = corrupt_row(row, want, is_last, key, SEED, EPOCH, shares, rules.REPLACE_SALT, 0,
                                 **(dict(counts=COUNTS) if counts else dict(low=0, high=40)))
        assert ids[offsets[r]:offsets[r + 1]].astype(np.int64).tolist() == oracle_ids


def test_defaults_give_the_plain_random_mask_bit_for_bit():
    values, offsets = random_rows(20_000, pad_frac=0.1, seed=2)
    params = dict(seed=5, epoch=1, prob=0.2, min_masked=1, max_masked=None, pad_id=0)
    plain = engine.random_mask(values, offsets, None, **params)
    for backend in ("reference", "fused"):
        mask, ids = engine.random_mask_extended(values, offsets, None, backend=backend, **params)
        assert ids is None and np.array_equal(mask, plain)


def test_each_rule_draws_on_its_own_stream():
    """Turning replace on never moves a mask bit; last_ratio changes only the rows it picks."""
    values, offsets = random_rows(20_000, pad_frac=0.1, seed=3)
    params = dict(seed=5, epoch=1, prob=0.2, min_masked=1, max_masked=None, pad_id=0)
    plain = engine.random_mask(values, offsets, None, **params)
    with_replace, _ = engine.random_mask_extended(values, offsets, None, replace=(0.8, 0.1, 0.1),
                                                  draw=rules.ItemDraw(1, 1000), **params)
    assert np.array_equal(with_replace, plain)
    with_last, _ = engine.random_mask_extended(values, offsets, None, last_ratio=0.2, **params)
    v64 = hashing.as_uint64(values)
    last = rules.last_rows(hashing.content_row_keys(v64, offsets), seed=5, epoch=1, last_ratio=0.2)
    rows = hashing.row_ids(offsets, len(values))
    assert np.array_equal(with_last[~last[rows]], plain[~last[rows]])
    assert np.array_equal(with_last[last[rows]], rules.mask_last(v64, offsets, pad_id=0)[last[rows]])


def test_input_ids_hold_items_except_at_mask_and_random_positions():
    values, offsets = random_rows(30_000, max_len=30, vocab=500, pad_frac=0.1, seed=6)
    draw = rules.ItemDraw(3, 500, pad_id=0)
    mask, ids = engine.random_mask_extended(values, offsets, None, seed=1, epoch=0, prob=0.3, min_masked=1,
                                            max_masked=None, pad_id=0, last_ratio=0.2,
                                            replace=(0.6, 0.3, 0.1), draw=draw)
    assert ids.dtype == values.dtype
    assert np.array_equal(ids[~mask], values[~mask])           # visible positions: their item
    assert not np.any(values[mask] == 0)                         # padding is never masked...
    changed = mask & (ids != values)
    drawn = changed & (ids != 0)
    assert np.all((ids[drawn] >= 3) & (ids[drawn] < 500))       # ...and never drawn
    mask_token = mask & (ids == 0)
    share = mask_token.sum() / mask.sum()
    assert 0.6 < share < 0.75                                    # 60% [MASK] + last-item rows' [MASK]


def test_last_item_rows_are_always_mask_token():
    values, offsets = random_rows(5_000, max_len=20, pad_frac=0.0, seed=7)
    mask, ids = engine.random_mask_extended(values, offsets, None, seed=2, epoch=0, prob=0.3, min_masked=1,
                                            max_masked=None, pad_id=0, last_ratio=1.0,
                                            replace=(0.0, 0.5, 0.5), draw=rules.ItemDraw(1, 1000))
    v64 = hashing.as_uint64(values)
    assert np.array_equal(mask, rules.mask_last(v64, offsets, pad_id=0))
    assert np.all(ids[mask] == 0) and np.array_equal(ids[~mask], values[~mask])


def test_item_draw_excludes_the_padding_id_and_zero_counts():
    g = hashing.mix64(np.arange(200_000, dtype=np.uint64))
    uniform = rules.ItemDraw(0, 10, pad_id=4).draw(g)
    assert set(np.unique(uniform).tolist()) == {0, 1, 2, 3, 5, 6, 7, 8, 9}
    by_counts = rules.ItemDraw(counts=np.array([9, 0, 3, 1]), pad_id=0).draw(g)
    assert set(np.unique(by_counts).tolist()) == {2, 3}
    with pytest.raises(ValueError, match="no id to draw but the padding id"):
        rules.ItemDraw(4, 5, pad_id=4)
    with pytest.raises(ValueError, match="at least one non-padding id"):
        rules.ItemDraw(counts=np.array([5, 0]), pad_id=0)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint32])
def test_input_ids_keep_the_item_dtype(dtype):
    values, offsets = random_rows(2_000, vocab=100, pad_frac=0.1, seed=8)
    values = values.astype(dtype)
    for backend in ("reference", "fused"):
        _, ids = engine.random_mask_extended(values, offsets, None, seed=1, epoch=0, prob=0.5, min_masked=1,
                                             max_masked=None, pad_id=0, replace=(0.1, 0.8, 0.1),
                                             draw=rules.ItemDraw(1, 100, pad_id=0), backend=backend)
        assert ids.dtype == dtype
