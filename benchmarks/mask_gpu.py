"""GPU benchmark: the masking kernels next to a device-to-device copy of the values, in one run.

Needs an NVIDIA GPU with CuPy (numba-cuda for the fused kernel).  On synthetic sessions
(default 1M rows, mean length ~25) it times, with CUDA events (median of --repeats):

- d2d copy:        a device-to-device copy of the int64 values (the memory floor)
- fused kernel:    the numba.cuda kernel (one thread per row), with a key and without
- warp kernel:     the same mask with one warp per row (``kernels_gpu.mask_random(per_row="warp")``)
- CuPy reference:  the array-expression reference on CuPy

and checks that both GPU paths equal the NumPy reference on the same data.  Prints items/s
and the ratios; the target is the fused kernel within 2x of the copy.

    python benchmarks/mask_gpu.py [--rows 1000000] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np


def cuda_time(fn, repeats):
    import cupy

    fn()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mean-length", type=float, default=25.0)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    import cupy

    from merlin_mlm_ops.masking import engine, hashing
    from merlin_mlm_ops.data.synthetic import session_lengths

    rng = np.random.default_rng(0)
    lengths = session_lengths(args.rows, args.mean_length, rng=rng)
    offsets = np.zeros(args.rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(1, 100_000, offsets[-1]).astype(np.int64)
    keys = np.arange(args.rows, dtype=np.uint64)
    d_values, d_offsets, d_keys = cupy.asarray(values), cupy.asarray(offsets), cupy.asarray(keys)
    n_items = int(offsets[-1])
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print(f"device: {props['name'].decode()}, CuPy {cupy.__version__}, "
          f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}; data: {args.rows:,} rows, {n_items:,} items")

    params = dict(seed=1, epoch=0, prob=0.2, min_masked=1, max_masked=None, pad_id=0)
    want_keyed = engine.random_mask(values, offsets, keys, backend="reference", **params)
    want_keyless = engine.random_mask(values, offsets, None, backend="reference", **params)
    for backend in ("fused", "reference"):
        got = engine.random_mask(d_values, d_offsets, d_keys, backend=backend, **params)
        assert np.array_equal(cupy.asnumpy(got), want_keyed), f"{backend} (key) differs from NumPy"
        got = engine.random_mask(d_values, d_offsets, None, backend=backend, **params)
        assert np.array_equal(cupy.asnumpy(got), want_keyless), f"{backend} (no key) differs from NumPy"
    from merlin_mlm_ops.masking import kernels_gpu

    def warp(keys):
        return kernels_gpu.mask_random(hashing.as_uint64(d_values, cupy), d_offsets, keys, per_row="warp", **params)

    assert np.array_equal(cupy.asnumpy(warp(d_keys)), want_keyed), "warp kernel (key) differs from NumPy"
    assert np.array_equal(cupy.asnumpy(warp(None)), want_keyless), "warp kernel (no key) differs from NumPy"
    print("equality: fused (thread and warp per row) and CuPy reference masks equal the NumPy reference "
          "(key and no key)")

    dst = cupy.empty_like(d_values)
    results = {
        "d2d copy of the values": cuda_time(lambda: dst.__setitem__(Ellipsis, d_values), args.repeats),
        "fused kernel, key": cuda_time(lambda: engine.random_mask(d_values, d_offsets, d_keys, backend="fused", **params), args.repeats),
        "fused kernel, no key": cuda_time(lambda: engine.random_mask(d_values, d_offsets, None, backend="fused", **params), args.repeats),
        "warp kernel, key": cuda_time(lambda: warp(d_keys), args.repeats),
        "warp kernel, no key": cuda_time(lambda: warp(None), args.repeats),
        "CuPy reference, key": cuda_time(lambda: engine.random_mask(d_values, d_offsets, d_keys, backend="reference", **params), max(3, args.repeats // 4)),
        "fused last-item kernel": cuda_time(lambda: engine.last_mask(d_values, d_offsets, pad_id=0, backend="fused"), args.repeats),
    }
    width = max(map(len, results))
    print(f"\n{'what':<{width}}  {'ms':>8}  {'G items/s':>10}")
    for name, seconds in results.items():
        print(f"{name:<{width}}  {seconds * 1e3:8.3f}  {n_items / seconds / 1e9:10.2f}")
    copy = results["d2d copy of the values"]
    ratios = {
        "fused kernel (key) / d2d copy": results["fused kernel, key"] / copy,
        "fused kernel (no key) / d2d copy": results["fused kernel, no key"] / copy,
        "warp kernel (key) / d2d copy": results["warp kernel, key"] / copy,
        "warp kernel (no key) / d2d copy": results["warp kernel, no key"] / copy,
        "CuPy reference / fused kernel": results["CuPy reference, key"] / results["fused kernel, key"],
    }
    print()
    for name, value in ratios.items():
        target = "  target <= 2: " + ("ok" if value <= 2 else "MISSED") if "copy" in name else ""
        print(f"{name:<36} {value:7.2f}x{target}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": props["name"].decode(), "rows": args.rows, "items": n_items,
                       "seconds": results, "ratios": ratios}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
