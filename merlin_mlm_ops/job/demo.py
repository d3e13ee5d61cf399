"""The main job on embedded data: synthetic sessions -> Categorify -> MaskRandom -> Parquet.

Run it with ``./ci/demo.sh`` (creates ``.venv`` if needed), ``merlin-mlm demo`` or
``python -m merlin_mlm_ops.job.cli demo``.  It prints a short summary, with where the ETL time goes, and
returns it as a dict.  It applies :mod:`merlin_mlm_ops.compat` (merlin-core 23.08's pandas list
paths vectorised); ``MERLIN_MLM_OPS_NO_COMPAT=1`` shows the time without it.
"""
from __future__ import annotations

import glob
import os
import shutil
import time
import warnings

import numpy as np


def run_demo(output="out/demo", n_sessions=100_000, n_items=20_000, partitions=4, prob=0.2,
             seed=42, max_masked=None, quiet=False):
    """Generate sessions, run the masking workflow on a multi-partition Dataset, write Parquet.

    Returns a summary dict: rows, items, distinct items, masked fraction (and its exact
    expectation under the rules), timings (``etl_s`` = ``fit_s`` + ``transform_s`` + ``save_s``;
    ``categorify_s``/``mask_s``: each operator alone on the same partitions), ``compat``.
    """
    warnings.filterwarnings("ignore", message=".*CPU mode.*")
    from merlin_mlm_ops import compat

    compat_active = compat.apply()
    raw, generate_s = _write_sessions(output=output, n_sessions=n_sessions, n_items=n_items, partitions=partitions,
                                      seed=seed)
    workflow, categorify = _build_workflow(output=output, prob=prob, seed=seed, max_masked=max_masked)
    timings = {"generate_s": generate_s, **_run_etl(workflow, raw=raw, output=output, partitions=partitions)}
    files, ids, mask, lengths = _read_back(output=output)
    timings["mask_s"] = _time_mask_alone(files, workflow, prob, seed, max_masked)
    timings["categorify_s"] = _time_alone(categorify, sorted(glob.glob(os.path.join(raw, "*.parquet"))),
                                          ["item_ids", "category"])
    summary = _summarize(ids=ids, mask=mask, lengths=lengths, partitions=partitions, prob=prob,
                         max_masked=max_masked, timings=timings, compat_active=compat_active, output=output)
    if not quiet:
        print_summary(summary, prob, seed)
    return summary


def _write_sessions(*, output, n_sessions, n_items, partitions, seed):
    """Synthetic sessions written as ``partitions`` Parquet files under ``output/raw`` (``output``
    emptied first); returns the folder and the seconds the generation took."""
    from merlin_mlm_ops.data.parquet import write_partitioned
    from merlin_mlm_ops.data.synthetic import make_sessions

    t0 = time.perf_counter()
    df = make_sessions(n_sessions=n_sessions, n_items=n_items, seed=seed)
    generate_s = time.perf_counter() - t0
    if os.path.exists(output):
        shutil.rmtree(output)
    raw = os.path.join(output, "raw")
    write_partitioned(df, raw, partitions)
    return raw, generate_s


def _build_workflow(*, output, prob, seed, max_masked):
    """The demo's workflow, ``session_id`` + Categorify -> MaskRandom, and its Categorify."""
    import nvtabular as nvt

    from merlin_mlm_ops import MaskRandom

    categorify = nvt.ops.Categorify(out_path=os.path.join(output, "categories"))
    masked = ["item_ids", "category"] >> categorify >> MaskRandom(prob=prob, seed=seed, key="session_id",
                                                                 max_masked=max_masked)
    return nvt.Workflow(["session_id"] + masked), categorify


def _run_etl(workflow, *, raw, output, partitions):
    """Fit ``workflow`` on the Parquet under ``raw``, write the transformed data to
    ``output/data`` and the workflow to ``output/workflow``; returns the seconds of each step."""
    from merlin.io import Dataset

    t1 = time.perf_counter()
    dataset = Dataset(raw, engine="parquet", cpu=True)  # read back from Parquet, as users do
    workflow.fit(dataset)
    t2 = time.perf_counter()
    workflow.transform(dataset).to_parquet(os.path.join(output, "data"), output_files=partitions)
    t3 = time.perf_counter()
    workflow.save(os.path.join(output, "workflow"))
    t4 = time.perf_counter()
    return {"etl_s": t4 - t1, "fit_s": t2 - t1, "transform_s": t3 - t2, "save_s": t4 - t3}


def _read_back(*, output):
    """The written files and their item and mask lists (Arrow), checked to have the same row lengths."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(output, "data", "*.parquet")))
    table = pa.concat_tables(pq.read_table(f, columns=["item_ids", "item_ids_mask"]) for f in files)
    ids = table.column("item_ids").combine_chunks()
    mask = table.column("item_ids_mask").combine_chunks()
    lengths = np.diff(np.asarray(ids.offsets))
    if not np.array_equal(lengths, np.diff(np.asarray(mask.offsets))):
        raise RuntimeError("mask and item rows differ in length in the written Parquet")
    return files, ids, mask, lengths


def _summarize(*, ids, mask, lengths, partitions, prob, max_masked, timings, compat_active, output):
    """The summary dict of :func:`run_demo` (``timings``: the seconds of each step, by name)."""
    from merlin_mlm_ops.masking.stats import expected_masked

    n_items_total = int(lengths.sum())
    masked_total = int(np.asarray(mask.flatten()).sum())
    return {
        "rows": int(len(ids)),
        "items": n_items_total,
        "distinct_items": int(len(np.unique(np.asarray(ids.flatten())))),
        "partitions": partitions,
        "masked_fraction": masked_total / max(n_items_total, 1),
        "expected_masked_fraction": float(expected_masked(lengths, prob, 1, max_masked).sum()) / max(n_items_total, 1),
        "generate_s": timings["generate_s"],
        "etl_s": timings["etl_s"],
        "fit_s": timings["fit_s"],
        "transform_s": timings["transform_s"],
        "save_s": timings["save_s"],
        "categorify_s": timings["categorify_s"],
        "mask_s": timings["mask_s"],
        "compat": compat_active,
        "output": os.path.abspath(output),
    }


def _time_mask_alone(files, workflow, prob, seed, max_masked):
    """Seconds MaskRandom takes on the (encoded) partitions, without I/O or Categorify."""
    from merlin_mlm_ops import MaskRandom

    op = MaskRandom(prob=prob, seed=seed, key="session_id", max_masked=max_masked)
    return _time_alone(op, files, ["item_ids", "category"])


def _time_alone(op, files, columns):
    """Seconds ``op.transform`` takes on the partitions in ``files``, without reading them."""
    import pandas as pd
    from merlin.dag import ColumnSelector

    total = 0.0
    for f in files:
        part = pd.read_parquet(f, columns=["session_id", *columns])
        start = time.perf_counter()
        op.transform(ColumnSelector(columns), part)
        total += time.perf_counter() - start
    return total


def print_summary(s, prob, seed):
    print("merlin-mlm-ops demo: Categorify -> MaskRandom(prob=%g, seed=%d, key='session_id')" % (prob, seed))
    print(f"  rows            {s['rows']:,} sessions in {s['partitions']} partitions")
    print(f"  items           {s['items']:,} ({s['distinct_items']:,} distinct after Categorify)")
    print(f"  masked fraction {s['masked_fraction']:.4f} (exact expectation {s['expected_masked_fraction']:.4f})")
    print(f"  time            ETL {s['etl_s']:.2f} s ({s['rows'] / s['etl_s']:,.0f} rows/s): fit {s['fit_s']:.2f} s, "
          f"transform + write {s['transform_s']:.2f} s, save {s['save_s']:.2f} s; "
          f"data generation {s['generate_s']:.2f} s")
    other = s["etl_s"] - s["categorify_s"] - s["mask_s"]
    print(f"  where           Categorify.transform {s['categorify_s']:.2f} s, MaskRandom {s['mask_s']:.2f} s "
          f"({s['items'] / s['mask_s'] / 1e6:.0f} M items/s), each alone on the same partitions; the other "
          f"{other:.2f} s: Categorify's fit, Parquet I/O, NVTabular/Dask")
    state = ("active: merlin-core 23.08's pandas list paths vectorised" if s["compat"] else
             "off: merlin-core's pandas list paths as installed (slow)")
    print(f"  compat          merlin_mlm_ops.compat {state}")
    print(f"  output          {s['output']}/data (Parquet), {s['output']}/workflow")
