"""CPU benchmark of SlidingWindows against the NumPy floor of the same slicing, in one run.

Synthetic sessions (default 1M rows, lengths geometric with mean ~100, int64 ids, an int64
session key) in one pandas partition; for each window setting (default BERT4Rec's 200:100 and a
denser 50:25) it times (median of --repeats runs):

- operator:    ``SlidingWindows.transform`` on the pandas partition (object list column in,
               object list column + repeated key + window key out);
- NumPy floor: the same windows cut from flat values + offsets with a few NumPy calls
               (counts, starts, ``np.repeat``, one gather), written here independently;
- list floor:  taking the object column apart and building one of the output's shape (what
               any operator on pandas list columns pays, windows or not).

It checks that the operator's windows equal the floor's, prints the ratio operator / floor and
(with --write) rewrites the table in docs/sliding-windows.md between its markers.

    python benchmarks/windows.py                 # 1M rows, mean length 100
    python benchmarks/windows.py --rows 100000   # quick
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "sliding-windows.md")
BLOCK = "windows-benchmark"


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sessions(n_rows, mean_length, seed=0):
    """(pandas frame, flat values, offsets): geometric lengths >= 1 with the given mean."""
    import pandas as pd
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    lengths = rng.geometric(1.0 / mean_length, n_rows).astype(np.int64)
    offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(1, 100_000, int(offsets[-1]), dtype=np.int64)
    # Rows as NumPy arrays, as NVTabular's CPU partitions read from Parquet hold them.
    rows = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)).to_numpy(zero_copy_only=False)
    df = pd.DataFrame({"session_id": np.arange(n_rows, dtype=np.int64), "item_ids": pd.Series(rows, dtype=object)})
    return df, values, offsets


def numpy_floor(values, offsets, max_len, step):
    """The windows of gen_data_fin.py from flat arrays: (window values, window offsets)."""
    lengths = np.diff(offsets)
    over = np.maximum(lengths - max_len, 0)
    counts = 1 + (over + step - 1) // step
    rows = np.repeat(np.arange(len(lengths)), counts)
    first = np.cumsum(counts) - counts
    j = np.arange(len(rows)) - first[rows]
    starts = np.where(j == 0, 0, over[rows] - (counts[rows] - 1 - j) * step)
    sizes = np.minimum(lengths, max_len)[rows]
    out_offsets = np.concatenate([[0], np.cumsum(sizes)])
    begin = offsets[:-1][rows] + starts
    gather = np.repeat(begin - out_offsets[:-1], sizes) + np.arange(out_offsets[-1])
    return values[gather], out_offsets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mean-length", type=int, default=100)
    parser.add_argument("--windows", nargs="+", default=["200:100", "50:25"], metavar="MAX_LEN:STEP")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/sliding-windows.md")
    args = parser.parse_args(argv)

    import pyarrow as pa
    from merlin.dag import ColumnSelector

    from merlin_mlm_ops import SlidingWindows
    from merlin_mlm_ops.adapters import pandas_lists

    load_start = os.getloadavg()[0]
    df, values, offsets = sessions(args.rows, args.mean_length)
    setting = (f"{args.rows:,} rows, {int(offsets[-1]):,} items (mean length {offsets[-1] / args.rows:.1f}), "
               f"one pandas partition; {platform.machine()}, {os.cpu_count()} cores, median of {args.repeats}")
    print(setting)
    print(f"{'windows':>9} {'out rows':>11} {'out items':>13} {'operator s':>11} {'numpy floor s':>14} "
          f"{'list floor s':>13} {'op / numpy':>11}")
    table = ["| max_len:step | windows | items out | operator (s) | NumPy floor (s) | list floor (s) | operator / NumPy floor |",
             "|---|---|---|---|---|---|---|"]
    for spec in args.windows:
        max_len, step = (int(x) for x in spec.split(":"))
        op = SlidingWindows(max_len, step, key="session_id")
        select = ColumnSelector(["item_ids"])
        out = op.transform(select, df)
        want_values, want_offsets = numpy_floor(values, offsets, max_len, step)
        got = pandas_lists.flatten(out["item_ids"], "item_ids", "check")
        assert np.array_equal(got.offsets, want_offsets) and np.array_equal(got.values, want_values)
        n_windows = len(out)
        del out, got  # the timed runs below allocate their own outputs

        def list_floor():
            flat = pandas_lists.flatten(df["item_ids"], "item_ids", "floor")
            arrow = pa.LargeListArray.from_arrays(pa.array(want_offsets), pa.array(want_values))
            return flat, arrow.to_numpy(zero_copy_only=False)

        t_op = timed(lambda: op.transform(select, df), args.repeats)
        t_np = timed(lambda: numpy_floor(values, offsets, max_len, step), args.repeats)
        t_list = timed(list_floor, args.repeats)
        print(f"{spec:>9} {n_windows:>11,} {int(want_offsets[-1]):>13,} {t_op:>11.3f} {t_np:>14.3f} "
              f"{t_list:>13.3f} {t_op / t_np:>10.1f}x")
        table.append(f"| {spec} | {n_windows:,} | {int(want_offsets[-1]):,} | {t_op:.3f} | {t_np:.3f} | "
                     f"{t_list:.3f} | {t_op / t_np:.1f}x |")
        del want_values, want_offsets
    if args.write:
        from merlin_mlm_ops.doc_blocks import replace_block

        command = " ".join(["python", "benchmarks/windows.py", *(argv if argv is not None else sys.argv[1:])])
        text = (f"Measured {time.strftime('%Y-%m-%d')} with `{command}`: {setting}; load average "
                f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (a shared machine: "
                "times are noisy, the ratios less so); the operator's windows checked equal to the "
                "floor's.\n\n" + "\n".join(table))
        replace_block(DOCS, BLOCK, text)
        print(f"wrote the table into {os.path.normpath(DOCS)}")


if __name__ == "__main__":
    main()
