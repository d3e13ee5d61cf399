"""`merlin-mlm mask` on an object store: a real S3-protocol server (moto in server mode, through
s3fs) and a Dask cluster of separate processes that share no folder with the client.  The output
is the bits of a local-disk run; one writer per output (a lease), nothing visible before the
commit (a conditional put of the manifest), --resume after kill -9, one-line errors."""
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT
from merlin_mlm_ops.data.parquet import write_partitioned
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.errors import JobError
from merlin_mlm_ops.job import storage as st
from merlin_mlm_ops.job.cli import main
from merlin_mlm_ops.job.run import MaskJob, validate_job

pytest.importorskip("s3fs")
pytest.importorskip("moto")

ARGS = ["-c", "item_ids", "-c", "category", "--key", "session_id", "--seed", "4", "--epochs", "2", "--no-progress"]
BUCKET = "s3://mlm"


@pytest.fixture(scope="module")
def fs(s3_server):
    import fsspec

    return fsspec.filesystem("s3", skip_instance_cache=True)


@pytest.fixture(scope="module")
def raw(tmp_path_factory, fs):
    """Six Parquet files of 400 sessions, on local disk and under s3://mlm/raw/."""
    path = str(tmp_path_factory.mktemp("raw"))
    write_partitioned(make_sessions(2400, n_items=300, mean_length=8, seed=8), path, 6)
    fs.put(path + "/", f"{BUCKET}/raw/", recursive=True)
    return path


@pytest.fixture(scope="module")
def local_run(raw, process_cluster, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("local") / "out")
    assert main(["mask", raw, "-o", out, *ARGS, "--scheduler", process_cluster[0]]) == 0
    return out


def tree(files):
    """{relative path: sha256} with mlm-job.json stripped of how the job was invoked."""
    out = {}
    for rel, data in files.items():
        if rel == "mlm-job.json":
            job = json.loads(data)
            for k in ("seconds", "rows_per_second"):
                job["summary"].pop(k)
            for k in ("output", "overwrite", "inputs"):
                job["job"].pop(k)
            data = json.dumps(job, sort_keys=True).encode()
        if rel == "workflow/metadata.json":  # NVTabular's save time
            data = json.dumps(json.loads(data) | {"generated_timestamp": None}).encode()
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def local_tree(root):
    return tree({os.path.relpath(p, root): open(p, "rb").read()
                 for p in glob.glob(os.path.join(root, "**", "*"), recursive=True) if os.path.isfile(p)})


def committed_tree(fs, url):
    fs.invalidate_cache()
    manifest = json.loads(fs.cat_file(f"{url}/mlm-manifest.json"))
    base = f"{url}/{manifest['attempt']}"
    return tree({p[len(base) - len("s3://") + 1:]: fs.cat_file(p) for p in fs.find(base)})


def listing(fs, url):
    fs.invalidate_cache()
    return sorted(p.split("/", 1)[1] for p in fs.find(url))  # without the bucket


def one_error_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("merlin-mlm: error: "), lines
    return lines[0]


def cli(*args, env=None):
    """The CLI as a separate client process."""
    return subprocess.Popen([sys.executable, "-m", "merlin_mlm_ops.job.cli", *args], cwd=ROOT,
                            env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.fixture
def slow_workers(process_cluster, faults):
    """Every partition takes 1.5 s on the workers while the test runs."""
    with faults.on_workers(process_cluster[1], delay=1.5):
        yield


def test_a_job_on_s3_with_separate_worker_processes_writes_the_bits_of_a_local_run(
        fs, raw, local_run, process_cluster, capsys):
    from merlin_mlm_ops.data.epochs import epoch_datasets

    out = f"{BUCKET}/same"
    assert main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0]]) == 0
    assert committed_tree(fs, out) == local_tree(local_run)
    names = listing(fs, out)
    assert "same/_mlm-lease.json" not in names  # released
    assert not [n for n in names if "/.mlm-" in n]  # no bookkeeping in the committed tree
    datasets = epoch_datasets(out)
    assert len(datasets) == 2 and sum(len(d.to_ddf()) for d in datasets) == 2 * 2400
    capsys.readouterr()
    assert main(["stats", out]) == 0
    assert capsys.readouterr().out.startswith("12 files, 4,800 rows")  # 2 epochs x 6 partitions


def test_readers_accept_only_a_committed_output_and_overwrite_replaces_it_as_a_whole(
        fs, raw, process_cluster, capsys):
    from merlin_mlm_ops.data.epochs import epoch_datasets

    out = f"{BUCKET}/over"
    fs.pipe(f"{out}/_attempts/20260101T000000-deadbeef/epoch_0000/part_00000.parquet", b"partial")
    with pytest.raises(FileNotFoundError, match="no committed output"):
        epoch_datasets(out)
    assert main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0]]) == 0
    first = json.loads(fs.cat_file(f"{out}/mlm-manifest.json"))["attempt"]
    assert "removed s3://mlm/over/_attempts/20260101T000000-deadbeef, left by a run" in capsys.readouterr().err
    assert main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0]]) == 2
    assert "exists (pass --overwrite to replace it)" in one_error_line(capsys.readouterr().err)
    assert main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--seed", "5", "--overwrite",
                 "--scheduler", process_cluster[0]]) == 0
    second = json.loads(fs.cat_file(f"{out}/mlm-manifest.json"))["attempt"]
    assert second != first and not [n for n in listing(fs, out) if first in n]  # old data gone after the commit
    assert json.loads(fs.cat_file(f"{out}/{second}/mlm-job.json"))["job"]["seed"] == 5


def test_a_second_job_on_an_output_being_written_fails_at_once_naming_the_holder_and_one_commits(
        fs, raw, local_run, process_cluster, capsys):
    from merlin_mlm_ops.data.epochs import epoch_datasets
    from merlin_mlm_ops.job.remote import run_remote_job, take_lease

    out, second = f"{BUCKET}/race", []

    def start_second(done, total):  # while the first job holds the lease, mid-run
        if done == 1:
            with pytest.raises(FileNotFoundError, match="no committed output"):  # a reader polling sees nothing
                epoch_datasets(out)
            second.append(main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0]]))

    job = MaskJob(inputs=[f"{BUCKET}/raw"], output=out, columns=["item_ids", "category"], key="session_id", seed=4,
                  epochs=2)
    checked = validate_job(job)
    with take_lease(job) as lease:
        run_remote_job(job, process_cluster[1], start_second, lock=lease, checked=checked)
    line = one_error_line(capsys.readouterr().err)
    assert second == [2] and f"output {out} is being written by another run (pid {os.getpid()} on " in line
    assert committed_tree(fs, out) == local_tree(local_run)


def test_kill_9_of_the_client_commits_nothing_and_resume_gives_the_bits_of_an_uninterrupted_run(
        fs, raw, local_run, process_cluster, slow_workers, monkeypatch, capsys):
    out = f"{BUCKET}/killed"
    job = cli("mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0],
              env={st.HEARTBEAT_ENV: "0.5"})
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not [n for n in listing(fs, out) if "/.mlm-parts/" in n]:
        time.sleep(0.2)
    os.kill(job.pid, signal.SIGKILL)
    job.communicate()
    assert [n for n in listing(fs, out) if "/.mlm-parts/" in n], "no partition finished before the kill"
    assert "killed/mlm-manifest.json" not in listing(fs, out)
    # The lease's heartbeat stopped with the client: a second run is refused until it is stale.
    assert main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0]]) == 2
    assert "is being written by another run" in one_error_line(capsys.readouterr().err)
    monkeypatch.setenv(st.TTL_ENV, "2")
    time.sleep(2.5)
    assert main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--resume", "--scheduler", process_cluster[0]]) == 0
    err = capsys.readouterr().err
    assert "took over the lease of s3://mlm/killed from pid " in err and "partitions kept" in err
    assert committed_tree(fs, out) == local_tree(local_run)
    assert len({n.split("/")[2] for n in listing(fs, out) if n.startswith("killed/_attempts/")}) == 1


def test_sigint_of_the_client_commits_nothing_removes_its_attempt_and_releases_the_lease(
        fs, raw, local_run, process_cluster, slow_workers, capsys):
    import threading

    out = f"{BUCKET}/interrupted"

    def interrupt_after_a_partition():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not [n for n in listing(fs, out) if "/.mlm-parts/" in n]:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    # As in test_cli_faults: a background shell starts Python with SIGINT ignored; Ctrl-C finds this handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_after_a_partition, daemon=True).start()
        rc = main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0]])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert rc == 130
    assert capsys.readouterr().err.strip().splitlines() == [
        "merlin-mlm: interrupted (SIGINT); workers stopped, no output folder was completed"]
    # The tasks that had started ran to their end before the attempt was removed: nothing is left to
    # clean up or resume, and a run started at once finds an empty output.
    assert listing(fs, out) == []
    assert main(["mask", f"{BUCKET}/raw", "-o", out, *ARGS, "--scheduler", process_cluster[0]]) == 0
    assert committed_tree(fs, out) == local_tree(local_run)


@pytest.mark.parametrize("case,message", [
    ("missing bucket", "output s3://no-such-bucket/out: cannot access the store (FileNotFoundError"),
    ("missing input", "input not found: s3://mlm/nothing-here"),
    ("corrupt object", "input s3://mlm/corrupt/part_0000.parquet: not a readable Parquet file"),
    ("bad storage options", "--storage-options is not JSON"),
    ("no conditional writes", "needs conditional writes (put-if-absent, If-None-Match: *)"),
])
def test_store_problems_end_in_one_line_and_write_nothing(fs, raw, process_cluster, capsys, case, message):
    inputs, out, extra = [f"{BUCKET}/raw"], f"{BUCKET}/failed", []
    if case == "missing bucket":
        out = "s3://no-such-bucket/out"
    elif case == "missing input":
        inputs = [f"{BUCKET}/nothing-here"]
    elif case == "corrupt object":
        fs.pipe(f"{BUCKET}/corrupt/part_0000.parquet", b"PAR1 this is not parquet")
        inputs = [f"{BUCKET}/corrupt"]
    elif case == "bad storage options":
        extra = ["--storage-options", "{anon: true"]
    else:
        out = "memory://failed"
    assert main(["mask", *inputs, "-o", out, *ARGS, *extra, "--scheduler", process_cluster[0]]) == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert listing(fs, f"{BUCKET}/failed") == []


@pytest.mark.parametrize("where", ["input", "output"])
def test_refused_credentials_end_in_one_line(fs, raw, process_cluster, capsys, tmp_path, where):
    from moto.core.authorization import enable_iam_authentication

    inputs, out = ([f"{BUCKET}/raw"], str(tmp_path / "out")) if where == "input" else ([raw], f"{BUCKET}/creds")
    with enable_iam_authentication():  # the server now checks keys: "testing" is no IAM user's
        rc = main(["mask", *inputs, "-o", out, *ARGS, "--scheduler", process_cluster[0]])
    line = one_error_line(capsys.readouterr().err)
    assert rc == 2 and ("cannot list s3://mlm/raw: PermissionError" if where == "input" else
                        "output s3://mlm/creds: cannot access the store (PermissionError") in line, line
    assert listing(fs, f"{BUCKET}/creds") == [] and not os.path.exists(out)


def test_an_unreachable_endpoint_ends_in_one_line(fs, raw, process_cluster, capsys):
    options = json.dumps({"client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}, "retries": 0})
    assert main(["mask", f"{BUCKET}/raw", "-o", f"{BUCKET}/creds", *ARGS, "--storage-options", options,
                 "--scheduler", process_cluster[0]]) == 2
    assert one_error_line(capsys.readouterr().err).startswith("merlin-mlm: error: cannot list s3://mlm/raw: ")
    assert listing(fs, f"{BUCKET}/creds") == []


def test_a_store_that_ignores_conditional_writes_is_refused(fs, monkeypatch):
    store = st.ObjectStore(f"{BUCKET}/ignores")
    monkeypatch.setattr(st.ObjectStore, "_put", lambda self, url, data, **condition: self.write(url, data) or '"e"')
    with pytest.raises(JobError, match=r"the store ignores conditional writes \(If-None-Match: \*\)"):
        st.Lease(store).acquire()
    assert listing(fs, f"{BUCKET}/ignores") == []


def test_a_stale_lease_is_taken_over_by_age_and_its_old_holder_cannot_commit(fs):
    store = st.ObjectStore(f"{BUCKET}/stale")
    old = st.Lease(store, heartbeat_s=60, ttl_s=60).acquire()  # its heartbeat will not run in time
    with pytest.raises(JobError, match="is being written by another run"):
        st.Lease(store, ttl_s=60).acquire()
    time.sleep(1.5)
    new = st.Lease(store, ttl_s=1).acquire()  # by the lease object's age, whatever its pid
    assert new.taken_over[0]["pid"] == os.getpid()
    with pytest.raises(JobError, match="was taken over by another run; this run's result was discarded"):
        old.check()
    new.check()
    old.release()  # leaves the new holder's lease alone
    assert "stale/_mlm-lease.json" in listing(fs, f"{BUCKET}/stale")
    new.release()
    assert listing(fs, f"{BUCKET}/stale") == []


def test_overlap_is_decided_on_normalised_urls(fs, raw):
    for output in (f"{BUCKET}/raw", "s3a://mlm/raw/", f"{BUCKET}/raw/masked", BUCKET):
        with pytest.raises(JobError, match="choose another --output"):
            validate_job(MaskJob(inputs=[f"{BUCKET}/raw"], output=output, columns=["item_ids"], overwrite=True))


def test_the_fingerprint_of_an_object_is_its_size_and_etag(fs, raw):
    from merlin_mlm_ops.job.inputs import check_inputs, find_parquet_files

    files = find_parquet_files([f"{BUCKET}/raw"])
    assert files[0] == f"{BUCKET}/raw/part_0000.parquet" and len(files) == 6
    url, size, etag = check_inputs(files, ["item_ids"]).fingerprint[0]
    assert (url, size) == (files[0], fs.info(files[0])["size"]) and etag == fs.info(files[0])["ETag"].strip('"')


def test_the_workflow_path_reads_and_writes_s3_through_fsspec(fs, raw, tmp_path):
    """The README's recipe: nvt.Workflow on Dataset("s3://...") -> to_parquet("s3://...")."""
    import nvtabular as nvt
    import numpy as np
    from merlin.io import Dataset

    from merlin_mlm_ops import MaskRandom

    def masked(src, dst):
        wf = nvt.Workflow(["session_id"] + (["item_ids"] >> MaskRandom(prob=0.2, seed=1, key="session_id")))
        wf.fit_transform(Dataset(src, engine="parquet", cpu=True)).to_parquet(dst)
        df = Dataset(dst, engine="parquet", cpu=True).to_ddf().compute()
        return df.sort_values("session_id").reset_index(drop=True)

    on_s3 = masked(f"{BUCKET}/raw", f"{BUCKET}/workflow-out")
    on_disk = masked(raw, str(tmp_path / "workflow-out"))
    assert any(p.endswith(".parquet") for p in listing(fs, f"{BUCKET}/workflow-out"))
    assert len(on_s3) == 2400 and on_s3["session_id"].tolist() == on_disk["session_id"].tolist()
    assert all(np.array_equal(a, b) for a, b in zip(on_s3["item_ids_mask"], on_disk["item_ids_mask"]))


def test_file_urls_are_local_paths_with_the_local_protocol(raw, local_run, process_cluster, tmp_path):
    out = tmp_path / "out"
    assert main(["mask", f"file://{raw}", "-o", f"file://{out}", *ARGS, "--scheduler", process_cluster[0]]) == 0
    assert local_tree(str(out)) == local_tree(local_run) and not os.path.exists(f"{out}.lock")


def test_a_worker_killed_mid_run_gives_the_same_bits(fs, raw, local_run, process_cluster, slow_workers):
    """Dask reruns the lost partitions on the other worker; they write the same bytes to the same keys."""
    from merlin_mlm_ops.job.remote import run_remote_job

    client, killed = process_cluster[1], []

    def kill_one(done, total):
        if not killed and done < total:
            pid = next(iter(client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    out = f"{BUCKET}/worker-killed"
    job = MaskJob(inputs=[f"{BUCKET}/raw"], output=out, columns=["item_ids", "category"], key="session_id", seed=4,
                  epochs=2)
    run_remote_job(job, client, kill_one)
    client.wait_for_workers(2, timeout=300)  # the nanny restarts the killed worker
    assert killed and committed_tree(fs, out) == local_tree(local_run)
