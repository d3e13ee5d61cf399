"""Benchmark of the dataframe API (mask_random) on pandas, Polars and PyArrow next to its floors, in one run.

On the same synthetic sessions (default 300k rows, mean length ~25), fastest and median of --repeats runs:

- API, per frame kind: ``mask_random(frame, "item_ids", key="session_id")`` and without key, on a pandas
  ``ArrowDtype`` frame, a Polars DataFrame, a ``pyarrow.Table``, and a pandas object-list frame;
- NumPy floor: flatten the list column into NumPy values + offsets and rebuild a list column of the
  same shape, no masking, as benchmarks/mask_cpu.py measures it for the operator (object lists:
  ``map(len)`` + ``np.concatenate``, rebuilt through Arrow);
- zero-copy floor, per kind: the same flatten + rebuild through Arrow's buffers (values viewed, not
  copied; a zero mask put back as the frame's own list column): everything the API does but the mask;
- kernel: the fused masking kernel alone on flat values + offsets (``masking.engine``).

Ratios (of the fastest runs): API / NumPy floor (target <= 1.3, as the operator is held to), and API / (zero-copy floor +
kernel), the API's own overhead (target <= 1.3).  ``--write`` rewrites the table in docs/frames.md.

    nice python benchmarks/frames.py                 # default size
    nice python benchmarks/frames.py --rows 50000    # quick
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa

from merlin_mlm_ops import mask_random
from merlin_mlm_ops.adapters import pandas_lists
from merlin_mlm_ops.doc_blocks import replace_block
from merlin_mlm_ops.frames import arrow_lists
from merlin_mlm_ops.masking import engine
from merlin_mlm_ops.synthetic import make_sessions

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "frames.md")
BLOCK = "frames-benchmark"
ARGS = dict(prob=0.2, seed=1)


def timed(fn, repeats):
    """Fastest of ``repeats`` runs after a warm-up (numba compilation, allocator), and their median.

    Ratios use the fastest run: on a shared machine it is the run least disturbed by other work
    (the median, printed beside it, moves with the machine's load).
    """
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return Time(min(times), statistics.median(times))


class Time(float):
    """Seconds of the fastest run (the float value), with the median as ``.median``."""

    def __new__(cls, best, median):
        self = super().__new__(cls, best)
        self.median = median
        return self


def frames(rows, mean_length):
    """The same sessions as each frame kind: {name: (frame, zero-copy floor function)}."""
    df = make_sessions(rows, n_items=100_000, mean_length=mean_length, seed=0)[["session_id", "item_ids"]]
    flat = pandas_lists.flatten(df["item_ids"], "item_ids", "bench")
    items = pa.ListArray.from_arrays(pa.array(flat.offsets.astype(np.int32)), pa.array(flat.values))
    table = pa.table({"session_id": df["session_id"].to_numpy(), "item_ids": items})
    arrow_df = pd.DataFrame({"session_id": df["session_id"],
                             "item_ids": pd.arrays.ArrowExtensionArray(pa.chunked_array([items]))})

    def rebuild(arr):
        f = arrow_lists.flatten(arr, "item_ids", "bench", range(len(arr)))
        return arrow_lists.bool_lists(np.zeros(len(f.values), dtype=bool), f, arr.type)

    kinds = {
        "pandas ArrowDtype": (arrow_df, lambda: arrow_df.assign(m=pd.arrays.ArrowExtensionArray(
            rebuild(arrow_df["item_ids"].array.__arrow_array__())))),
        "PyArrow Table": (table, lambda: table.append_column("m", rebuild(table.column("item_ids")))),
    }
    try:
        import polars as pl
    except ImportError:
        pl = None
    if pl is not None:
        pdf = pl.from_arrow(table)
        kinds["Polars DataFrame"] = (pdf, lambda: pdf.with_columns(
            pl.from_arrow(rebuild(pdf.get_column("item_ids").to_arrow())).alias("m")))

    def object_floor():
        f = pandas_lists.flatten(df["item_ids"], "item_ids", "bench")
        return df.assign(m=pandas_lists.build_bool_lists(np.zeros(len(f.values), dtype=bool), f.offsets, f.valid, df.index))

    kinds["pandas object lists"] = (df, object_floor)
    return df, flat, kinds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--mean-length", type=float, default=25.0)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/frames.md")
    args = parser.parse_args(argv)

    df, flat, kinds = frames(args.rows, args.mean_length)
    n_items = len(flat.values)
    versions = f"numpy {np.__version__}, pandas {pd.__version__}, pyarrow {pa.__version__}"
    if "polars" in sys.modules:
        versions += f", polars {sys.modules['polars'].__version__}"
    header = (f"data: {args.rows:,} rows, {n_items:,} items (mean length {n_items / args.rows:.1f}); Python "
              f"{platform.python_version()}, {versions}; {os.cpu_count()} cores; fastest of {args.repeats} runs "
              f"(median in brackets)")
    print(header)

    keys = df["session_id"].to_numpy().view(np.uint64)
    params = dict(seed=1, epoch=0, prob=0.2, min_masked=1, max_masked=None, pad_id=0)
    numpy_floor = timed(kinds["pandas object lists"][1], args.repeats)
    kernel = timed(lambda: engine.random_mask(flat.values, flat.offsets, keys, **params), args.repeats)
    kernel_nokey = timed(lambda: engine.random_mask(flat.values, flat.offsets, None, **params), args.repeats)
    rows = []
    for name, (frame, floor_fn) in kinds.items():
        keyed = timed(lambda: mask_random(frame, "item_ids", key="session_id", **ARGS), args.repeats)
        keyless = timed(lambda: mask_random(frame, "item_ids", **ARGS), args.repeats)
        floor = numpy_floor if name == "pandas object lists" else timed(floor_fn, args.repeats)
        rows.append((name, keyed, keyless, floor, keyed / numpy_floor, keyed / (floor + kernel),
                     keyless / (floor + kernel_nokey)))

    lines = [header, "",
             f"NumPy floor (object lists: flatten + rebuild, no mask): {numpy_floor:.3f} s ({numpy_floor.median:.3f}); "
             f"fused kernel alone: {kernel:.3f} s ({kernel.median:.3f}) with key, {kernel_nokey:.3f} s "
             f"({kernel_nokey.median:.3f}) without", "",
             "| frame | API, key (s) | API, no key (s) | M items/s (key) | zero-copy floor (s) | API / NumPy floor "
             "| API / (zero-copy floor + kernel), key | same, no key |",
             "|---|---|---|---|---|---|---|---|"]
    for name, keyed, keyless, floor, r_numpy, r_own, r_own_nokey in rows:
        lines.append(f"| {name} | {keyed:.3f} ({keyed.median:.3f}) | {keyless:.3f} ({keyless.median:.3f}) | "
                     f"{n_items / keyed / 1e6:.0f} | {floor:.3f} ({floor.median:.3f}) | "
                     f"{r_numpy:.2f}x | {r_own:.2f}x | {r_own_nokey:.2f}x |")
    lines.append("")
    missed = [name for name, *_, r_numpy, r_own, r_own_nokey in rows if max(r_numpy, r_own, r_own_nokey) > 1.3]
    lines.append("targets (<= 1.3x): " + ("all met" if not missed else "missed by " + ", ".join(missed)))
    print("\n".join(lines[1:]))
    if args.write:
        replace_block(DOCS, BLOCK, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
