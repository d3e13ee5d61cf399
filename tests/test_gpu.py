"""On a GPU: the CuPy reference and the CUDA kernels equal the NumPy reference, bit for bit.

Marked ``gpu`` and skipped where no GPU is present (``ci/gpu-check.sh`` runs them on one).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from merlin_mlm_ops.masking import engine, hashing, rules
from merlin_mlm_ops.masking.gpu import has_gpu

from helpers import flat_rows, random_rows

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not has_gpu(), reason="needs an NVIDIA GPU with CuPy")]

PARAMS = [
    dict(prob=0.2, min_masked=1, max_masked=None, pad_id=0),
    dict(prob=0.9, min_masked=2, max_masked=3, pad_id=0),
    dict(prob=0.05, min_masked=4, max_masked=None, pad_id=None),
    dict(prob=1.0, min_masked=0, max_masked=1, pad_id=-1),
]


def on_both(values, offsets, keyed, backend, **params):
    import cupy

    keys = np.arange(len(offsets) - 1, dtype=np.int64) * 7919 if keyed else None
    common = dict(seed=11, epoch=3, **params)
    cpu = engine.random_mask(values, offsets, None if keys is None else hashing.as_uint64(keys), backend="reference", **common)
    dev_keys = None if keys is None else hashing.as_uint64(cupy.asarray(keys), cupy)
    gpu = engine.random_mask(cupy.asarray(values), cupy.asarray(offsets), dev_keys, backend=backend, **common)
    return cpu, cupy.asnumpy(gpu)


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("keyed", [False, True])
def test_gpu_random_masks_equal_numpy_on_large_inputs(backend, params, keyed):
    values, offsets = random_rows(1_000_000, max_len=60, pad_frac=0.1, seed=5)
    cpu, gpu = on_both(values, offsets, keyed, backend, **params)
    assert np.array_equal(cpu, gpu)


@given(rows=st.lists(st.lists(st.integers(-3, 40), max_size=40), max_size=30),
       prob=st.floats(0.001, 1.0), min_masked=st.integers(0, 6), cap=st.one_of(st.none(), st.integers(6, 12)),
       keyed=st.booleans(), backend=st.sampled_from(["fused", "reference"]))
def test_gpu_random_masks_equal_numpy_on_any_rows(rows, prob, min_masked, cap, keyed, backend):
    values, offsets = flat_rows(rows)
    cpu, gpu = on_both(values, offsets, keyed, backend, prob=prob, min_masked=min_masked, max_masked=cap, pad_id=0)
    assert np.array_equal(cpu, gpu)


@pytest.mark.parametrize("backend", ["fused", "reference"])
def test_gpu_last_masks_equal_numpy(backend):
    import cupy

    values, offsets = random_rows(500_000, pad_frac=0.3, seed=6)
    for pad_id in (0, None):
        cpu = rules.mask_last(hashing.as_uint64(values), offsets, pad_id=pad_id)
        gpu = engine.last_mask(cupy.asarray(values), cupy.asarray(offsets), pad_id=pad_id, backend=backend)
        assert np.array_equal(cpu, cupy.asnumpy(gpu))


def test_int32_ids_on_gpu_mask_like_int64_ids_on_cpu():
    import cupy

    values, offsets = random_rows(100_000, seed=9)
    params = dict(seed=1, epoch=0, prob=0.2, min_masked=1, max_masked=None, pad_id=0)
    cpu = engine.random_mask(values, offsets, None, **params)
    gpu = engine.random_mask(cupy.asarray(values.astype(np.int32)), cupy.asarray(offsets), None, **params)
    assert np.array_equal(cpu, cupy.asnumpy(gpu))


def test_cudf_partition_masks_equal_pandas_partition_masks():
    cudf = pytest.importorskip("cudf")
    import nvtabular as nvt  # noqa: F401 - the operator path needs the Merlin stack
    from merlin.dag import ColumnSelector

    from merlin_mlm_ops import MaskLast, MaskRandom
    from merlin_mlm_ops.data.synthetic import make_sessions

    df = make_sessions(20_000, n_items=500, seed=4)
    gdf = cudf.from_pandas(df)
    for op in (MaskRandom(prob=0.3, seed=2, key="session_id"), MaskRandom(prob=0.3, seed=2), MaskLast()):
        cpu = op.transform(ColumnSelector(["item_ids", "category"]), df)["item_ids_mask"]
        gpu = op.transform(ColumnSelector(["item_ids", "category"]), gdf)["item_ids_mask"].to_arrow().to_pylist()
        assert [list(map(bool, m)) for m in cpu] == gpu


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("keyed", [False, True])
def test_gpu_warp_per_row_kernel_equals_numpy(params, keyed):
    import cupy

    from merlin_mlm_ops.masking import kernels_gpu

    values, offsets = random_rows(200_000, max_len=200, pad_frac=0.1, seed=8)
    keys = hashing.as_uint64(np.arange(len(offsets) - 1, dtype=np.int64) * 7919) if keyed else None
    v64 = hashing.as_uint64(values)
    want = rules.mask_random(v64, offsets, keys if keyed else hashing.content_row_keys(v64, offsets),
                             seed=11, epoch=3, **params)
    got = kernels_gpu.mask_random(cupy.asarray(v64), cupy.asarray(offsets), None if keys is None else cupy.asarray(keys),
                                  seed=11, epoch=3, per_row="warp", **params)
    assert np.array_equal(want, cupy.asnumpy(got))
