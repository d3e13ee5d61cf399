"""The CUDA kernels' source, run by numba's CUDA simulator on the CPU, equals the reference.

This is how CI (no GPU) checks the GPU kernels bit for bit; on a GPU, tests/test_gpu.py runs
them for real.  The simulator must be switched on before numba.cuda is imported, hence a
subprocess.
"""
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import warnings; warnings.filterwarnings("ignore")
    import numpy as np
    from merlin_mlm_ops.masking import hashing, kernels_gpu, rules
    from helpers import flat_rows, random_rows
    cases = [random_rows(400, max_len=30, pad_frac=0.1, seed=s) for s in range(3)]
    cases.append(flat_rows([[], [0], [5], [0, 0], [1, 2], [3, 3, 3, 3]]))
    cases.append(random_rows(40, max_len=90, pad_frac=0.2, seed=9))  # rows longer than a warp
    params = [dict(prob=0.2, min_masked=1, max_masked=None, pad_id=0),
              dict(prob=0.9, min_masked=2, max_masked=3, pad_id=0),
              dict(prob=0.6, min_masked=1, max_masked=12, pad_id=0),
              dict(prob=0.05, min_masked=4, max_masked=None, pad_id=None),
              dict(prob=1.0, min_masked=0, max_masked=1, pad_id=-1)]
    checked = 0
    for values, offsets in cases:
        v64 = hashing.as_uint64(values)
        for p in params:
            for keys in (None, hashing.as_uint64(np.arange(len(offsets) - 1) * 31)):
                ref_keys = hashing.content_row_keys(v64, offsets) if keys is None else keys
                want = rules.mask_random(v64, offsets, ref_keys, seed=7, epoch=2, **p)
                got = kernels_gpu.mask_random(v64, offsets, keys, seed=7, epoch=2, **p)
                assert np.array_equal(want, got), (p, keys is None)
                checked += 1
                if len(offsets) < 100:  # the warp kernel simulates 32 threads a row: small cases only
                    got = kernels_gpu.mask_random(v64, offsets, keys, seed=7, epoch=2, per_row="warp", **p)
                    assert np.array_equal(want, got), (p, keys is None, "warp")
                    checked += 1
        for pad in (0, None):
            assert np.array_equal(rules.mask_last(v64, offsets, pad_id=pad), kernels_gpu.mask_last(v64, offsets, pad_id=pad))
    print("simulated-ok", checked)
""")


def test_cuda_kernels_equal_the_reference_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.path.dirname(__file__))
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "simulated-ok 70" in run.stdout



EXTENDED = textwrap.dedent("""
    import warnings; warnings.filterwarnings("ignore")
    import numpy as np
    from merlin_mlm_ops.masking import hashing, kernels_gpu, rules
    from helpers import flat_rows, random_rows
    cases = [random_rows(300, max_len=30, vocab=60, pad_frac=0.1, seed=s) for s in range(2)]
    cases.append(flat_rows([[], [0], [5], [0, 0], [1, 2], [3, 3, 3, 3]]))
    draws = [rules.ItemDraw(0, 60, pad_id=0), rules.ItemDraw(counts=np.arange(60) % 5, pad_id=0)]
    options = [dict(last_ratio=0.3, replace=None), dict(last_ratio=0.0, replace=(0.8, 0.1, 0.1)),
               dict(last_ratio=0.4, replace=(0.2, 0.6, 0.2))]
    checked = 0
    for values, offsets in cases:
        v64 = hashing.as_uint64(values)
        for draw in draws:
            for opt in options:
                for keys in (None, hashing.as_uint64(np.arange(len(offsets) - 1) * 31)):
                    ref_keys = hashing.content_row_keys(v64, offsets) if keys is None else keys
                    mask, last = rules.mask_random_or_last(v64, offsets, ref_keys, seed=7, epoch=2, prob=0.3,
                                                           pad_id=0, last_ratio=opt["last_ratio"])
                    got_mask, got_ids = kernels_gpu.mask_extended(v64, offsets, keys, seed=7, epoch=2, prob=0.3,
                                                                  pad_id=0, draw=draw, **opt)
                    assert np.array_equal(mask, got_mask), opt
                    if opt["replace"] is not None:
                        ids, _ = rules.corrupted_input(v64, offsets, ref_keys, mask, last, seed=7, epoch=2,
                                                       replace=opt["replace"], draw=draw, pad_id=0)
                        assert np.array_equal(ids, got_ids), opt
                    checked += 1
    print("simulated-ok", checked)
""")


def test_cuda_kernel_with_last_item_rows_and_80_10_10_equals_the_reference_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=os.path.dirname(__file__))
    run = subprocess.run([sys.executable, "-c", EXTENDED], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "simulated-ok 36" in run.stdout
