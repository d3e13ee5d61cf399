"""CPU ETL benchmark: the demo's workflow with and without merlin_mlm_ops.compat, against a floor.

One run, on the same Parquet input (synthetic sessions, as the demo), interleaved repeats of:

- workflow, compat off: NVTabular 23.08 as installed (``compat.undo()``)
- workflow, compat on:  the same with ``merlin_mlm_ops.compat`` applied
- floor:                the same work with Arrow and NumPy only: read, ``np.unique`` encoding by
                        frequency (vocabularies written), MaskRandom's kernel on the flat codes,
                        rebuild the list columns, write Parquet

Each workflow variant is ``Categorify(["item_ids", "category"]) -> MaskRandom(prob=0.2,
key="session_id")``: fit + transform + ``to_parquet`` + ``Workflow.save``, as in the demo.
Checks that the two workflow variants write identical files and vocabularies, and that the
floor's masks and vocabularies (ids and counts) equal the workflow's. Prints seconds, rows/s
and ratios; ``--write`` rewrites its block in docs/benchmarks.md.

    nice -n 10 python benchmarks/etl_cpu.py                  # 100,000 sessions, 3 repeats
    nice -n 10 python benchmarks/etl_cpu.py --sessions 20000 --repeats 1
"""
from __future__ import annotations

import argparse
import datetime
import glob
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")

from merlin_mlm_ops.doc_blocks import replace_block  # noqa: E402

DOCS = os.path.join(os.path.dirname(__file__), "..", "docs", "benchmarks.md")
BLOCK = "etl-cpu-benchmark"
SECTION = "## CPU ETL with and without the compat module"
COLUMNS = ["item_ids", "category"]
PROB, SEED = 0.2, 42
TARGET = 3.0


def run_workflow(raw, out, partitions):
    """The demo's ETL on the Parquet folder ``raw``; writes under ``out``."""
    import nvtabular as nvt
    from merlin.io import Dataset

    from merlin_mlm_ops import MaskRandom

    features = COLUMNS >> nvt.ops.Categorify(out_path=os.path.join(out, "categories"))
    workflow = nvt.Workflow(["session_id"] + (features >> MaskRandom(prob=PROB, seed=SEED, key="session_id")))
    dataset = Dataset(raw, engine="parquet", cpu=True)
    workflow.fit(dataset)
    workflow.transform(dataset).to_parquet(os.path.join(out, "data"), output_files=partitions)
    workflow.save(os.path.join(out, "workflow"))


def run_floor(raw, out, partitions):
    """The same work with Arrow and NumPy: the fastest this ETL can be written here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from merlin_mlm_ops.masking import engine, hashing

    table = pq.read_table(sorted(glob.glob(os.path.join(raw, "*.parquet"))))
    os.makedirs(os.path.join(out, "categories"))
    columns = {"session_id": table.column("session_id").combine_chunks()}
    for name in COLUMNS:
        lists = table.column(name).combine_chunks()
        values = lists.flatten().to_numpy()
        uniques, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
        order = np.argsort(-counts, kind="stable")       # most frequent first, as Categorify
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        codes = rank[inverse] + 3                         # 0 pad, 1 null, 2 out-of-vocabulary
        pq.write_table(pa.table({name: uniques[order], f"{name}_size": counts[order]}),
                       os.path.join(out, "categories", f"unique.{name}.parquet"))
        offsets = lists.offsets
        columns[name] = pa.ListArray.from_arrays(offsets, pa.array(codes))
        if name == COLUMNS[0]:
            keys = hashing.integer_row_keys(columns["session_id"].to_numpy(), np)
            mask = engine.random_mask(codes, np.asarray(offsets, dtype=np.int64), keys, seed=SEED, epoch=0,
                                      prob=PROB, min_masked=1, max_masked=None, pad_id=0)
            mask_lists = pa.ListArray.from_arrays(offsets, pa.array(mask))
    columns[f"{COLUMNS[0]}_mask"] = mask_lists
    result = pa.table(columns)
    os.makedirs(os.path.join(out, "data"))
    bounds = np.linspace(0, len(result), partitions + 1).astype(int)
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        pq.write_table(result.slice(lo, hi - lo), os.path.join(out, "data", f"part_{i}.parquet"))


def read_output(out):
    import pandas as pd

    files = sorted(glob.glob(os.path.join(out, "data", "*.parquet")))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True).sort_values("session_id",
                                                                                        ignore_index=True)


def read_vocabularies(out):
    import pandas as pd

    paths = glob.glob(os.path.join(out, "categories", "**", "unique.*.parquet"), recursive=True)
    return {os.path.basename(p): pd.read_parquet(p) for p in paths}


def check(outs):
    """The two workflow variants agree exactly; the floor agrees on masks and vocabularies."""
    import pandas as pd

    off, on, floor = (read_output(outs[k]) for k in ("off", "on", "floor"))
    pd.testing.assert_frame_equal(off, on)
    v_off, v_on, v_floor = (read_vocabularies(outs[k]) for k in ("off", "on", "floor"))
    assert v_off.keys() == v_on.keys() == v_floor.keys(), (v_off.keys(), v_floor.keys())
    for name in v_off:
        pd.testing.assert_frame_equal(v_off[name], v_on[name])
        a = v_off[name].sort_values(list(v_off[name].columns), ignore_index=True)
        b = v_floor[name].sort_values(list(v_floor[name].columns), ignore_index=True)
        assert (a.to_numpy() == b.to_numpy()).all(), name
    mask = f"{COLUMNS[0]}_mask"
    assert np.array_equal(np.concatenate(on[mask].to_numpy()), np.concatenate(floor[mask].to_numpy()))
    for name in COLUMNS:  # same row lengths; codes may differ only among equally frequent ids
        assert np.array_equal(on[name].map(len).to_numpy(), floor[name].map(len).to_numpy())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="rows (default 100000, as the demo)")
    parser.add_argument("--partitions", type=int, default=4, help="Parquet files in and out (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each variant (default 3)")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/benchmarks.md")
    args = parser.parse_args(argv)

    import merlin_mlm_ops.ops  # noqa: F401  (applies the compat module, as users get it)
    from merlin_mlm_ops import compat
    from merlin_mlm_ops.data.parquet import write_partitioned
    from merlin_mlm_ops.data.synthetic import make_sessions

    if not compat.is_active():
        sys.exit(f"the compat module is not active here ({compat.ENV_VAR} set, or another merlin-core)")
    root = tempfile.mkdtemp(prefix="etl-cpu-")
    load = [os.getloadavg()[0]]
    try:
        df = make_sessions(n_sessions=args.sessions, n_items=20_000, seed=SEED)
        raw = os.path.join(root, "raw")
        write_partitioned(df, raw, args.partitions)
        n_items = int(df["item_ids"].map(len).sum())
        print(f"data: {args.sessions:,} sessions, {n_items:,} items, {args.partitions} Parquet files; "
              f"{platform.machine()}, {os.cpu_count()} cores")

        warm = os.path.join(root, "warm")
        write_partitioned(df.iloc[:500], warm, 2)
        variants = {"off": run_workflow, "on": run_workflow, "floor": run_floor}
        times = {k: [] for k in variants}
        outs = {}
        for rep in range(args.repeats + 1):  # round 0 warms imports and the numba kernels on 500 rows
            for name, fn in variants.items():
                out = os.path.join(root, f"{name}-{rep}")
                compat.apply() if name == "on" else compat.undo()
                start = time.perf_counter()
                fn(warm if rep == 0 else raw, out, args.partitions)
                if rep:
                    times[name].append(time.perf_counter() - start)
                    outs[name] = out
                print(f"  round {rep} {name:5s} {time.perf_counter() - start:7.2f} s", flush=True)
        load.append(os.getloadavg()[0])
        compat.apply()
        check(outs)
    finally:
        compat.apply()
        shutil.rmtree(root, ignore_errors=True)

    sec = {k: statistics.median(v) for k, v in times.items()}

    def spread(a, b):  # each run's ratio: a and b ran back to back, under the same load
        ratios = [x / y for x, y in zip(times[a], times[b])]
        return f"{min(ratios):.2f}-{max(ratios):.2f}x"
    labels = {"off": "workflow, merlin-core 23.08 as installed (compat off)",
              "on": "workflow, merlin_mlm_ops.compat applied",
              "floor": "floor: Arrow + NumPy (read, np.unique, mask, rebuild, write)"}
    lines = [
        f"Measured {datetime.date.today().isoformat()} with `nice -n 10 python benchmarks/etl_cpu.py"
        f"{' --sessions %d' % args.sessions if args.sessions != 100_000 else ''}"
        f"{' --repeats %d' % args.repeats if args.repeats != 3 else ''} --write` on this project's "
        f"CI-size machine ({os.cpu_count()} cores, {platform.machine()}, shared with other jobs: timings are "
        f"noisy, ratios come from interleaved runs): {args.sessions:,} sessions, {n_items:,} items, "
        f"{args.partitions} Parquet files, median of {args.repeats} interleaved run(s); load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end. Outputs checked: "
        "compat off and on write identical files and vocabularies; the floor's masks and vocabularies "
        "(ids and counts) equal the workflow's.",
        "",
        "| variant | seconds | rows/s |",
        "|---|---:|---:|",
        *(f"| {labels[k]} | {sec[k]:.2f} | {args.sessions / sec[k]:,.0f} |" for k in variants),
        "",
        "| ratio (of the medians) | value | range over the runs | target |",
        "|---|---:|---:|---|",
        f"| compat off / compat on (speed-up) | {sec['off'] / sec['on']:.1f}x | {spread('off', 'on')} | - |",
        f"| compat on / floor | {sec['on'] / sec['floor']:.2f}x | {spread('on', 'floor')} | <= {TARGET:g} |",
        f"| compat off / floor | {sec['off'] / sec['floor']:.1f}x | {spread('off', 'floor')} | - |",
    ]
    print("\n".join(lines))
    ok = sec["on"] / sec["floor"] <= TARGET
    print(f"target (compat on within {TARGET:g}x of the floor): {'met' if ok else 'NOT met'}")
    if args.write:
        replace_block(DOCS, BLOCK, "\n".join(lines), section=SECTION)
        print(f"wrote {os.path.normpath(DOCS)} ({BLOCK})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
