"""`merlin-mlm mask` against production faults: concurrent runs, overlapping paths, bad files,
signals, dead runs, --resume, a full disk.  Each fault ends in one line and leaves no output,
temporary folder or lock behind (or, for --resume, the bits of an uninterrupted run)."""
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import ROOT
from merlin_mlm_ops.data.parquet import write_partitioned
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.errors import JobError
from merlin_mlm_ops.job.cli import main
from merlin_mlm_ops.job.output import OutputLock
from merlin_mlm_ops.job.run import MaskJob, run_mask_job

# Seconds each partition takes in the tests that stop a job midway: long enough that the job (6
# partitions on 2 workers) cannot finish before the test's signal lands on a loaded 2-core machine
# (at 0.5 s a CI run under load once finished the whole job first).
SLOW_PARTITION = "1.5"


ARGS = ["-c", "item_ids", "-c", "category", "--key", "session_id", "--seed", "4", "--epochs", "2", "--no-progress"]


@pytest.fixture(scope="module")
def raw6(tmp_path_factory):
    """Six Parquet files of 400 sessions: six partitions."""
    path = str(tmp_path_factory.mktemp("raw6"))
    write_partitioned(make_sessions(2400, n_items=300, mean_length=8, seed=8), path, 6)
    return path


def digests(root, skip=()):
    """{relative path: sha256} of every file under ``root`` (``mlm-job.json`` without timings, output
    path and --overwrite: how the job was invoked, not what it wrote)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
        rel = os.path.relpath(path, root)
        if os.path.isdir(path) or rel.startswith(skip):
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        if rel == "mlm-job.json":
            job = json.loads(data)
            for k in ("seconds", "rows_per_second"):
                job["summary"].pop(k)
            job["job"].pop("output")
            job["job"].pop("overwrite")
            data = json.dumps(job, sort_keys=True).encode()
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def nothing_left(out):
    return not os.path.exists(out) and not glob.glob(out + ".*")


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("merlin-mlm: error: "), err
    return err[0]


# ---- paths: overlap, lock, an output that appears during the run -------------------------------

@pytest.mark.parametrize("case,message", [
    ("same", "is the input"),
    ("inside", "lies inside the input"),
    ("contains", "contains the input"),
    ("file", "is the input"),
    ("symlink", "is the input"),
])
def test_an_output_overlapping_an_input_is_refused_before_anything_is_read_or_deleted(tmp_path, capsys, case,
                                                                                      message):
    data = tmp_path / "data" / "raw"
    write_partitioned(make_sessions(60, seed=1), str(data), 2)
    before = digests(str(tmp_path / "data"))
    inputs, out = [str(data)], {"same": data, "inside": data / "masked", "contains": tmp_path / "data",
                                "file": data / "part_0000.parquet", "symlink": tmp_path / "link"}[case]
    if case == "symlink":
        os.symlink(data, out)
    rc = main(["mask", *inputs, "-o", str(out), "-c", "item_ids", "--overwrite", "--no-progress"])
    assert rc == 2 and message in one_error_line(capsys)
    assert digests(str(tmp_path / "data")) == before
    assert not glob.glob(str(out) + ".*")


def test_a_second_run_on_an_output_being_written_is_refused(raw6, tmp_path, capsys):
    out = str(tmp_path / "out")
    with OutputLock(out):
        assert main(["mask", raw6, "-o", out, *ARGS]) == 2
    line = one_error_line(capsys)
    assert f"output {out} is being written by another run (pid {os.getpid()} on " in line
    assert nothing_left(out)


def test_an_output_that_appears_during_the_run_is_never_replaced_unchecked(cluster, raw6, tmp_path):
    out = tmp_path / "out"

    def appear(done, total):
        if done == 1:
            os.makedirs(out, exist_ok=True)
            (out / "theirs.txt").write_text("not yours")

    for overwrite, message in [(False, "appeared during the run"), (True, "is not the output of an earlier job")]:
        job = MaskJob(inputs=[raw6], output=str(out), columns=["item_ids"], seed=1, overwrite=overwrite)
        with pytest.raises(JobError, match=message):
            run_mask_job(job, cluster[1], appear)
        assert os.listdir(out) == ["theirs.txt"] and not glob.glob(str(out) + ".*")
        shutil.rmtree(out)


def test_overwrite_replaces_an_earlier_output_as_a_whole(cluster, raw6, tmp_path):
    out = str(tmp_path / "out")
    run_mask_job(MaskJob(inputs=[raw6], output=out, columns=["item_ids"], seed=1, epochs=3), cluster[1])
    lines = []
    run_mask_job(MaskJob(inputs=[raw6], output=out, columns=["item_ids"], seed=2, overwrite=True), cluster[1],
                 resume=True, log=lines.append)
    assert lines == [f"nothing to resume for {out}: starting from the beginning"]
    with open(os.path.join(out, "mlm-manifest.json")) as fh:
        listed = json.load(fh)["files"]
    assert sorted(os.listdir(out)) == ["epoch_0000", "mlm-job.json", "mlm-manifest.json", "workflow"]
    assert set(listed) == {os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "epoch_0000", "part_*"))}
    found = digests(out)
    assert all(found[rel] == entry["sha256"] and os.path.getsize(os.path.join(out, rel)) == entry["bytes"]
               for rel, entry in listed.items())
    assert not glob.glob(out + ".*")


# ---- input files: every footer checked up front; data errors name file and row ----------------

def _table(df, **replace):
    table = pa.Table.from_pandas(df, preserve_index=False)
    for name, array in replace.items():
        if array is None:
            table = table.drop([name])
        else:
            table = table.set_column(table.schema.get_field_index(name), name, array)
    return table


BAD_FILES = {
    "not parquet": (lambda df, path: open(path, "w").write("id,items\n1,2\n"), "not a readable Parquet file"),
    "truncated": (lambda df, path: open(path, "wb").write(_parquet_bytes(_table(df))[:-200]),
                  "not a readable Parquet file"),
    "no item column": (lambda df, path: pq.write_table(_table(df, item_ids=None), path),
                       "column 'item_ids' not found"),
    "no key": (lambda df, path: pq.write_table(_table(df, session_id=None), path),
               "key column 'session_id' not found"),
    "int items": (lambda df, path: pq.write_table(_table(df, item_ids=pa.array(range(len(df)))), path),
                  "column 'item_ids' is not a list column (int64)"),
    "string items": (lambda df, path: pq.write_table(
        _table(df, item_ids=pa.array([[str(v) for v in r] for r in df["item_ids"]])), path),
        "column 'item_ids' holds string items; item ids must be integers"),
    "list key": (lambda df, path: pq.write_table(
        _table(df, session_id=pa.array([[v] for v in df["session_id"]])), path),
        "key column 'session_id' is a list column"),
}


def _parquet_bytes(table):
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize("fault", sorted(BAD_FILES))
def test_every_input_footer_is_checked_before_any_task_runs(tmp_path, capsys, fault):
    df = make_sessions(90, seed=2)
    write_partitioned(df, str(tmp_path / "in"), 3)
    bad = str(tmp_path / "in" / "part_0009.parquet")  # the last file: not the one a sample would read
    make, message = BAD_FILES[fault]
    make(df, bad)
    out = str(tmp_path / "out")
    assert main(["mask", str(tmp_path / "in"), "-o", out, *ARGS, "--workers", "2"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"merlin-mlm: error: input {bad}: ") and message in line
    assert nothing_left(out)


def _null_item_file(df, path, row):
    items = [list(r) for r in df["item_ids"]]
    items[row][1] = None
    pq.write_table(_table(df, item_ids=pa.array(items, type=pa.list_(pa.int64()))), path)


def _corrupt_page_file(df, path, row):
    pq.write_table(_table(df), path)
    data = bytearray(open(path, "rb").read())
    column = pq.read_metadata(path).row_group(0).column(1)  # item_ids
    start = column.dictionary_page_offset or column.data_page_offset
    data[start + 40:start + 104] = b"\xff" * 64  # the footer stays intact
    open(path, "wb").write(bytes(data))


def _misaligned_file(df, path, row):
    cats = [list(r) for r in df["category"]]
    cats[row] = cats[row][:-1]
    pq.write_table(_table(df, category=pa.array(cats, type=pa.list_(pa.int64()))), path)


@pytest.mark.parametrize("make,message", [
    (_null_item_file, "MaskRandom: column 'item_ids', row 17: null item id at position 1"),
    (_corrupt_page_file, "cannot read rows 0..39 (OSError: Corrupt snappy compressed data"),
    (_misaligned_file, "column 'category', row 17: row lengths differ"),
])
def test_data_errors_end_in_one_line_naming_the_file_and_row(cluster, tmp_path, capsys, make, message):
    df = make_sessions(120, n_items=50, mean_length=6, seed=3)
    df["item_ids"] = [list(r) if len(r) > 2 else [1, 2, 3] for r in df["item_ids"]]
    df["category"] = [list(r) if len(r) > 2 else [1, 2, 3] for r in df["category"]]
    write_partitioned(df.iloc[:80], str(tmp_path / "in"), 2)
    bad = str(tmp_path / "in" / "part_0002.parquet")
    make(df.iloc[80:].reset_index(drop=True), bad, 17)
    out = str(tmp_path / "out")
    assert main(["mask", str(tmp_path / "in"), "-o", out, *ARGS, "--scheduler", cluster[0].scheduler_address]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"merlin-mlm: error: input {bad}: ") and message in line
    assert nothing_left(out)


def test_debug_shows_the_full_traceback_of_a_data_error(cluster, tmp_path, capsys, monkeypatch):
    df = make_sessions(40, n_items=50, mean_length=6, seed=3)
    df["item_ids"] = [list(r) if len(r) > 2 else [1, 2, 3] for r in df["item_ids"]]
    os.makedirs(tmp_path / "in")
    pq.write_table(_table(df), str(tmp_path / "in" / "a.parquet"))
    _null_item_file(df, str(tmp_path / "in" / "b.parquet"), 5)  # second file: the error is on a worker
    args = ["mask", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-c", "item_ids", "--no-progress",
            "--scheduler", cluster[0].scheduler_address]
    assert main(args + ["--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "pandas_lists.py" in err and "mask_partition" in err
    assert err.strip().splitlines()[-1].endswith("row 5: null item id at position 1 of the row; every item needs an id")
    monkeypatch.setenv("MERLIN_MLM_DEBUG", "1")
    assert main(args[:2] + ["--epochs", "0"] + args[2:]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_null_item_id_in_a_later_file_prints_only_the_one_line_without_debug(tmp_path):
    """merlin's executor logs the worker's traceback ("Failed to transform operator MaskRandom
    ...") before re-raising; the workers' stderr is the terminal's, so only the job may speak."""
    df = make_sessions(40, n_items=50, mean_length=6, seed=3)
    df["item_ids"] = [list(r) if len(r) > 2 else [1, 2, 3] for r in df["item_ids"]]
    os.makedirs(tmp_path / "in")
    pq.write_table(_table(df), str(tmp_path / "in" / "a.parquet"))
    _null_item_file(df, str(tmp_path / "in" / "b.parquet"), 5)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("MERLIN_MLM_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "merlin_mlm_ops.job.cli", "mask", str(tmp_path / "in"), "-o",
                           str(tmp_path / "out"), "-c", "item_ids", "--no-progress", "--workers", "1"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"merlin-mlm: error: input {tmp_path / 'in' / 'b.parquet'}: MaskRandom: column 'item_ids', row 5: null item "
        "id at position 1 of the row; every item needs an id"]


def test_an_unexpected_failure_is_one_line_with_exit_code_1_and_debug_raises(tmp_path, capsys, monkeypatch):
    import merlin_mlm_ops.job.cli as cli

    def boom(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli, "cmd_stats", boom)
    assert main(["stats", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "merlin-mlm: unexpected error: RuntimeError: boom (rerun with --debug for the traceback)"]
    with pytest.raises(RuntimeError, match="boom"):
        main(["stats", str(tmp_path), "--debug"])


# ---- a full disk ------------------------------------------------------------------------------

def test_a_full_disk_ends_in_one_line_and_leaves_the_previous_output_untouched(cluster, raw6, tmp_path, capsys,
                                                                               faults):
    out = str(tmp_path / "out")
    args = ["mask", raw6, "-o", out, *ARGS, "--scheduler", cluster[0].scheduler_address]
    assert main(args) == 0
    before = digests(out)
    capsys.readouterr()
    with faults.on_workers(cluster[1], enospc=3):  # on the workers, where files are written
        assert main(args + ["--overwrite", "--seed", "5"]) == 2
    line = one_error_line(capsys)
    assert line == (f"merlin-mlm: error: no space left on device while writing "
                    f"{out}.tmp/epoch_0000/part_00003.parquet")
    assert digests(out) == before and not glob.glob(out + ".*")


def test_a_full_disk_in_the_workers_the_command_starts_ends_in_the_same_line(raw6, tmp_path, faults):
    out = str(tmp_path / "out")
    proc = _start(raw6, out, env=faults.subprocess_env(enospc=3))  # its own workers, through Dask's preload
    assert _outcome(proc, timeout=300) == (2, [
        f"merlin-mlm: error: no space left on device while writing {out}.tmp/epoch_0000/part_00003.parquet"])
    assert nothing_left(out) and _group_gone(proc.pid)


def test_a_real_full_filesystem_ends_in_the_same_line(cluster, raw6, tmp_path, capsys):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        out = str(disk / "out")
        args = ["mask", raw6, "-o", out, *ARGS, "--scheduler", cluster[0].scheduler_address]
        assert main(args) == 0  # about 0.2 MB: fits
        before = digests(out)
        capsys.readouterr()
        assert main(args + ["--epochs", "30", "--overwrite"]) == 2  # about 3 MB: does not
        assert "merlin-mlm: error: no space left on device while writing " in one_error_line(capsys)
        assert digests(out) == before and not glob.glob(out + ".*")
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# ---- signals, dead runs, --resume -------------------------------------------------------------

def _start(raw, out, *extra, env=None):
    """The command in a new session (its own process group), with ``env`` added to its environment
    (``faults.subprocess_env(...)``: faults in the workers it starts unless ``extra`` names a scheduler)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", **(env or {}))
    cmd = [sys.executable, "-m", "merlin_mlm_ops.job.cli", "mask", raw, "-o", out, *ARGS, *(extra or ["--workers", "2"])]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _outcome(proc, timeout):
    """``(exit code, stderr lines)`` of a command started with :func:`_start`, once it ends (its
    process group killed if it has not ended within ``timeout`` s)."""
    try:
        stderr = proc.communicate(timeout=timeout)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, stderr.strip().splitlines()


def _wait_for_parts(proc, out, n, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = glob.glob(out + ".tmp/.mlm-parts/part_*.json")
        if len(parts) >= n:
            return parts
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("no partition was written in time")


def _group_gone(pgid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_sigterm_stops_the_workers_removes_the_temporary_folder_and_prints_one_line(raw6, tmp_path, capsys,
                                                                                   faults):
    out = str(tmp_path / "out")
    proc = _start(raw6, out, env=faults.subprocess_env(delay=1.0))  # each partition takes 1 s on its workers
    try:
        _wait_for_parts(proc, out, 1)
        # meanwhile a second run on the same output is refused, naming the first
        assert main(["mask", raw6, "-o", out, *ARGS]) == 2
        assert f"is being written by another run (pid {proc.pid} on " in one_error_line(capsys)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143
    assert stderr.strip().splitlines() == [
        "merlin-mlm: terminated (SIGTERM); workers stopped, no output folder was completed"]
    assert nothing_left(out) and _group_gone(proc.pid)


def test_a_dead_runs_folder_is_removed_with_a_line_and_resume_refuses_other_arguments(cluster, raw6, tmp_path,
                                                                                     capsys):
    out = str(tmp_path / "out")
    stale = f"{out}.tmp-424242"
    os.makedirs(os.path.join(stale, "epoch_0000"))
    run = {"pid": 424242, "host": "gone", "started": "2026-11-27 10:00:00 UTC", "started_s": 1.0,
           "args": {"seed": 3}}
    with open(os.path.join(stale, ".mlm-run.json"), "w") as fh:
        json.dump(run, fh)
    args = ["mask", raw6, "-o", out, *ARGS, "--scheduler", cluster[0].scheduler_address]
    assert main(args + ["--resume"]) == 2
    line = one_error_line(capsys)
    assert f"cannot resume from {stale}: it was started with different arguments (" in line and "seed 3 != 4" in line
    assert os.path.isdir(stale) and not os.path.exists(out)
    assert main(args) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"merlin-mlm: removed {stale}, left by a run that is no longer running "
                   "(pid 424242 on gone, started 2026-11-27 10:00:00 UTC)"]
    assert not glob.glob(out + ".*")


def test_a_replaced_output_left_in_the_trash_by_a_dead_run_is_restored(cluster, raw6, tmp_path, capsys):
    out = str(tmp_path / "out")
    os.makedirs(f"{out}.trash-77")
    open(f"{out}.trash-77/mlm-job.json", "w").write("{}")
    assert main(["mask", raw6, "-o", out, *ARGS, "--scheduler", cluster[0].scheduler_address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"merlin-mlm: restored {out} from {out}.trash-77, left by a run that died while replacing it",
                   f"merlin-mlm: error: output {out} exists (pass --overwrite to replace it)"]
    assert os.listdir(out) == ["mlm-job.json"]


def test_resume_after_kill_9_keeps_verified_partitions_and_gives_the_bits_of_an_uninterrupted_run(
        cluster, raw6, tmp_path, capsys, faults):
    out, clean = str(tmp_path / "out"), str(tmp_path / "clean")
    client, address = cluster[1], cluster[0].scheduler_address
    with faults.on_workers(client, delay=SLOW_PARTITION):
        # the command on the shared cluster, killed: its running tasks finish, nothing cleans up
        proc = _start(raw6, out, "--scheduler", address)
        try:
            _wait_for_parts(proc, out, 2)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()
        _wait_until_idle(client)
    [stale] = glob.glob(out + ".tmp")
    records = sorted(glob.glob(os.path.join(stale, ".mlm-parts", "part_*.json")))
    assert 2 <= len(records) < 6
    # a kept file damaged after its record was written is found out and redone
    with open(records[0]) as fh:
        damaged = os.path.join(stale, next(iter(json.load(fh)["files"])))
    with open(damaged, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\0\1\2")
    args = ["mask", raw6, *ARGS, "--scheduler", address]
    assert main(args + ["-o", out, "--resume"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"merlin-mlm: resuming from {stale}: {len(records) - 1} of 6 partitions kept "
                   "(sizes and SHA-256 verified), the rest redone"]
    assert main(args + ["-o", clean]) == 0
    # everything but the workflow's save time (workflow/metadata.json) is the same, bit for bit
    assert digests(out, skip=("workflow/metadata",)) == digests(clean, skip=("workflow/metadata",))
    assert len(digests(out)) == 2 * 7 + 2 + 2 and not glob.glob(out + ".*")


def test_sigint_stops_the_job_removes_the_temporary_folder_and_prints_one_line(cluster, raw6, tmp_path, capsys,
                                                                               faults):
    import threading

    out = str(tmp_path / "out")

    def interrupt_after_a_partition():
        while not glob.glob(out + ".tmp/.mlm-parts/part_*.json"):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    # A shell starts background jobs with SIGINT ignored (CI scripts, `cmd &`), and Python then keeps
    # it ignored: give this process Python's own handler, as an interactive Ctrl-C would find it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with faults.on_workers(cluster[1], delay=SLOW_PARTITION):
            threading.Thread(target=interrupt_after_a_partition, daemon=True).start()
            assert main(["mask", raw6, "-o", out, *ARGS, "--scheduler", cluster[0].scheduler_address]) == 130
    finally:
        signal.signal(signal.SIGINT, previous)
    assert capsys.readouterr().err.strip().splitlines() == [
        "merlin-mlm: interrupted (SIGINT); workers stopped, no output folder was completed"]
    assert nothing_left(out)


def _wait_until_idle(client):
    """Until no worker runs a task: a task the scheduler has forgotten still runs to its end."""
    while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) or \
            sum(client.run(lambda dask_worker: len(dask_worker.state.executing)).values()):
        time.sleep(0.1)


def _crash_after_two_partitions(job, client, monkeypatch):
    """A run that dies after two partitions without cleaning up, as under kill -9."""
    import merlin_mlm_ops.job.run as jobs

    def die(done, total):
        if done == 2:
            raise SystemExit("crash")

    with monkeypatch.context() as m:
        m.setattr(jobs, "_abandon", lambda client, futures, tmp: client.cancel(futures))
        with pytest.raises(SystemExit):
            run_mask_job(job, client, die)
    _wait_until_idle(client)
    [tmp] = glob.glob(job.output + ".tmp")
    return tmp


def test_resume_with_categorify_reuses_the_seed_and_keeps_partitions_only_with_the_same_vocabularies(
        cluster, raw6, tmp_path, monkeypatch):
    lines, out = [], str(tmp_path / "out")
    job = MaskJob(inputs=[raw6], output=out, columns=["item_ids"], categorify=True)
    tmp = _crash_after_two_partitions(job, cluster[1], monkeypatch)
    with open(os.path.join(tmp, ".mlm-run.json")) as fh:
        seed = json.load(fh)["args"]["seed"]
    summary = run_mask_job(job, cluster[1], resume=True, log=lines.append)  # no seed: the dead run's
    assert summary["seed"] == seed and lines[0].startswith(f"resuming from {tmp}: ") and " 0 of " not in lines[0]
    resumed = digests(out, skip=("workflow/metadata",))
    # the same job uninterrupted, to the same path (the schema records the vocabularies' path)
    run_mask_job(MaskJob(inputs=[raw6], output=out, columns=["item_ids"], categorify=True, seed=seed,
                         overwrite=True), cluster[1])
    assert resumed == digests(out, skip=("workflow/metadata",))
    # vocabularies that differ from the dead run's: nothing is kept
    job.overwrite, job.seed = True, seed
    tmp = _crash_after_two_partitions(job, cluster[1], monkeypatch)
    run = json.load(open(os.path.join(tmp, ".mlm-run.json")))
    json.dump(run | {"categories": "another vocabulary"}, open(os.path.join(tmp, ".mlm-run.json"), "w"))
    run_mask_job(job, cluster[1], resume=True, log=lines.append)
    assert lines[-1] == f"resuming from {tmp}: 0 of 6 partitions kept (sizes and SHA-256 verified), the rest redone"
    assert resumed == digests(out, skip=("workflow/metadata",))


def test_partitions_are_whole_row_groups_of_one_file_up_to_part_size(tmp_path):
    from merlin_mlm_ops.job.inputs import Partition, check_inputs

    write_partitioned(make_sessions(100, seed=1), str(tmp_path), 2, row_group_size=20)
    files = sorted(glob.glob(str(tmp_path / "*.parquet")))
    one_each = check_inputs(files, ["item_ids"], part_size="1B").partitions
    assert one_each[:3] == [Partition(files[0], (0,), 0, 20), Partition(files[0], (1,), 20, 20),
                            Partition(files[0], (2,), 40, 10)]
    assert len(one_each) == 6 and one_each[3] == Partition(files[1], (0,), 0, 20)
    assert check_inputs(files, ["item_ids"]).partitions == [Partition(files[0], (0, 1, 2), 0, 50),
                                                           Partition(files[1], (0, 1, 2), 0, 50)]
