"""Masking jobs at scale: read Parquet once, write E masked epochs, on a Dask cluster.

The job is one Dask task per input partition (whole row groups of one file, see
:mod:`merlin_mlm_ops.job.inputs`), submitted to a ``dask.distributed`` client (a
``LocalCluster``, a ``dask_cuda.LocalCUDACluster`` or an existing scheduler): each task reads and
decodes its partition once, runs the fitted workflow (optional ``Categorify``, then
``MaskRandom`` for epoch 0), derives the masks of the other epochs from the same decoded frame,
writes one Parquet file per epoch and returns small statistics.  Partitions stream through the
workers and are never gathered.  Because masks are a pure function of (seed, epoch, row key,
position), a task that Dask re-runs after losing a worker, or that ``--resume`` redoes, writes
the same bytes to the same file names.

Output layout (``DIR``)::

    DIR/epoch_0000/part_00000.parquet ...  + schema.pbtxt   one Parquet dataset per epoch
    DIR/workflow/                            the fitted workflow (Workflow.load)
    DIR/categories/                          Categorify's vocabularies, with --categorify
    DIR/mlm-job.json                         parameters and summary (read by `merlin-mlm stats`)
    DIR/mlm-manifest.json                    size and SHA-256 of every data file

The job holds ``DIR.lock``, writes into ``DIR.tmp`` and renames it at the end, so an
interrupted run never leaves a folder that looks complete (:mod:`merlin_mlm_ops.job.output`).
An object-store output (``s3://...``) has neither lock nor rename: a lease object, an attempt
prefix and a manifest committed with a conditional put take their place
(:mod:`merlin_mlm_ops.job.remote`, :mod:`merlin_mlm_ops.job.storage`).
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import shutil
import socket
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from merlin_mlm_ops.data.epochs import epoch_dir
from merlin_mlm_ops.errors import JobError
from merlin_mlm_ops.job import output as jo
from merlin_mlm_ops.job.inputs import (CheckedInputs, Partition, check_inputs, check_output_apart,
                                       data_error, find_parquet_files, first_line, named_error, read_partition)
from merlin_mlm_ops.job.output import check_replaceable, normalize
from merlin_mlm_ops.job.storage import LocalTarget, is_url, local_path, write_partition_file
from merlin_mlm_ops.job.storage import check_output as check_object_output

__all__ = ["JobError", "MaskJob", "validate_job", "run_mask_job", "start_client", "find_parquet_files"]


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
    #: ``(max_len, step)``: cut rows into SlidingWindows before masking, masks keyed per window.
    window: Optional[Tuple[int, int]] = None
    last_ratio: float = 0.0
    #: ``(mask, random, keep)`` shares of BERT's 80/10/10; writes ``<column>_input`` per epoch.
    replace: Optional[Tuple[float, float, float]] = None
    #: ``(low, high)``: the ids random items are drawn from (default: Categorify's domain).
    vocab: Optional[Tuple[int, int]] = None
    #: Draw random items by popularity, with the counts of Categorify's fit (needs ``categorify``).
    popularity: bool = False
    storage_options: Optional[dict] = None  # fsspec options for URL inputs and output


@dataclass
class RunContext:
    """One run of a job, from its start to its end: the job and its checked inputs, the Dask
    client, where progress and log lines go, when it started (``t0``, ``time.perf_counter``) and
    the tasks it submitted (``futures``: cancelled when the run stops)."""

    job: MaskJob
    checked: CheckedInputs
    client: Any
    progress: Optional[Callable[[int, int], None]] = None
    log: Callable[[str], None] = lambda line: None
    t0: float = field(default_factory=time.perf_counter)
    futures: list = field(default_factory=list)


def validate_job(job: MaskJob) -> CheckedInputs:
    """Raise JobError for anything wrong with ``job`` that can be seen before running it (the
    masking arguments, the epochs, an output that overlaps an input or exists, every input
    file's footer and schema); returns the checked inputs and their partitions."""
    from merlin_mlm_ops.job import plain

    _check_bert_options(job)
    if plain.without_nvtabular():
        plain.check_job(job)
    else:
        _check_mask(job)
    if job.window is not None:
        _check_window(job)
    if job.epochs < 1:
        raise JobError("--epochs must be >= 1")
    job.output = local_path(job.output)
    files = find_parquet_files(job.inputs, job.storage_options)
    check_output_apart(job.output, job.inputs, files)  # before anything is read or replaced
    if is_url(job.output):
        check_object_output(job)
    else:
        check_replaceable(normalize(job.output), job.overwrite)
    checked = check_inputs(files, job.columns, job.key, job.categorify, job.part_size, job.storage_options)
    if not checked.partitions:
        raise JobError(f"the inputs hold no rows: {' '.join(job.inputs)}")
    return checked


def _bert_kwargs(job):
    """MaskRandom's BERT4Rec options of ``job`` (``--popularity``'s counts come after the fit: set_popularity)."""
    return {"last_ratio": job.last_ratio, "replace": job.replace, "vocab": job.vocab}


def _check_bert_options(job):
    """Each BERT4Rec option checked alone, so that its error names the option (--last-ratio...)."""
    from merlin_mlm_ops.masking import bert_params

    for option, check, value in (("--last-ratio", bert_params.check_last_ratio, job.last_ratio),
                                 ("--replace", bert_params.check_replace, job.replace),
                                 ("--vocab", bert_params.check_vocab, job.vocab)):
        try:
            check(value)
        except (TypeError, ValueError) as exc:
            raise JobError(f"{option}: {exc}") from None
    if job.replace is None and (job.vocab is not None or job.popularity):
        raise JobError(f"{'--vocab' if job.vocab is not None else '--popularity'} chooses the random items "
                       "of --replace: pass --replace too")
    if job.popularity and job.vocab is not None:
        raise JobError("--popularity: pass --vocab (uniform random items) or --popularity (by popularity), not both")
    if job.popularity and not job.categorify:
        raise JobError("--popularity needs --categorify: the item counts are those of Categorify's fit")
    if job.replace is not None and job.replace[1] > 0 and job.vocab is None and not job.categorify:
        raise JobError("--replace draws random items from an unknown vocabulary: pass --vocab N or LOW:HIGH, "
                       "or --categorify (its ids; with --popularity, by its counts)")


def popularity_counts(workflow, column):
    """Item counts per encoded id of ``column``, from the fitted Categorify's vocabulary file
    (its rows are indexed by encoded id; padding, null and OOV ids count 0)."""
    import pandas as pd

    path = workflow.output_schema[column].properties["cat_path"]
    unique = pd.read_parquet(path, columns=[f"{column}_size"])
    counts = np.zeros(int(unique.index.max()) + 1 if len(unique) else 1, dtype=np.int64)
    counts[unique.index.to_numpy()] = unique[f"{column}_size"].to_numpy()
    return counts


def set_popularity(job, workflow, mask_op):
    """With ``--popularity``, give the fitted workflow's MaskRandom Categorify's item counts."""
    if job.popularity:
        from merlin_mlm_ops.masking.bert_params import check_item_counts

        mask_op.item_counts = check_item_counts(popularity_counts(workflow, job.columns[0]))


def _check_mask(job):
    from merlin_mlm_ops import MaskRandom

    try:
        MaskRandom(prob=job.prob, seed=job.seed, key=job.key, min_masked=job.min_masked,
                   max_masked=job.max_masked, pad_id=job.pad_id, **_bert_kwargs(job))
    except (TypeError, ValueError) as exc:
        raise JobError(str(exc)) from None


def _check_window(job):
    from merlin_mlm_ops.masking.windows import check_window_params

    if job.key is None:
        raise JobError("--window needs --key: the session id keys each window's masks")
    try:
        check_window_params(*job.window, job.key, None)
    except (TypeError, ValueError) as exc:
        raise JobError(f"--window: {exc}") from None


def build_workflow(job: MaskJob, categories_path, seed=None):
    """The job's workflow and its MaskRandom (``seed``, default ``job.seed``, else drawn)."""
    import nvtabular as nvt

    from merlin_mlm_ops import MaskRandom

    node = job.columns
    if job.categorify:
        node = node >> nvt.ops.Categorify(out_path=categories_path)
    key = job.key
    if job.window is not None:
        from merlin_mlm_ops import SlidingWindows, mask_windows

        windows = node >> SlidingWindows(*job.window, key=job.key)
        key = windows.op.window_key_name
    mask = MaskRandom(prob=job.prob, seed=job.seed if seed is None else seed, key=key, epoch=0,
                      min_masked=job.min_masked, max_masked=job.max_masked, pad_id=job.pad_id,
                      **_bert_kwargs(job))
    if job.window is not None:
        return nvt.Workflow(windows[[job.key, key]] + mask_windows(windows, mask, job.columns)), mask
    node = node >> mask
    if job.key is not None:
        node = [job.key] + node
    return nvt.Workflow(node), mask


def process_partition(df, index, workflow, mask_op, columns, epochs, root):
    """Transform a partition once, write every epoch's file (whole or absent), and return the
    partition's record: each file's size and SHA-256, and the statistics of its masks.

    ``root`` is the run's local temporary folder, or a :mod:`~merlin_mlm_ops.job.storage`
    target (an attempt prefix on an object store).  The item column is taken apart once; each
    further epoch only reruns the masking kernel on it (the same pure function the workflow's
    MaskRandom ran for epoch 0).
    """
    from merlin_mlm_ops.adapters import frame_adapter

    if hasattr(workflow, "epoch_frames"):  # the transform without NVTabular (job/plain.py)
        return write_epochs(index, epochs, root, *workflow.epoch_frames(df, columns))
    with quiet_executor():
        out = workflow._transform_df(df)
    mask_name = mask_op.mask_name(columns)
    adapter = frame_adapter(out)
    flat = adapter.flatten(out[columns[0]], columns[0], mask_op.label)
    values, offsets = _host(flat.values), _host(flat.offsets)
    eligible = np.ones(len(values), dtype=bool) if mask_op.pad_id is None else values != mask_op.pad_id

    def epoch_frame(epoch):
        mask = mask_op.with_epoch(epoch).compute_mask(flat, out, adapter)
        mask, ids = mask if isinstance(mask, tuple) else (mask, None)  # ids: --replace's input ids
        if epoch:
            out[mask_name] = adapter.build_bool_lists(mask, flat.offsets, flat.valid, out.index,
                                                      source=out[columns[0]])
            if ids is not None:
                out[mask_op.input_name(columns)] = adapter.build_lists(ids, flat.offsets, flat.valid, out.index,
                                                                       source=out[columns[0]])
        return out, _host(mask)

    return write_epochs(index, epochs, root, epoch_frame, eligible, offsets)


def write_epochs(index, epochs, root, epoch_frame, eligible, offsets):
    """Write partition ``index``'s file of every epoch under ``root`` and return its record;
    ``epoch_frame(epoch)`` gives the epoch's frame and its flat mask (NumPy), ``eligible`` and
    ``offsets`` the flat item rows (NumPy) for the statistics."""
    from merlin_mlm_ops.masking.rules import segment_count

    target = LocalTarget(root) if isinstance(root, (str, os.PathLike)) else root
    n_eligible = segment_count(eligible, offsets)
    stats, files = None, {}
    for epoch in range(epochs):
        out, mask = epoch_frame(epoch)
        folder = f"epoch_{epoch:04d}"
        target.check_alive(folder)
        buffer = io.BytesIO()
        out.to_parquet(buffer, index=False)
        data = buffer.getvalue()
        rel = f"{folder}/part_{index:05d}.parquet"
        files[rel] = write_partition_file(target, rel, data)
        epoch_stats = _epoch_stats(n_eligible, mask, offsets)
        stats = epoch_stats if stats is None else {k: stats[k] + epoch_stats[k] for k in stats}
    return {"index": index, "files": files, "stats": {k: v.tolist() for k, v in stats.items()}}


def mask_remaining(ctx: RunContext, *, kept, workflow, mask_op, read_columns, root):
    """Mask every partition of ``ctx.checked`` not in ``kept`` on the workers, writing under
    ``root``; the tasks are the run's ``ctx.futures`` (cancelled on a stop) and read URL inputs with
    the job's ``storage_options``. Returns the records of all partitions, the kept ones first."""
    job, checked, client = ctx.job, ctx.checked, ctx.client
    todo = [i for i in range(len(checked.partitions)) if i not in kept]
    records = list(kept.values())
    if todo:
        # One task per partition reads, masks and writes it: a decoded frame never travels
        # between workers (pickling object columns costs more than masking them).
        [workflow_future] = client.scatter([workflow], broadcast=True, hash=False)
        ctx.futures = client.map(mask_partition, todo, [checked.partitions[i] for i in todo],
                                 workflow=workflow_future, mask_op=mask_op, columns=list(job.columns),
                                 read_columns=read_columns, epochs=job.epochs, root=root, gpu=job.gpu,
                                 storage_options=job.storage_options, pure=False)
        records += _gather_with_progress(ctx.futures, ctx.progress, len(kept), len(checked.partitions))
    return records


def mask_partition(index, part: Partition, workflow, mask_op, columns, read_columns, epochs, root, gpu=False,
                   storage_options=None):
    """One task: read partition ``index`` (``part``), mask and write it, then record it in the
    run's manifest; data errors are raised as InputDataError naming the file and row.
    ``root``: the run's local folder or an object-store target; ``storage_options`` (default
    None): fsspec options for an input URL."""
    df = read_partition(part, read_columns, gpu, storage_options)
    try:
        record = process_partition(df, index, workflow, mask_op, columns, epochs, root)
    except Exception as exc:  # noqa: BLE001 - re-raised, as InputDataError when the data is at fault
        error = data_error(part, exc)
        if error is None:
            raise
        raise error from None
    record["partition"] = jo.partition_record(part)
    target = LocalTarget(root) if isinstance(root, (str, os.PathLike)) else root
    if isinstance(target, LocalTarget):
        jo.write_json_atomic(jo.part_record_path(root, index), record)
    else:
        target.write(f"{jo.PARTS_DIR}/part_{index:05d}.json", json.dumps(record, sort_keys=True).encode())
    return record


class _DropExecutorTraceback(logging.Filter):
    """merlin's executor logs a failed operator's whole traceback (``Failed to transform
    operator ...``) before re-raising; the job reports the error itself, in one line (and the
    traceback with --debug), so the log record is dropped."""

    def filter(self, record):
        return not str(record.msg).startswith("Failed to transform operator")


_EXECUTOR_FILTER = _DropExecutorTraceback()


@contextlib.contextmanager
def quiet_executor():
    """Install, once per process and for good, the filter that drops merlin's executor traceback
    log (see _DropExecutorTraceback): workers share their stderr with the terminal."""
    log = logging.getLogger("merlin")
    log.addFilter(_EXECUTOR_FILTER)  # idempotent: a logger holds a filter once
    yield


def _epoch_stats(n_eligible, mask, offsets, width=1024):
    """Counts for summaries: rows, items, masked, and rows/masked by eligible length (bincounts)."""
    from merlin_mlm_ops.masking.rules import segment_count

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


def start_client(workers=None, scheduler=None, gpu=False, memory_limit="2GB", quiet=True):
    """A ``distributed.Client``: to ``scheduler`` if given, else a local (CUDA) cluster.

    ``quiet`` (default True) keeps the local workers' log below ERROR off the console (a failed
    task's traceback is reported once, by the command); ``close_client`` also closes the cluster.
    """
    import logging

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
        from merlin_mlm_ops.masking.gpu import has_gpu

        if not has_gpu():
            raise JobError("--gpu was given but no NVIDIA GPU is visible")
        return Client(LocalCUDACluster(n_workers=workers, silence_logs=logging.ERROR if quiet else logging.WARNING))
    from distributed import LocalCluster

    # Worker processes inherit the environment: keep third-party import noise out of the console.
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                           memory_limit=memory_limit, dashboard_address=None,
                           silence_logs=logging.ERROR if quiet else logging.WARNING)
    return Client(cluster)


def close_client(client):
    """Close ``client`` and the local cluster ``start_client`` made for it (workers stopped)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def job_arguments(job: MaskJob, checked: CheckedInputs, seed):
    """What decides the output bits: a resumed job must match the interrupted one on all of it."""
    from merlin_mlm_ops.job import plain

    return {"columns": list(job.columns), "prob": job.prob, "seed": seed, "key": job.key,
            "min_masked": job.min_masked, "max_masked": job.max_masked, "pad_id": job.pad_id,
            "epochs": job.epochs, "categorify": job.categorify, "gpu": job.gpu, "part_size": job.part_size,
            "inputs": checked.fingerprint, "window": None if job.window is None else list(job.window),
            "last_ratio": job.last_ratio, "replace": None if job.replace is None else list(job.replace),
            "vocab": None if job.vocab is None else list(job.vocab), "popularity": job.popularity,
            "transform": plain.transform_name()}


def pick_resumable(runs, args, output, log, name=str):
    """The newest ``(run record, where)`` of ``runs`` to resume (records that are None skipped), or None
    after saying so; a JobError if it was started with other arguments. ``name(where)`` is how the
    error names it (the local folder; on an object store, the attempt prefix)."""
    runs = [(run, where) for run, where in runs if run is not None]
    if not runs:
        log(f"nothing to resume for {output}: starting from the beginning")
        return None
    chosen = max(runs, key=lambda rw: rw[0].get("started_s", 0))
    diff = _differences(chosen[0]["args"], args)
    if diff:
        raise JobError(f"cannot resume from {name(chosen[1])}: it was started with different arguments "
                       f"({diff}); run without --resume to start over")
    return chosen


#: Arguments that runs recorded before their option existed lack, with the value those runs used.
_ADDED_LATER = {"last_ratio": 0.0, "popularity": False, "transform": "nvtabular"}


def _differences(old, new):
    diff = []
    for name in new:
        if name == "seed" and new[name] is None:
            continue  # no --seed: the resumed job takes the interrupted one's
        before = old.get(name, _ADDED_LATER.get(name))
        if before != new[name]:
            diff.append("input files" if name == "inputs" else f"{name} {before!r} != {new[name]!r}")
    return ", ".join(diff)


def _holder(run):
    return f"pid {run['pid']} on {run['host']}, started {run['started']}" if run else "an earlier version"


def _take_over_leftovers(output, tmp, args, resume, log):
    """Clean what dead runs left next to ``output`` (under its lock); with ``resume``, rename the
    newest temporary folder whose arguments match to ``tmp`` and return its run record."""
    found = jo.leftovers(output)
    chosen = None
    if resume:
        chosen = pick_resumable([(jo.read_run(f), f) for f in found if ".tmp" in f[len(output):]], args, output, log)
    for folder in found:
        if chosen is not None and folder == chosen[1]:
            continue
        if ".trash-" in folder[len(output):] and not os.path.lexists(output):
            os.rename(folder, output)
            log(f"restored {output} from {folder}, left by a run that died while replacing it")
            continue
        holder = _holder(jo.read_run(folder))
        shutil.rmtree(folder, ignore_errors=True)
        log(f"removed {folder}, left by a run that is no longer running ({holder})")
    if chosen is None:
        return None
    if chosen[1] != tmp:
        os.rename(chosen[1], tmp)
    return chosen[0] | {"folder": chosen[1]}


def run_mask_job(job: MaskJob, client, progress: Optional[Callable[[int, int], None]] = None, *,
                 resume: bool = False, log: Optional[Callable[[str], None]] = None, lock=None,
                 checked: Optional[CheckedInputs] = None):
    """Run ``job`` on ``client``; returns the summary dict (also written to mlm-job.json).

    ``progress(done, total)`` (default None) is called as partitions finish. ``resume``
    (default False) keeps the verified partitions of an interrupted run with the same arguments.
    ``log(line)`` (default: discard) receives one line per notable event (a dead run's folder
    removed, a resume). ``lock`` (default: taken here) is the held
    :class:`~merlin_mlm_ops.job.output.OutputLock` of ``job.output`` (an object-store output runs
    with :func:`merlin_mlm_ops.job.remote.run_remote_job` instead); ``checked`` (default:
    checked here) the result of :func:`validate_job`.
    """
    job.output = local_path(job.output)
    if is_url(job.output):
        raise JobError(f"output {job.output} is a URL: run it with merlin_mlm_ops.job.remote.run_remote_job")
    if lock is None:
        with jo.OutputLock(job.output) as own:
            return run_mask_job(job, client, progress, resume=resume, log=log, lock=own, checked=checked)
    log = log or (lambda line: None)
    checked = checked or validate_job(job)
    output = normalize(job.output)
    tmp = jo.tmp_folder(output)
    ctx = RunContext(job=job, checked=checked, client=client, progress=progress, log=log)
    resumed = _take_over_leftovers(output, tmp, job_arguments(job, checked, job.seed), resume, log)
    # Again, now that no other run can change it (and a dead run's trash may have been restored);
    # a resumed folder stays as it is, for a later --resume.
    check_replaceable(output, job.overwrite)
    try:
        return _run(ctx, output=output, tmp=tmp, resumed=resumed)
    except BaseException as exc:
        _abandon(client, ctx.futures, tmp)
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise JobError(f"no space left on device while writing {exc.filename or tmp}") from None
        raise


def _run(ctx: RunContext, *, output, tmp, resumed):
    import warnings

    from merlin_mlm_ops.job import plain

    job, checked = ctx.job, ctx.checked
    warnings.filterwarnings("ignore", message=".*CPU mode.*")
    seed = job.seed if job.seed is not None or resumed is None else resumed["args"]["seed"]
    read_columns = list(job.columns) + ([job.key] if job.key is not None else [])
    nvt = not plain.without_nvtabular()
    if nvt:
        workflow, mask_op = build_workflow(job, os.path.join(tmp, "categories"), seed)
    else:  # no NVTabular: the dataframe API, the same files (job/plain.py)
        plain.announce()
        workflow = mask_op = plain.PlainTransform.for_job(job, seed)
    args = job_arguments(job, checked, mask_op.seed)
    for epoch in range(job.epochs):
        os.makedirs(epoch_dir(tmp, epoch), exist_ok=True)
    os.makedirs(os.path.join(tmp, jo.PARTS_DIR), exist_ok=True)
    run = {"args": args, "pid": os.getpid(), "host": socket.gethostname(),
           "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "started_s": time.time(),
           "categories": None if resumed is None else resumed.get("categories")}
    jo.write_json_atomic(os.path.join(tmp, jo.RUN_FILE), run)
    if nvt:
        _fit_workflow(workflow, job, checked, ctx.client, read_columns)
        set_popularity(job, workflow, mask_op)
    categories = jo.tree_digest(os.path.join(tmp, "categories"))
    kept = {}
    if resumed is not None:
        if categories != run["categories"]:
            shutil.rmtree(os.path.join(tmp, jo.PARTS_DIR))
            os.makedirs(os.path.join(tmp, jo.PARTS_DIR))
        kept = jo.verified_parts(tmp, checked.partitions)
        jo.remove_strays(tmp, {rel for record in kept.values() for rel in record["files"]})
        ctx.log(f"resuming from {resumed['folder']}: {len(kept)} of {len(checked.partitions)} partitions kept "
            "(sizes and SHA-256 verified), the rest redone")
    jo.write_json_atomic(os.path.join(tmp, jo.RUN_FILE), run | {"categories": categories})
    if nvt:
        _write_schemas(workflow, tmp, job.epochs)
    records = mask_remaining(ctx, kept=kept, workflow=workflow, mask_op=mask_op, read_columns=read_columns, root=tmp)
    totals = _totals(records)
    if nvt:
        workflow.save(os.path.join(tmp, "workflow"))
    seconds = time.perf_counter() - ctx.t0
    summary = summarize(job, mask_op, totals, len(checked.partitions), seconds)
    jo.write_json_atomic(os.path.join(tmp, jo.JOB_FILE),
                         {"job": asdict(job) | {"seed": mask_op.seed}, "summary": summary, **plain.manifest_fields(),
                          "by_length": {"rows": totals["rows_by_length"].tolist(),
                                        "masked": totals["masked_by_length"].tolist()}})
    jo.write_manifest(tmp, sorted(records, key=lambda r: r["index"]))
    jo.publish(tmp, output, job.overwrite)
    return summary


#: Rows of the first partition the workflow's schema is fitted on (without Categorify).
SCHEMA_SAMPLE_ROWS = 64


def schema_sample(sample, column, rows=SCHEMA_SAMPLE_ROWS):
    """The first ``rows`` rows of ``sample``, led by its first row with a non-empty list in
    ``column`` (NVTabular infers a list column's dtype from the first row and fails on an empty
    one). A whole partition would cost seconds: merlin ships it through the Dask client to infer
    a schema that a few rows give as well (the masks need no statistics)."""
    from merlin_mlm_ops.adapters import frame_adapter

    try:
        flat = frame_adapter(sample).flatten(sample[column], column, "job", with_values=False)
    except Exception:  # noqa: BLE001 - bad rows: the whole partition, so that the fit names them
        return sample
    lengths = np.diff(_host(flat.offsets))
    first = int(np.argmax(lengths > 0)) if len(lengths) else 0
    order = [first] + [i for i in range(min(rows, len(sample))) if i != first]
    return sample.iloc[order]


def _fit_workflow(workflow, job, checked, client, read_columns):
    from merlin_mlm_ops.compat.dask import register as register_compat

    register_compat(client)  # Categorify's fit tasks need not carry an operator whose import applies it
    sample = read_partition(checked.partitions[0], read_columns, job.gpu, job.storage_options)
    _fit(workflow, job=job, checked=checked, sample=sample)


def _write_schemas(workflow, tmp, epochs):
    from merlin.schema.io.tensorflow_metadata import TensorflowMetadata

    for epoch in range(epochs):
        TensorflowMetadata.from_merlin_schema(workflow.output_schema).to_proto_text_file(epoch_dir(tmp, epoch))


def _fit(workflow, *, job, checked, sample):
    """Fit ``workflow``: on every file for Categorify, else on a few rows of ``sample`` (the first
    partition; see :func:`schema_sample`)."""
    from merlin.io import Dataset

    from merlin_mlm_ops.errors import MaskInputError

    first = checked.partitions[0]
    try:
        with quiet_executor():
            if job.categorify:
                workflow.fit(Dataset(checked.files, engine="parquet", cpu=not job.gpu, part_size=job.part_size,
                                     storage_options=job.storage_options))
            else:
                workflow.fit(Dataset(schema_sample(sample, job.columns[0]), cpu=not job.gpu))
    except Exception as exc:  # noqa: BLE001 - sorted below into the one-line errors
        if isinstance(exc, JobError) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
            raise
        if job.categorify and not isinstance(exc, MaskInputError):  # any file: pyarrow does not say which
            raise JobError(f"Categorify could not be fitted on the inputs ({first_line(exc)})",
                           traceback.format_exc()) from None
        raise named_error(first, exc) from None  # the dtype sample: the first partition's rows


def _totals(records):
    totals = None
    for record in records:
        stats = {k: np.asarray(v) for k, v in record["stats"].items()}
        totals = stats if totals is None else {k: totals[k] + stats[k] for k in totals}
    return totals


def cancel_and_wait(client, futures, timeout_s=60.0):
    """Cancel ``futures`` and wait (at most ``timeout_s``) until no worker still runs one of them:
    a task that already started cannot be interrupted and runs to its end, writing its files."""
    if not futures:
        return
    client.cancel(futures)
    keys = {future.key for future in futures}

    def running(dask_worker):
        return sum(ts.key in keys for ts in dask_worker.state.executing)

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if not sum(client.run(running).values()):
                return
        except Exception:  # noqa: BLE001 - a worker gone or the scheduler closing: nothing to wait for
            return
        time.sleep(0.1)


def _abandon(client, futures, tmp, settle_s=1.0, timeout_s=60.0):
    """Stop the job's tasks (:func:`cancel_and_wait`) and remove its temporary folder for good.

    A task whose worker did not answer may still write a file after a first removal, so the
    folder is removed until it has stayed absent for ``settle_s``.
    """
    cancel_and_wait(client, futures, timeout_s)
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


def _gather_with_progress(futures, progress, done, total):
    from distributed import as_completed

    records = []
    if progress is not None and done:
        progress(done, total)
    for future in as_completed(futures):
        records.append(future.result())
        done += 1
        if progress is not None:
            progress(done, total)
    return records


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
