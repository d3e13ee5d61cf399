"""The fused kernels equal the reference bit for bit (and the engine picks them)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from merlin_mlm_ops.masking import engine, hashing, kernels_cpu, rules

from helpers import flat_rows, random_rows

PARAMS = [
    dict(prob=0.2, min_masked=1, max_masked=None, pad_id=0),
    dict(prob=0.9, min_masked=2, max_masked=3, pad_id=0),
    dict(prob=0.05, min_masked=4, max_masked=None, pad_id=None),
    dict(prob=1.0, min_masked=0, max_masked=1, pad_id=-1),
]


def both(values, offsets, keyed, **params):
    v64 = hashing.as_uint64(values)
    keys = hashing.as_uint64(np.arange(len(offsets) - 1) * 7919) if keyed else None
    ref_keys = keys if keyed else hashing.content_row_keys(v64, offsets)
    want = rules.mask_random(v64, offsets, ref_keys, seed=11, epoch=3, **params)
    got = kernels_cpu.mask_random(v64, offsets, keys, seed=11, epoch=3, **params)
    return want, got


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("keyed", [False, True])
def test_fused_random_kernel_equals_reference_on_200k_rows(params, keyed):
    values, offsets = random_rows(200_000, max_len=60, pad_frac=0.1, seed=5)
    want, got = both(values, offsets, keyed, **params)
    assert np.array_equal(want, got)


@given(rows=st.lists(st.lists(st.integers(-3, 40), max_size=40), max_size=20),
       prob=st.floats(0.001, 1.0), min_masked=st.integers(0, 6), cap=st.one_of(st.none(), st.integers(6, 12)),
       keyed=st.booleans())
def test_fused_random_kernel_equals_reference_on_any_rows(rows, prob, min_masked, cap, keyed):
    values, offsets = flat_rows(rows)
    want, got = both(values, offsets, keyed, prob=prob, min_masked=min_masked, max_masked=cap, pad_id=0)
    assert np.array_equal(want, got)


def test_fused_last_kernel_equals_reference():
    values, offsets = random_rows(100_000, pad_frac=0.3, seed=6)
    v64 = hashing.as_uint64(values)
    for pad_id in (0, None):
        assert np.array_equal(rules.mask_last(v64, offsets, pad_id=pad_id),
                              kernels_cpu.mask_last(v64, offsets, pad_id=pad_id))


def test_engine_backends_agree_and_env_selects(monkeypatch):
    values, offsets = random_rows(5000, seed=7)
    params = dict(seed=1, epoch=0, prob=0.3, min_masked=1, max_masked=None, pad_id=0)
    fused = engine.random_mask(values, offsets, None, backend="fused", **params)
    ref = engine.random_mask(values, offsets, None, backend="reference", **params)
    monkeypatch.setenv("MERLIN_MLM_OPS_BACKEND", "reference")
    assert np.array_equal(engine.random_mask(values, offsets, None, **params), fused)
    assert np.array_equal(fused, ref)
    with pytest.raises(ValueError, match="backend must be one of"):
        engine.random_mask(values, offsets, None, backend="turbo", **params)


def test_row_ranges_on_several_threads_give_the_same_mask(monkeypatch):
    values, offsets = random_rows(150_000, max_len=60, seed=8)
    assert offsets[-1] > kernels_cpu.PARALLEL_MIN_ITEMS
    v64 = hashing.as_uint64(values)
    params = dict(seed=3, epoch=0, prob=0.2, min_masked=1, max_masked=None, pad_id=0)
    masks = []
    for threads in ("1", "3"):
        monkeypatch.setenv("MERLIN_MLM_OPS_THREADS", threads)
        masks.append(kernels_cpu.mask_random(v64, offsets, None, **params))
    assert np.array_equal(*masks)
