"""Masking jobs at scale: read Parquet once, write E masked epochs, on a Dask cluster.

The job is a plain Dask graph of one task per input partition, submitted to a
``dask.distributed`` client (a ``LocalCluster``, a ``dask_cuda.LocalCUDACluster`` or an existing
scheduler): each task reads and decodes its partition once, runs the fitted workflow (optional
``Categorify``, then ``MaskRandom`` for epoch 0), derives the masks of the other epochs from the
same decoded frame, writes one Parquet file per epoch and returns small statistics.  Partitions
stream through the workers and are never gathered.  Because masks are a pure function of
(seed, epoch, row key, position), a task that Dask re-runs after losing a worker writes the same
bytes to the same file names.

Output layout (``DIR``)::

    DIR/epoch_0000/part_00000.parquet ...  + schema.pbtxt   one Parquet dataset per epoch
    DIR/workflow/                            the fitted workflow (Workflow.load)
    DIR/categories/                          Categorify's vocabularies, with --categorify
    DIR/mlm-job.json                         parameters and summary (read by `merlin-mlm stats`)

The job writes into ``DIR.tmp-<pid>`` and renames it at the end, so an interrupted run never
leaves a folder that looks complete.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from typing import Callable, List, Optional

import numpy as np


class JobError(Exception):
    """A problem with the job's inputs or environment, reported as one line."""


@dataclass
class MaskJob:
    """Parameters of a masking job (see ``merlin-mlm mask --help``)."""

    inputs: List[str]
    output: str
    columns: List[str]
    prob: float = 0.2
    seed: Optional[int] = None
    key: Optional[str] = None
    min_masked: int = 1
    max_masked: Optional[int] = None
    pad_id: Optional[int] = 0
    epochs: int = 1
    categorify: bool = False
    gpu: bool = False
    overwrite: bool = False
    part_size: str = "32MB"


def find_parquet_files(inputs):
    """Parquet files named by ``inputs`` (files, folders, globs), sorted; raises JobError."""
    files = []
    for item in inputs:
        if any(ch in item for ch in "*?["):
            matched = sorted(glob.glob(item, recursive=True))
            if not matched:
                raise JobError(f"no input matches {item!r}")
            candidates = matched
        elif os.path.isdir(item):
            candidates = sorted(glob.glob(os.path.join(item, "**", "*.parquet"), recursive=True))
        elif os.path.exists(item):
            candidates = [item]
        else:
            raise JobError(f"input not found: {item}")
        for path in candidates:
            if os.path.isdir(path):
                files += sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
            elif path.endswith(".parquet") or item == path:
                files.append(path)
    if not files:
        raise JobError(f"no Parquet files in {' '.join(inputs)}")
    return files


def check_columns(files, columns, key):
    """Raise JobError unless the columns exist in the first file and are lists (the key a scalar)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(files[0])
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise JobError(f"cannot read {files[0]} as Parquet: {exc}") from None
    for name in columns:
        if name not in schema.names:
            raise JobError(f"column {name!r} not found in {files[0]} (columns: {', '.join(schema.names)})")
        if not pa.types.is_list(schema.field(name).type) and not pa.types.is_large_list(schema.field(name).type):
            raise JobError(f"column {name!r} is not a list column ({schema.field(name).type}) in {files[0]}")
    if key is not None:
        if key not in schema.names:
            raise JobError(f"key column {key!r} not found in {files[0]}")
        if pa.types.is_list(schema.field(key).type):
            raise JobError(f"key column {key!r} is a list column; it must hold one id per row")


def validate_job(job: MaskJob):
    """Raise JobError for anything wrong with ``job`` that can be seen before running it (the
    masking arguments, the epochs, an existing output, the inputs and their columns); returns the
    input files."""
    from merlin_mlm_ops import MaskRandom

    try:
        MaskRandom(prob=job.prob, seed=job.seed, key=job.key, min_masked=job.min_masked,
                   max_masked=job.max_masked, pad_id=job.pad_id)
    except (TypeError, ValueError) as exc:
        raise JobError(str(exc)) from None
    if job.epochs < 1:
        raise JobError("--epochs must be >= 1")
    if os.path.exists(job.output) and not job.overwrite:
        raise JobError(f"output {job.output} exists (pass --overwrite to replace it)")
    files = find_parquet_files(job.inputs)
    check_columns(files, job.columns, job.key)
    return files


def prepare_output(output, overwrite):
    """The temporary folder to write into; raises JobError when ``output`` exists without overwrite."""
    if os.path.exists(output) and not overwrite:
        raise JobError(f"output {output} exists (pass --overwrite to replace it)")
    tmp = f"{output.rstrip(os.sep)}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    return tmp


def finish_output(tmp, output):
    """Atomically (as far as the filesystem allows) replace ``output`` with ``tmp``."""
    if os.path.exists(output):
        old = f"{output.rstrip(os.sep)}.old-{os.getpid()}"
        os.rename(output, old)
        os.rename(tmp, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, output)


def epoch_dir(root, epoch):
    return os.path.join(root, f"epoch_{epoch:04d}")


def epoch_paths(root):
    """The epoch folders of a job's output, in epoch order."""
    return sorted(glob.glob(os.path.join(root, "epoch_*")))


def epoch_datasets(root, cpu=True, **kwargs):
    """One ``merlin.io.Dataset`` per epoch of a job's output, in epoch order.

    They carry the saved workflow's output schema, which keeps the mask's bool dtype (the
    ``schema.pbtxt`` beside the files loses it in merlin-core 23.08).  Iterate them epoch by
    epoch, e.g. ``for ds in epoch_datasets(DIR): model.fit(Loader(ds, batch_size=...))``.
    """
    import nvtabular as nvt
    from merlin.io import Dataset

    schema = nvt.Workflow.load(os.path.join(root, "workflow")).output_schema
    return [Dataset(path, engine="parquet", cpu=cpu, schema=schema, **kwargs) for path in epoch_paths(root)]


def build_workflow(job: MaskJob, categories_path):
    import nvtabular as nvt

    from merlin_mlm_ops import MaskRandom

    node = job.columns
    if job.categorify:
        node = node >> nvt.ops.Categorify(out_path=categories_path)
    mask = MaskRandom(prob=job.prob, seed=job.seed, key=job.key, epoch=0, min_masked=job.min_masked,
                      max_masked=job.max_masked, pad_id=job.pad_id)
    node = node >> mask
    if job.key is not None:
        node = [job.key] + node
    return nvt.Workflow(node), mask


def process_partition(df, index, workflow, mask_op, columns, epochs, root):
    """One task: transform a partition once, write every epoch's file, return statistics.

    The item column is taken apart once; each further epoch only reruns the masking kernel
    on it (the same pure function the workflow's MaskRandom ran for epoch 0).
    """
    from merlin_mlm_ops.adapters import frame_adapter
    from merlin_mlm_ops.rules import segment_count

    out = workflow._transform_df(df)
    mask_name = mask_op.mask_name(columns)
    adapter = frame_adapter(out)
    flat = adapter.flatten(out[columns[0]], columns[0], mask_op.label)
    values, offsets = _host(flat.values), _host(flat.offsets)
    eligible = np.ones(len(values), dtype=bool) if mask_op.pad_id is None else values != mask_op.pad_id
    n_eligible = segment_count(eligible, offsets)
    stats = None
    for epoch in range(epochs):
        epoch_op = mask_op.with_epoch(epoch)
        mask = epoch_op.compute_mask(flat, out, adapter)
        if epoch:
            out[mask_name] = adapter.build_bool_lists(mask, flat.offsets, flat.valid, out.index,
                                                      source=out[columns[0]])
        folder = epoch_dir(root, epoch)
        if not os.path.isdir(folder):  # the job was abandoned: never recreate its folder
            raise JobError(f"output folder {folder} is gone; the job was cancelled")
        out.to_parquet(os.path.join(folder, f"part_{index:05d}.parquet"), index=False)
        epoch_stats = _epoch_stats(n_eligible, _host(mask), offsets)
        stats = epoch_stats if stats is None else {k: stats[k] + epoch_stats[k] for k in stats}
    return stats


def _process_frame(df, workflow, mask_op, columns, epochs, root, partition_info=None):
    import pandas as pd

    stats = process_partition(df, partition_info["number"], workflow, mask_op, columns, epochs, root)
    return pd.DataFrame({"stats": [stats]})


def _epoch_stats(n_eligible, mask, offsets, width=1024):
    """Counts for summaries: rows, items, masked, and rows/masked by eligible length (bincounts)."""
    from merlin_mlm_ops.rules import segment_count

    n_clip = np.minimum(n_eligible, width - 1)
    return {
        "rows": np.array([len(n_eligible)]),
        "items": np.array([int(offsets[-1])]),
        "masked": np.array([int(mask.sum())]),
        "rows_by_length": np.bincount(n_clip, minlength=width),
        "masked_by_length": np.bincount(n_clip, weights=segment_count(mask, offsets), minlength=width),
    }


def _host(arr):
    return arr if isinstance(arr, np.ndarray) else arr.get()


def start_client(workers=None, scheduler=None, gpu=False, memory_limit="2GB"):
    """A ``distributed.Client``: to ``scheduler`` if given, else a local (CUDA) cluster."""
    from distributed import Client

    if scheduler:
        try:
            return Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise JobError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    if gpu:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            raise JobError("--gpu needs dask-cuda and a GPU") from None
        from merlin_mlm_ops.gpu import has_gpu

        if not has_gpu():
            raise JobError("--gpu was given but no NVIDIA GPU is visible")
        return Client(LocalCUDACluster(n_workers=workers))
    from distributed import LocalCluster

    # Worker processes inherit the environment: keep third-party import noise out of the console.
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                           memory_limit=memory_limit, dashboard_address=None)
    return Client(cluster)


def run_mask_job(job: MaskJob, client, progress: Optional[Callable[[int, int], None]] = None):
    """Run ``job`` on ``client``; returns the summary dict (also written to mlm-job.json)."""
    import warnings

    from merlin.io import Dataset
    from merlin.schema.io.tensorflow_metadata import TensorflowMetadata

    warnings.filterwarnings("ignore", message=".*CPU mode.*")
    files = validate_job(job)
    t0 = time.perf_counter()
    tmp = prepare_output(job.output, job.overwrite)
    futures = []
    try:
        workflow, mask_op = build_workflow(job, os.path.join(tmp, "categories"))
        dataset = Dataset(files, engine="parquet", cpu=not job.gpu, part_size=job.part_size)
        workflow.fit(dataset)
        for epoch in range(job.epochs):
            os.makedirs(epoch_dir(tmp, epoch))
            TensorflowMetadata.from_merlin_schema(workflow.output_schema).to_proto_text_file(epoch_dir(tmp, epoch))
        # map_partitions fuses reading and masking into one task per partition: the decoded
        # frame never travels between workers (pickling object columns costs more than masking).
        ddf = dataset.to_ddf()
        stats = ddf.map_partitions(_process_frame, workflow, mask_op, job.columns, job.epochs, tmp,
                                   meta={"stats": object}, enforce_metadata=False, align_dataframes=False)
        futures = client.compute(stats.to_delayed())
        totals = _gather_with_progress(futures, progress)
        workflow.save(os.path.join(tmp, "workflow"))
        seconds = time.perf_counter() - t0
        summary = summarize(job, mask_op, totals, len(futures), seconds)
        with open(os.path.join(tmp, "mlm-job.json"), "w") as fh:
            json.dump({"job": asdict(job) | {"seed": mask_op.seed},
                       "summary": summary,
                       "by_length": {"rows": totals["rows_by_length"].tolist(),
                                     "masked": totals["masked_by_length"].tolist()}}, fh)
        finish_output(tmp, job.output)
    except BaseException:
        _abandon(client, futures, tmp)
        raise
    return summary


def _abandon(client, futures, tmp, settle_s=1.0, timeout_s=60.0):
    """Cancel the job's tasks and remove its temporary folder for good.

    Tasks already running on workers cannot be interrupted and may still write a file after a
    first removal, so the folder is removed until it has stayed absent for ``settle_s``.
    """
    if futures:
        client.cancel(futures)
    deadline = time.monotonic() + timeout_s
    absent_since = None
    while time.monotonic() < deadline:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
            absent_since = None
        elif absent_since is None:
            absent_since = time.monotonic()
        elif time.monotonic() - absent_since >= settle_s:
            return
        time.sleep(0.1)


def _gather_with_progress(futures, progress):
    from distributed import as_completed

    totals = None
    done = 0
    for future in as_completed(futures):
        stats = future.result()["stats"].iloc[0]
        totals = stats if totals is None else {k: totals[k] + stats[k] for k in totals}
        done += 1
        if progress is not None:
            progress(done, len(futures))
    return totals


def summarize(job, mask_op, totals, partitions, seconds):
    rows = int(totals["rows"][0]) // job.epochs
    items = int(totals["items"][0]) // job.epochs
    return {
        "rows": rows,
        "items": items,
        "epochs": job.epochs,
        "partitions": partitions,
        "seed": mask_op.seed,
        "masked_fraction": float(totals["masked"][0]) / max(int(totals["items"][0]), 1),
        "seconds": seconds,
        "rows_per_second": rows * job.epochs / seconds if seconds else 0.0,
    }
