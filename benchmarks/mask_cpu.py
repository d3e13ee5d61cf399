"""CPU benchmark of MaskRandom against its floor and its alternatives, on the same data, in one run.

Times (median of --repeats runs) on synthetic sessions (default 1M rows, mean length ~25):

- operator:        MaskRandom.transform on one pandas partition (with and without a key)
- list floor:      flatten the list column + rebuild a list column of the same shape, no masking
- row-wise apply:  a pandas ``Series.apply`` doing the same masking row by row with NumPy
- kernel (fused):  the numba kernel on flat values + offsets (all cores, and on 1 thread)
- kernel (ref.):   the NumPy reference on flat values + offsets
- np.copy:         a copy of the values array (memory floor)
- SequenceMaskRandom: merlin-models' in-graph masking (TF 2.12) on the same items in batches,
                   when importable

Prints items/s and ratios, checks the targets, and (with --write) rewrites the table in
docs/benchmarks.md between its markers.

    python benchmarks/mask_cpu.py                # full size
    python benchmarks/mask_cpu.py --rows 100000  # quick
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

from merlin_mlm_ops.doc_blocks import replace_block  # noqa: E402

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks.md")
BLOCK = "cpu-benchmark"


def timed(fn, repeats):
    fn()  # warm-up (numba compilation, TF tracing, allocator)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def single_thread(fn):
    old = os.environ.get("MERLIN_MLM_OPS_THREADS")
    os.environ["MERLIN_MLM_OPS_THREADS"] = "1"
    try:
        return fn()
    finally:
        if old is None:
            del os.environ["MERLIN_MLM_OPS_THREADS"]
        else:
            os.environ["MERLIN_MLM_OPS_THREADS"] = old


def rowwise_apply(df, seed, prob):
    """The same masking, written the obvious way: Series.apply with NumPy per row."""
    from merlin_mlm_ops.masking import hashing

    key = hashing.stream_key(seed, 0)
    threshold = np.uint64(int(prob * (1 << 53)))
    golden = np.uint64(hashing.GOLDEN)

    def one(args):
        ids, session = args
        row_hash = hashing.mix64(np.array([session], dtype=np.int64).view(np.uint64) ^ np.uint64(key))
        h = hashing.mix64(row_hash + np.arange(1, len(ids) + 1, dtype=np.uint64) * golden)
        eligible = ids != 0
        n = int(eligible.sum())
        mask = eligible & ((h >> np.uint64(11)) < threshold)
        d = int(mask.sum())
        visible = n - 1 if n >= 2 else n
        k = min(max(d, min(1, visible)), visible)
        if k != d:
            idx = np.flatnonzero(eligible)
            mask[:] = False
            mask[idx[np.argsort(h[idx], kind="stable")[:k]]] = True
        return mask

    return df[["item_ids", "session_id"]].apply(one, axis=1)


def sequence_mask_random_time(values, offsets, repeats, batch_rows):
    try:
        import tensorflow as tf
        import merlin.models.tf as mm
        from merlin.schema import ColumnSchema, Schema, Tags
    except Exception as exc:  # noqa: BLE001 - report why the comparison is missing
        return None, f"not importable ({type(exc).__name__})"
    schema = Schema([ColumnSchema("item_ids", tags=[Tags.ITEM_ID, Tags.CATEGORICAL, Tags.SEQUENCE],
                                  dtype="int64", is_list=True, is_ragged=True)])
    layer = mm.SequenceMaskRandom(schema=schema, target="item_ids", masking_prob=0.2)
    batches = []
    for lo in range(0, len(offsets) - 1, batch_rows):
        hi = min(lo + batch_rows, len(offsets) - 1)
        off = offsets[lo:hi + 1]
        batches.append(tf.RaggedTensor.from_row_splits(values[off[0]:off[-1]], off - off[0]))

    def run():
        for batch in batches:
            mask = layer.compute_mask({"item_ids": batch})[1]["item_ids"]
        return mask.flat_values.numpy()

    return timed(run, repeats), f"TF {tf.__version__}, batches of {batch_rows:,} rows"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mean-length", type=float, default=25.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--apply-rows", type=int, default=200_000,
                        help="rows timed for the row-wise apply, scaled to --rows (default 200000)")
    parser.add_argument("--batch-rows", type=int, default=65_536, help="SequenceMaskRandom batch size")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/benchmarks.md")
    args = parser.parse_args(argv)

    from merlin.dag import ColumnSelector

    from merlin_mlm_ops import MaskRandom
    from merlin_mlm_ops.masking import engine
    from merlin_mlm_ops.adapters import pandas_lists
    from merlin_mlm_ops.data.synthetic import make_sessions

    df = make_sessions(args.rows, n_items=100_000, mean_length=args.mean_length, seed=0)
    flat = pandas_lists.flatten(df["item_ids"], "item_ids", "bench")
    values, offsets = flat.values, flat.offsets
    n_items = len(values)
    print(f"data: {args.rows:,} rows, {n_items:,} items (mean length {n_items / args.rows:.1f}), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")

    sel = ColumnSelector(["item_ids"])
    keyed, keyless = MaskRandom(prob=0.2, seed=1, key="session_id"), MaskRandom(prob=0.2, seed=1)
    frame = df[["item_ids", "session_id"]]
    zeros = np.zeros(n_items, dtype=bool)

    def floor():
        f = pandas_lists.flatten(frame["item_ids"], "item_ids", "bench")
        return pandas_lists.build_bool_lists(zeros, f.offsets, f.valid, frame.index)

    params = dict(seed=1, epoch=0, prob=0.2, min_masked=1, max_masked=None, pad_id=0)
    keys = df["session_id"].to_numpy().view(np.uint64)
    results = {
        "MaskRandom operator, key='session_id'": timed(lambda: keyed.transform(sel, frame), args.repeats),
        "MaskRandom operator, no key": timed(lambda: keyless.transform(sel, frame), args.repeats),
        "list-column floor (flatten + rebuild)": timed(floor, args.repeats),
        "masking kernel, fused (numba)": timed(lambda: engine.random_mask(values, offsets, keys, backend="fused", **params), args.repeats),
        "masking kernel, fused, 1 thread": timed(lambda: single_thread(lambda: engine.random_mask(values, offsets, keys, backend="fused", **params)), args.repeats),
        "masking kernel, reference (NumPy)": timed(lambda: engine.random_mask(values, offsets, keys, backend="reference", **params), max(1, args.repeats // 2)),
        "np.copy of the values": timed(lambda: np.copy(values), args.repeats),
    }
    sub = frame.iloc[: args.apply_rows]
    results["row-wise pandas apply"] = timed(lambda: rowwise_apply(sub, 1, 0.2), 1) * (len(frame) / len(sub))
    # The row-wise version must compute the same masks, or the comparison means nothing.
    check = keyed.transform(sel, sub)["item_ids_mask"]
    assert all(np.array_equal(a, b) for a, b in zip(check, rowwise_apply(sub, 1, 0.2))), "row-wise masks differ"
    smr, smr_note = sequence_mask_random_time(values, offsets, max(1, args.repeats // 2), args.batch_rows)
    if smr is not None:
        results["merlin-models SequenceMaskRandom"] = smr

    floor_t = results["list-column floor (flatten + rebuild)"]
    rows = []
    for name, seconds in results.items():
        rows.append((name, seconds, n_items / seconds / 1e6))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'what':<{width}}  {'seconds':>8}  {'M items/s':>10}")
    for name, seconds, rate in rows:
        print(f"{name:<{width}}  {seconds:8.3f}  {rate:10.1f}")
    if smr is None:
        print(f"merlin-models SequenceMaskRandom: {smr_note}")

    op_t = results["MaskRandom operator, key='session_id'"]
    op_nokey_t = results["MaskRandom operator, no key"]
    kernel_t = results["masking kernel, fused (numba)"]
    ratios = [
        ("operator (key) / list-column floor", op_t / floor_t, "<= 1.3"),
        ("operator (no key) / list-column floor", op_nokey_t / floor_t, "<= 1.3"),
        ("row-wise apply / operator (key)", results["row-wise pandas apply"] / op_t, ">= 3"),
        ("reference kernel / fused kernel", results["masking kernel, reference (NumPy)"] / kernel_t, ""),
        ("fused kernel / np.copy", kernel_t / results["np.copy of the values"], ""),
    ]
    if smr is not None:
        ratios.append(("SequenceMaskRandom / fused kernel (per item)", smr / kernel_t, ">= 5"))
        ratios.append(("SequenceMaskRandom / fused kernel on 1 thread", smr / results["masking kernel, fused, 1 thread"], ""))
    print()
    for name, value, target in ratios:
        ok = "" if not target else ("  ok" if eval(f"{value} {target}") else "  MISSED")  # noqa: S307
        print(f"{name:<46} {value:7.2f}x  target {target or '-'}{ok}")

    if args.write:
        write_table(args, n_items, rows, ratios, smr_note)
    return 0


def write_table(args, n_items, rows, ratios, smr_note):
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `python benchmarks/mask_cpu.py --write` on this "
             f"project's CI-size machine ({os.cpu_count()} cores, {platform.machine()}), "
             f"{args.rows:,} rows, {n_items:,} items, median of {args.repeats} runs, one thread. "
             f"SequenceMaskRandom: {smr_note}.", "",
             "| what | seconds | M items/s |", "|---|---:|---:|"]
    lines += [f"| {name} | {seconds:.3f} | {rate:.1f} |" for name, seconds, rate in rows]
    lines += ["", "| ratio | value | target |", "|---|---:|---|"]
    lines += [f"| {name} | {value:.2f}x | {target or '-'} |" for name, value, target in ratios]
    replace_block(DOCS, BLOCK, "\n".join(lines), section="# Benchmarks")
    print(f"\nwrote {os.path.normpath(DOCS)}")


if __name__ == "__main__":
    sys.exit(main())
