"""On a GPU: last-item rows and 80/10/10 from the CuPy reference and the CUDA kernel equal the NumPy
reference, bit for bit. Marked ``gpu`` and skipped where no GPU is present (as tests/test_gpu.py)."""
import numpy as np
import pytest

from merlin_mlm_ops.masking import engine, hashing, rules
from merlin_mlm_ops.masking.gpu import has_gpu

from helpers import random_rows

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not has_gpu(), reason="needs an NVIDIA GPU with CuPy")]


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("draw", [rules.ItemDraw(0, 3000, pad_id=0), rules.ItemDraw(counts=np.arange(3000) % 11, pad_id=0)],
                         ids=["uniform", "counts"])
@pytest.mark.parametrize("keyed", [False, True])
def test_gpu_last_item_rows_and_input_ids_equal_numpy(backend, draw, keyed):
    import cupy

    values, offsets = random_rows(500_000, max_len=60, vocab=3000, pad_frac=0.1, seed=5)
    keys = hashing.as_uint64(np.arange(len(offsets) - 1, dtype=np.int64) * 7919) if keyed else None
    params = dict(seed=11, epoch=3, prob=0.2, min_masked=1, max_masked=None, pad_id=0, last_ratio=0.1,
                  replace=(0.8, 0.1, 0.1), draw=draw)
    cpu_mask, cpu_ids = engine.random_mask_extended(values, offsets, keys, backend="reference", **params)
    gpu_mask, gpu_ids = engine.random_mask_extended(cupy.asarray(values), cupy.asarray(offsets),
                                                    None if keys is None else cupy.asarray(keys), backend=backend,
                                                    **params)
    assert np.array_equal(cpu_mask, cupy.asnumpy(gpu_mask)) and np.array_equal(cpu_ids, cupy.asnumpy(gpu_ids))
