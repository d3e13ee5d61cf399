"""The masking job on an object store: lease, attempt prefix, commit (see
:mod:`merlin_mlm_ops.job.storage` for the layout and why).

A run on ``OUT`` (an ``s3://`` URL):

1. takes the lease ``OUT/_mlm-lease.json`` (a second run fails at once, naming the holder);
2. removes the attempts that dead runs left under ``OUT/_attempts/`` (one line each), or with
   ``--resume`` continues the newest one started with the same arguments, keeping the
   partitions whose files have the recorded size and SHA-256;
3. writes every file under its own attempt prefix ``OUT/_attempts/<attempt>/`` (the same tree
   a local run writes), the partition records under ``.mlm-parts/``;
4. commits by writing ``OUT/mlm-manifest.json`` with a conditional put (If-None-Match: * for a
   new output, If-Match on the replaced manifest's ETag with ``--overwrite``): of two runs, one
   commits; then removes the replaced output's attempt and releases the lease.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict

from merlin_mlm_ops.errors import JobError
from merlin_mlm_ops.job import storage as st
from merlin_mlm_ops.job.storage import ObjectStore, ObjectTarget, describe_error


def _store(job):
    return ObjectStore(job.output, job.storage_options)


class take_lease:
    """``with take_lease(job) as lease:`` the lease of ``job.output``; a store failure while
    taking it (missing bucket, bad credentials) is a one-line JobError."""

    def __init__(self, job):
        self.lease = st.Lease(_store(job))

    def __enter__(self):
        try:
            return self.lease.acquire()
        except JobError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise JobError(f"output {self.lease.store.url}: cannot take the lease "
                           f"({describe_error(exc)})") from None

    def __exit__(self, *exc):
        self.lease.release()


def _attempts(store):
    """{attempt id: [urls]} under ``OUT/_attempts/``."""
    prefix = store.key(st.ATTEMPTS) + "/"
    found = {}
    for url in store.list(store.key(st.ATTEMPTS)):
        found.setdefault(url[len(prefix):].split("/", 1)[0], []).append(url)
    return found


def _holder(run):
    return f"pid {run['pid']} on {run['host']}, started {run['started']}" if run else "unknown"


def _leftovers(store, committed_attempt, args, resume, log):
    """Remove the attempts of dead runs (we hold the lease); with ``resume``, return the id and
    run record of the newest one whose arguments match."""
    from merlin_mlm_ops.job.run import pick_resumable

    found = {a: store.read_json(store.key(st.ATTEMPTS, a, st.RUN_FILE))
             for a in _attempts(store) if a != committed_attempt}
    chosen = None
    if resume:
        chosen = pick_resumable([(run, a) for a, run in found.items()], args, store.url, log,
                                name=lambda a: store.key(st.ATTEMPTS, a))
    for attempt, run in found.items():
        if chosen is not None and attempt == chosen[1]:
            continue
        store.remove_prefix(store.key(st.ATTEMPTS, attempt))
        log(f"removed {store.key(st.ATTEMPTS, attempt)}, left by a run that is no longer running "
            f"({_holder(run)})")
    return (None, None) if chosen is None else (chosen[1], chosen[0])


def run_remote_job(job, client, progress=None, *, resume=False, log=None, lock=None, checked=None):
    """Run ``job`` whose output is an object-store URL; returns the summary.

    The arguments are those of :func:`merlin_mlm_ops.job.run.run_mask_job`; ``lock`` (default:
    taken here) is the held :class:`~merlin_mlm_ops.job.storage.Lease` of ``job.output``
    (``with take_lease(job) as lock``)."""
    lease = lock
    from merlin_mlm_ops.job.run import RunContext, validate_job

    log = log or (lambda line: None)
    checked = checked or validate_job(job)
    store = _store(job)
    if lease is None:
        with take_lease(job) as own:
            return run_remote_job(job, client, progress, resume=resume, log=log, lock=own, checked=checked)
    if lease.taken_over:
        holder, age = lease.taken_over
        log(f"took over the lease of {store.url} from {holder.get('holder', 'unknown')}, "
            f"whose heartbeat stopped {age:.0f} s ago")
    ctx = RunContext(job=job, checked=checked, client=client, progress=progress, log=log)
    base = st.check_output(job)  # again, under the lease
    base_etag = store.head(store.key(st.MANIFEST))["etag"] if base is not None else None
    from merlin_mlm_ops.job.run import job_arguments

    attempt, resumed = _leftovers(store, base and base.get("attempt", "").split("/")[-1],
                                  job_arguments(job, checked, job.seed), resume, log)
    attempt = attempt or st.new_attempt()
    target = ObjectTarget(store.key(st.ATTEMPTS, attempt), job.storage_options)
    try:
        return _run(ctx, store=store, target=target, attempt=attempt, resumed=resumed, base=base,
                    base_etag=base_etag, lease=lease)
    except BaseException:
        _abandon(client, ctx.futures, target)
        raise


def _verified_parts(target, partitions):
    """{index: record} of the attempt's partitions whose files have the recorded size and SHA-256."""
    from merlin_mlm_ops.job import output as jo

    store = target.store
    kept = {}
    for url in store.list(store.key(jo.PARTS_DIR)):
        try:
            record = json.loads(store.read(url))
            index = int(record["index"])
            ok = 0 <= index < len(partitions) and record["partition"] == jo.partition_record(partitions[index])
            for rel, (size, digest) in record["files"].items():
                head = store.head(store.key(rel)) if ok else None
                ok = ok and head is not None and head["size"] == size \
                    and st.sha256_bytes(store.read(store.key(rel))) == digest
        except (OSError, ValueError, KeyError, TypeError):
            ok = False
        if ok:
            kept[index] = record
        else:
            store.fs.rm(url)
    kept_files = {rel for record in kept.values() for rel in record["files"]}
    strays = [url for url in store.list(store.url) if url[len(store.url) + 1:].startswith("epoch_")
              and url.endswith(".parquet") and url[len(store.url) + 1:] not in kept_files]
    if strays:
        store.fs.rm(strays)
    return kept


def _upload_folder(store, local, rel):
    for folder, _, names in os.walk(local):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                store.write(store.key(rel, os.path.relpath(path, local).replace(os.sep, "/")), fh.read())


def _run(ctx, *, store, target, attempt, resumed, base, base_etag, lease):
    import warnings

    from merlin.schema.io.tensorflow_metadata import TensorflowMetadata

    from merlin_mlm_ops.job import output as jo
    from merlin_mlm_ops.job.run import _fit_workflow, _totals, build_workflow, job_arguments, mask_remaining, summarize

    job, checked = ctx.job, ctx.checked
    warnings.filterwarnings("ignore", message=".*CPU mode.*")
    seed = job.seed if job.seed is not None or resumed is None else resumed["args"]["seed"]
    read_columns = list(job.columns) + ([job.key] if job.key is not None else [])
    workflow, mask_op = build_workflow(job, None, seed)
    args = job_arguments(job, checked, mask_op.seed)
    run = {"args": args, "pid": os.getpid(), "host": lease.record["host"], "started": lease.record["started"],
           "started_s": time.time(), "categories": None}
    target.write(st.RUN_FILE, json.dumps(run, sort_keys=True).encode())
    _fit_workflow(workflow, job, checked, ctx.client, read_columns)
    kept = {}
    if resumed is not None:
        kept = _verified_parts(target, checked.partitions)
        ctx.log(f"resuming from {target.root}: {len(kept)} of {len(checked.partitions)} partitions kept "
            "(sizes and SHA-256 verified), the rest redone")
    with tempfile.TemporaryDirectory(prefix="mlm-schema-") as tmp:
        TensorflowMetadata.from_merlin_schema(workflow.output_schema).to_proto_text_file(tmp)
        with open(os.path.join(tmp, "schema.pbtxt"), "rb") as fh:
            schema = fh.read()
    for epoch in range(job.epochs):
        target.write(f"epoch_{epoch:04d}/schema.pbtxt", schema)
    records = mask_remaining(ctx, kept=kept, workflow=workflow, mask_op=mask_op, read_columns=read_columns,
                             root=target)
    totals = _totals(records)
    with tempfile.TemporaryDirectory(prefix="mlm-workflow-") as tmp:
        workflow.save(os.path.join(tmp, "workflow"))
        _upload_folder(target.store, os.path.join(tmp, "workflow"), "workflow")
    seconds = time.perf_counter() - ctx.t0
    summary = summarize(job, mask_op, totals, len(checked.partitions), seconds)
    target.write(jo.JOB_FILE, json.dumps({"job": asdict(job) | {"seed": mask_op.seed, "storage_options": None},
                                          "summary": summary, "transform": "nvtabular",
                                          "by_length": {"rows": totals["rows_by_length"].tolist(),
                                                        "masked": totals["masked_by_length"].tolist()}},
                                         sort_keys=True).encode())
    files = {}
    for record in sorted(records, key=lambda r: r["index"]):
        files.update({rel: {"bytes": size, "sha256": digest} for rel, (size, digest) in record["files"].items()})
    files = dict(sorted(files.items()))
    target.write(st.MANIFEST, json.dumps({"files": files}, sort_keys=True).encode())
    # Bookkeeping goes before the commit, so that the committed tree is the tree a local run writes.
    target.store.remove_prefix(target.store.key(jo.PARTS_DIR))
    target.store.fs.rm(target.store.key(st.RUN_FILE))
    _commit(store, attempt=attempt, files=files, base=base, base_etag=base_etag, lease=lease, log=ctx.log)
    return summary


def _commit(store, *, attempt, files, base, base_etag, lease, log):
    """Write ``OUT/mlm-manifest.json`` with a conditional put: the run's output becomes visible
    as a whole, or JobError when another run committed (or took the lease) meanwhile."""
    lease.check()
    manifest = {"attempt": f"{st.ATTEMPTS}/{attempt}", "files": files, "holder": lease.record["holder"],
                "committed": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    body = json.dumps(manifest, sort_keys=True).encode()
    url = store.key(st.MANIFEST)
    etag = store.put_if_absent(url, body) if base_etag is None else store.put_if_match(url, body, base_etag)
    if etag is None:
        raise JobError(f"output {store.url} was committed by another run during this one; it was left as it is "
                       "and this run's result discarded")
    if base is not None and base.get("attempt") and base["attempt"] != manifest["attempt"]:
        store.remove_prefix(store.key(base["attempt"]))  # the replaced output, no longer referenced


def _abandon(client, futures, target, settle_s=1.0, timeout_s=60.0):
    """Stop the tasks (cancelled, and waited for while they run to their end) and remove the
    attempt: its run record first (a task still running then writes nothing more), then every
    object, until the prefix has stayed empty for ``settle_s``."""
    from merlin_mlm_ops.job.run import cancel_and_wait

    cancel_and_wait(client, futures, timeout_s)
    store = target.store
    deadline = time.monotonic() + timeout_s
    empty_since = None
    try:
        store.fs.rm(store.key(st.RUN_FILE))
    except (FileNotFoundError, OSError):
        pass
    while time.monotonic() < deadline:
        try:
            removed = store.remove_prefix(store.url)
        except Exception:  # noqa: BLE001 - the store is unreachable: a later run cleans up
            return
        if removed:
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since >= settle_s:
            return
        time.sleep(0.1)
