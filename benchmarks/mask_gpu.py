"""GPU benchmark: the masking kernels next to a device-to-device copy of the values, in one run.

Needs an NVIDIA GPU with CuPy and numba.cuda (numba-cuda).  For each case ``ROWSxMEAN`` (default
``1000000x25,100000x500``: 1M rows of mean length 25, and 100k long rows of mean length 500) it
builds synthetic rows (:func:`merlin_mlm_ops.data.synthetic.session_lengths`, capped at 8x the mean)
and times, with CUDA events (median of ``--repeats``):

- d2d copy:             a device-to-device copy of the int64 values (the memory floor)
- fused thread-per-row: ``kernels_gpu.mask_random(per_row="thread")`` (what the engine launches), key / no key
- fused warp-per-row:   ``kernels_gpu.mask_random(per_row="warp")``, key / no key
- CuPy reference:       ``rules.mask_random`` on CuPy (key)
- fused last-item:      ``kernels_gpu.mask_last``

Before timing, every mask (thread and warp, key and no key, the CuPy reference, last-item) is
compared with the NumPy reference on the host; a difference is printed as ``MISMATCH`` and makes
the exit status 1 (the timings still print).  Prints items/s, the ratios to the copy (target: the
fused kernel within 2x) and which per-row strategy was faster on each case.

``--simulate`` runs the same code on the CPU under numba's CUDA simulator (it sets
``NUMBA_ENABLE_CUDASIM=1`` itself, on tiny cases, default ``300x25,12x500``), with NumPy in place of
CuPy and wall-clock timers: the masks are checked for real, the times mean nothing.  It is how CI
rehearses this script without a GPU (``ci/gpu-rehearsal.sh``).

    python benchmarks/mask_gpu.py [--cases 1000000x25,100000x500] [--repeats 20] [--json out.json]
    python benchmarks/mask_gpu.py --simulate
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np

GPU_CASES = "1000000x25,100000x500"
SIMULATED_CASES = "100x25,8x500"
PARAMS = dict(seed=1, epoch=0, prob=0.2, min_masked=1, max_masked=None, pad_id=0)


def parse_cases(text):
    """``"1000000x25,100000x500"`` -> ``[(1000000, 25.0), (100000, 500.0)]``."""
    cases = []
    for part in text.split(","):
        rows, _, mean = part.strip().partition("x")
        try:
            cases.append((int(rows), float(mean)))
        except ValueError:
            raise SystemExit(f"mask_gpu: a case is ROWSxMEAN_LENGTH, e.g. 1000000x25; got {part!r}") from None
    return cases


class Device:
    """CuPy on a GPU, or NumPy under numba's CUDA simulator (``simulated=True``)."""

    def __init__(self, simulated):
        self.simulated = simulated
        if simulated:
            self.xp = np
            self.name = "numba CUDA simulator (CPU; times are meaningless)"
            return
        import cupy

        self.xp = cupy
        name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        name = name.decode() if isinstance(name, bytes) else name  # CuPy gives bytes; a str is taken as is
        self.name = (f"{name}, CuPy {cupy.__version__}, CUDA runtime "
                     f"{cupy.cuda.runtime.runtimeGetVersion()}, driver {cupy.cuda.runtime.driverGetVersion()}")

    def put(self, arr):
        return arr if self.simulated else self.xp.asarray(arr)

    def copy_into(self, dst, src):
        if self.simulated:
            np.copyto(dst, src)
        else:  # cudaMemcpyAsync device-to-device on the current stream
            dst.data.copy_from_device_async(src.data, src.nbytes)

    def run_and_time(self, fn, repeats):
        """``(fn()'s result on the host, median seconds of fn())``.

        On a GPU the first call (which also compiles) gives the result and ``repeats`` more calls
        are timed with CUDA events; simulated, the one call that gives the result is timed (the
        simulator takes seconds per call, and its times mean nothing anyway).
        """
        if self.simulated:
            t0 = time.perf_counter()
            result = fn()
            return result, time.perf_counter() - t0
        cupy = self.xp
        result = fn()
        host = None if result is None else cupy.asnumpy(result)
        cupy.cuda.Device().synchronize()
        times = []
        for _ in range(repeats):
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, stop) / 1e3)
        return host, statistics.median(times)


def make_rows(n_rows, mean_length, seed=0):
    """(int64 values, int64 offsets, uint64 keys) of synthetic rows."""
    from merlin_mlm_ops.data.synthetic import session_lengths

    rng = np.random.default_rng(seed)
    lengths = session_lengths(n_rows, mean_length, max_length=max(200, int(8 * mean_length)), rng=rng)
    offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(1, 100_000, offsets[-1]).astype(np.int64)
    return values, offsets, np.arange(n_rows, dtype=np.uint64)


def run_case(dev, n_rows, mean_length, repeats):
    """Check and time one case; returns its figures (a dict) and the names of masks that differed."""
    from merlin_mlm_ops.masking import hashing, kernels_gpu, rules

    xp = dev.xp
    values, offsets, keys = make_rows(n_rows, mean_length)
    n_items = int(offsets[-1])
    v64 = hashing.as_uint64(values)
    d_v64, d_offsets, d_keys = dev.put(v64), dev.put(offsets), dev.put(keys)
    print(f"\n== case {n_rows:,} rows x mean length {mean_length:g}: {n_items:,} items, "
          f"longest row {int(np.diff(offsets).max()):,}")

    def fused(per_row, with_key):
        return kernels_gpu.mask_random(d_v64, d_offsets, d_keys if with_key else None, per_row=per_row, **PARAMS)

    def reference():
        return rules.mask_random(d_v64, d_offsets, d_keys, xp=xp, **PARAMS)

    def last():
        return kernels_gpu.mask_last(d_v64, d_offsets, pad_id=PARAMS["pad_id"])

    want = {True: rules.mask_random(v64, offsets, keys, **PARAMS),
            False: rules.mask_random(v64, offsets, hashing.content_row_keys(v64, offsets), **PARAMS)}
    checks = {f"fused {per_row}-per-row, {'key' if k else 'no key'}": (lambda p=per_row, k=k: fused(p, k), want[k])
              for per_row in ("thread", "warp") for k in (True, False)}
    checks[f"{'NumPy' if dev.simulated else 'CuPy'} reference, key"] = (reference, want[True])
    checks["fused last-item"] = (last, rules.mask_last(v64, offsets, pad_id=PARAMS["pad_id"]))
    dst = xp.empty_like(d_v64)
    seconds = {"d2d copy of the values": dev.run_and_time(lambda: dev.copy_into(dst, d_v64), repeats)[1]}
    mismatched = []
    for name, (fn, expected) in checks.items():
        got, seconds[name] = dev.run_and_time(fn, max(3, repeats // 4) if "reference" in name else repeats)
        if not np.array_equal(got, expected):
            mismatched.append(name)
    print("equality with the NumPy reference: " +
          ("all masks equal, bit for bit" if not mismatched else "MISMATCH in " + ", ".join(mismatched)))
    width = max(map(len, seconds))
    print(f"{'what':<{width}}  {'ms':>9}  {'G items/s':>9}")
    for name, s in seconds.items():
        print(f"{name:<{width}}  {s * 1e3:9.3f}  {n_items / s / 1e9:9.3f}")

    copy = seconds["d2d copy of the values"]
    ratios = {f"{name} / d2d copy": seconds[name] / copy for name in seconds if name.startswith("fused ")}
    ratios["reference / fused thread-per-row (key)"] = (
        seconds[[n for n in seconds if "reference" in n][0]] / seconds["fused thread-per-row, key"])
    for k in ("key", "no key"):
        ratios[f"fused warp-per-row / thread-per-row ({k})"] = (
            seconds[f"fused warp-per-row, {k}"] / seconds[f"fused thread-per-row, {k}"])
    print()
    for name, value in ratios.items():
        target = ""
        if name.endswith("d2d copy") and "last-item" not in name and not dev.simulated:
            target = "  target <= 2: " + ("ok" if value <= 2 else "missed")
        print(f"{name:<{width + 12}} {value:8.2f}x{target}")
    faster = {k: "warp" if ratios[f"fused warp-per-row / thread-per-row ({k})"] < 1 else "thread"
              for k in ("key", "no key")}
    print(f"faster per-row strategy on this case: {faster['key']} (key), {faster['no key']} (no key)")
    return {"rows": n_rows, "mean_length": mean_length, "items": n_items, "seconds": seconds,
            "items_per_s": {name: n_items / s for name, s in seconds.items()}, "ratios": ratios,
            "faster_per_row": faster, "mismatched": mismatched}, mismatched


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help=f"comma-separated ROWSxMEAN_LENGTH cases (default {GPU_CASES}; "
                                        f"with --simulate {SIMULATED_CASES})")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per figure, median taken (default 20; with --simulate the one checked call is timed)")
    parser.add_argument("--simulate", action="store_true",
                        help="run on the CPU under numba's CUDA simulator (no GPU; checks masks, times meaningless)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.simulate:
        if "numba.cuda" in sys.modules and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
            raise SystemExit("mask_gpu: --simulate must set NUMBA_ENABLE_CUDASIM before numba.cuda is imported")
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        # The simulator runs the kernels' uint64 arithmetic on NumPy scalars, which warn when it
        # wraps; wrapping is the hash's intent (the compiled kernels wrap silently).
        warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning)
    cases = parse_cases(args.cases or (SIMULATED_CASES if args.simulate else GPU_CASES))
    repeats = args.repeats or 20

    dev = Device(args.simulate)
    print(f"device: {dev.name}")
    params = ", ".join(f"{k}={v}" for k, v in PARAMS.items())
    timing = "one call each" if args.simulate else f"median of {repeats} (references: {max(3, repeats // 4)})"
    print(f"masks: random ({params}); times: {timing}")
    results, failed = [], []
    for n_rows, mean_length in cases:
        figures, mismatched = run_case(dev, n_rows, mean_length, repeats)
        results.append(figures)
        failed += mismatched
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": dev.name, "simulated": dev.simulated, "params": PARAMS, "cases": results}, fh, indent=2)
    if failed:
        print(f"\nMASKS DIFFER FROM THE NUMPY REFERENCE: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
