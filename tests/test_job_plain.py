"""``merlin-mlm mask`` without NVTabular (job/plain.py): the same Parquet files as the NVTabular job.

The golden digests in tests/data/job_merlin_digests.json were taken from the NVTabular job in the
Merlin environment (``python tests/test_job_plain.py --write`` there).  A digest is over the
*decoded* columns of each written file (names, Arrow types and values, read back with PyArrow),
not over its bytes: the bytes also hold the writer's version (``created_by``) and pandas'
metadata, which differ between pandas 1.5 / PyArrow 25 and pandas 3 / PyArrow 26 while the
columns do not.  Here the job runs with the plain transform (on today's stack because NVTabular is
absent; in the Merlin environment through ``MERLIN_MLM_PLAIN=1``) and, where NVTabular imports,
with it too; every run must give the digests.
"""
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass

import pytest

from merlin_mlm_ops.job import plain
from merlin_mlm_ops.job.cli import main

DIGESTS = os.path.join(os.path.dirname(__file__), "data", "job_merlin_digests.json")
# name -> job arguments (besides INPUT, --output, --scheduler): one each for what the plain transform implements
CASES = {
    "plain": ["-c", "item_ids", "--prob", "0.3", "--seed", "5"],
    "epochs2_key": ["-c", "item_ids", "-c", "category", "--seed", "11", "--key", "session_id", "--epochs", "2"],
    "window": ["-c", "item_ids", "-c", "category", "--seed", "7", "--key", "session_id", "--window", "4:2"],
    "last_ratio": ["-c", "item_ids", "--seed", "3", "--key", "user_id", "--last-ratio", "0.5", "--max-masked", "2",
                   "--min-masked", "2"],
    "replace": ["-c", "item_ids", "-c", "category", "--seed", "13", "--key", "session_id", "--epochs", "2",
                "--replace", "0.6,0.3,0.1", "--vocab", "5:40"],
}
COMMON = ["--part-size", "1KB", "--no-progress"]  # every row group its own partition


def write_inputs(folder):
    """Three Parquet files (four partitions): string and integer keys, empty rows, null rows,
    padding, an int32 side column, and a file whose rows are all empty or null."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def rows(n, start):
        ids, users, items, cats = [], [], [], []
        for i in range(start, start + n):
            ids.append(f"s{i:03d}")
            users.append(1000 + 7 * i)
            if i % 7 == 3:
                items.append(None)
            elif i % 5 == 1:
                items.append([])
            else:
                row = [1 + (i * 13 + j * 7) % 50 for j in range(1 + (i * 37) % 11)]
                if i % 4 == 0:
                    row[-1] = 0  # padding: never masked
                items.append(row)
            cats.append(None if items[-1] is None else [x % 5 for x in items[-1]])
        return pa.table({"session_id": ids, "user_id": pa.array(users, pa.int64()),
                         "item_ids": pa.array(items, pa.list_(pa.int64())),
                         "category": pa.array(cats, pa.list_(pa.int32()))})

    os.makedirs(folder, exist_ok=True)
    pq.write_table(rows(40, 0), os.path.join(folder, "a.parquet"), row_group_size=20)
    pq.write_table(rows(25, 40), os.path.join(folder, "b.parquet"))
    empty = rows(3, 100).set_column(2, "item_ids", pa.array([[], None, []], pa.list_(pa.int64())))
    empty = empty.set_column(3, "category", pa.array([[], None, []], pa.list_(pa.int32())))
    pq.write_table(empty, os.path.join(folder, "c.parquet"))
    return folder


def file_digest(path):
    """SHA-256 of a Parquet file's decoded columns: names, Arrow types and values, in order.  A list's
    child field is named as the reader names it (``item``, or ``element`` from pyarrow 13): left out."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    decoded = [[field.name, re.sub(r"<(item|element): ", "<", str(field.type)), table.column(field.name).to_pylist()]
               for field in table.schema]
    return hashlib.sha256(json.dumps(decoded).encode()).hexdigest()


def job_digests(out):
    """The digests of every data file of a job's output, and the summary's counts."""
    with open(os.path.join(out, "mlm-manifest.json")) as fh:
        files = sorted(json.load(fh)["files"])
    with open(os.path.join(out, "mlm-job.json")) as fh:
        summary = json.load(fh)["summary"]
    return {"files": {rel: file_digest(os.path.join(out, rel)) for rel in files},
            "summary": {k: summary[k] for k in ("rows", "items", "epochs", "partitions", "seed", "masked_fraction")}}


def run_case(name, raw, out, scheduler):
    return main(["mask", raw, "--output", out, *CASES[name], *COMMON, "--scheduler", scheduler])


def has_nvtabular():
    try:
        import nvtabular  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return write_inputs(str(tmp_path_factory.mktemp("raw")))


@pytest.fixture(params=["plain", "nvtabular"])
def transform(request, monkeypatch):
    """The job's transform: "plain" (forced where NVTabular imports) or "nvtabular" (skipped without it)."""
    if request.param == "nvtabular":
        if not has_nvtabular():
            pytest.skip("NVTabular is not installed here (today's stack): the plain transform is compared")
        monkeypatch.delenv(plain.PLAIN_ENV, raising=False)
    else:
        monkeypatch.setenv(plain.PLAIN_ENV, "1")
    return request.param


@pytest.fixture
def plain_only(monkeypatch):
    monkeypatch.setenv(plain.PLAIN_ENV, "1")


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_job_writes_the_merlin_environments_files_with_either_transform(cluster, raw, tmp_path, case,
                                                                          transform, capsys):
    with open(DIGESTS) as fh:
        golden = json.load(fh)["cases"][case]
    out = str(tmp_path / "out")
    assert run_case(case, raw, out, cluster[0].scheduler_address) == 0
    err = capsys.readouterr().err
    assert ("NVTabular is not available" in err) == (transform == "plain")
    assert golden["args"] == CASES[case]
    assert job_digests(out) == {"files": golden["files"], "summary": golden["summary"]}
    with open(os.path.join(out, "mlm-job.json")) as fh:
        assert json.load(fh)["transform"] == transform


def test_a_plain_output_has_no_workflow_and_its_manifest_says_so(cluster, raw, tmp_path, plain_only, capsys):
    out = str(tmp_path / "out")
    assert run_case("epochs2_key", raw, out, cluster[0].scheduler_address) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "NVTabular" in line]
    assert err == ["merlin-mlm: NVTabular is not available: masking with the dataframe API (no workflow/ or "
                   "schema.pbtxt in the output; docs/job.md, 'Without NVTabular')"]
    assert not os.path.exists(os.path.join(out, "workflow"))
    assert not [f for f in os.listdir(os.path.join(out, "epoch_0000")) if not f.endswith(".parquet")]
    with open(os.path.join(out, "mlm-job.json")) as fh:
        record = json.load(fh)
    assert record["transform"] == "plain" and record["absent"] == ["workflow/", "epoch_*/schema.pbtxt"]


def test_epoch_datasets_and_stats_read_a_plain_output(cluster, raw, tmp_path, plain_only, capsys):
    from merlin_mlm_ops.data.epochs import epoch_datasets

    out = str(tmp_path / "out")
    assert run_case("epochs2_key", raw, out, cluster[0].scheduler_address) == 0
    capsys.readouterr()
    datasets = epoch_datasets(out)
    assert len(datasets) == 2
    ds = datasets[0]  # a merlin.io.Dataset where NVTabular imports, else a Dask DataFrame
    assert hasattr(ds, "to_ddf") == has_nvtabular()
    frame = ds.to_ddf().compute() if hasattr(ds, "to_ddf") else ds.compute()
    assert list(frame.columns) == ["session_id", "item_ids", "category", "item_ids_mask"] and len(frame) == 68
    assert main(["stats", out]) == 0
    printed = capsys.readouterr().out
    assert "8 files, 136 rows" in printed and "masked fraction" in printed and "expected" in printed


@pytest.mark.parametrize("args, message", [
    (["--categorify"], "--categorify needs NVTabular (pip install merlin-mlm-ops[nvtabular])"),
    (["--gpu"], "--gpu needs NVTabular in this version"),
    (["--replace", "0.8,0.1,0.1", "--popularity"], "--popularity needs --categorify"),
    (["--replace", "0.8,0.1,0.1", "--popularity", "--categorify"], "--categorify needs NVTabular"),
    (["--prob", "1.5"], "prob must be in (0, 1]"),
    (["--window", "4:5", "--key", "session_id"], "--window: step must be <= max_len (4), got 5"),
    (["-c", "nope"], "column 'nope' not found"),
])
def test_what_the_plain_transform_does_not_do_is_refused_in_one_line(raw, tmp_path, plain_only, capsys, args,
                                                                      message):
    rc = main(["mask", raw, "-o", str(tmp_path / "out"), "-c", "item_ids", "--seed", "1", *args, "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "out")


def test_an_option_added_to_the_job_later_is_refused_until_wired_in(plain_only):
    from merlin_mlm_ops.errors import JobError
    from merlin_mlm_ops.job.run import MaskJob

    @dataclass
    class LaterJob(MaskJob):
        later_option: object = None

    plain.check_job(LaterJob(inputs=["x"], output="y", columns=["item_ids"]))  # at its default: fine
    with pytest.raises(JobError, match=r"^--later-option needs NVTabular in this version$"):
        plain.check_job(LaterJob(inputs=["x"], output="y", columns=["item_ids"], later_option=(0.8, 0.1, 0.1)))
    with pytest.raises(JobError, match=r"^an object-store --output needs NVTabular in this version"):
        plain.check_job(MaskJob(inputs=["x"], output="s3://bucket/masked", columns=["item_ids"]))


def test_resume_does_not_mix_a_plain_run_with_an_nvtabular_run(cluster, raw, tmp_path, plain_only, capsys,
                                                               monkeypatch):
    from merlin_mlm_ops.job import output as jo
    from merlin_mlm_ops.job.run import MaskJob, job_arguments, validate_job

    out = str(tmp_path / "out")
    job = MaskJob(inputs=[raw], output=out, columns=["item_ids"], seed=5, prob=0.3, part_size="1KB")
    args = job_arguments(job, validate_job(job), 5)
    assert args["transform"] == "plain"
    tmp = jo.tmp_folder(jo.normalize(out))
    for earlier in ({**args, "transform": "nvtabular"}, {k: v for k, v in args.items() if k != "transform"}):
        os.makedirs(tmp, exist_ok=True)  # an interrupted NVTabular run (older runs recorded no transform)
        jo.write_json_atomic(os.path.join(tmp, jo.RUN_FILE), {"args": earlier, "started_s": 1.0})
        rc = main(["mask", raw, "-o", out, *CASES["plain"], *COMMON, "--resume", "--scheduler",
                   cluster[0].scheduler_address])
        err = capsys.readouterr().err
        assert rc == 2 and "cannot resume" in err and "transform 'nvtabular' != 'plain'" in err
    if has_nvtabular():  # the other way round: an NVTabular job does not resume a plain run
        jo.write_json_atomic(os.path.join(tmp, jo.RUN_FILE), {"args": args, "started_s": 1.0})
        monkeypatch.delenv(plain.PLAIN_ENV)
        assert main(["mask", raw, "-o", out, *CASES["plain"], *COMMON, "--resume", "--scheduler",
                     cluster[0].scheduler_address]) == 2
        assert "transform 'plain' != 'nvtabular'" in capsys.readouterr().err
        monkeypatch.setenv(plain.PLAIN_ENV, "1")
    jo.write_json_atomic(os.path.join(tmp, jo.RUN_FILE), {"args": args, "started_s": 1.0})
    assert main(["mask", raw, "-o", out, *CASES["plain"], *COMMON, "--resume", "--scheduler",
                 cluster[0].scheduler_address]) == 0
    assert "resuming from" in capsys.readouterr().err
    with open(DIGESTS) as fh:
        assert job_digests(out)["files"] == json.load(fh)["cases"]["plain"]["files"]


def test_progress_without_tqdm_is_lines_of_text(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    bar = plain.progress_bar(20)
    for _ in range(20):
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "masking: 1/20 partitions" and lines[-1] == "masking: 20/20 partitions" and len(lines) == 11


def test_mask_random_last_ratio_is_the_operators():
    import numpy as np
    import pyarrow as pa

    from merlin_mlm_ops import mask_random
    from merlin_mlm_ops.masking import engine

    rows = [[1 + (i * 7 + j) % 40 for j in range(1 + i % 9)] for i in range(200)]
    table = pa.table({"k": list(range(200)), "item_ids": rows})
    got = mask_random(table, "item_ids", seed=9, key="k", last_ratio=0.4).column("item_ids_mask").to_pylist()
    values = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    keys = engine.row_keys_from_column("int", np.arange(200, dtype=np.int64), None)
    want, _ = engine.random_mask_extended(values, offsets, keys, seed=9, epoch=0, prob=0.2, min_masked=1,
                                          max_masked=None, pad_id=0, last_ratio=0.4)
    assert [m for r in got for m in r] == want.tolist()
    assert got != mask_random(table, "item_ids", seed=9, key="k").column("item_ids_mask").to_pylist()


def write_digests(folder):
    """Run every case with the NVTabular job and store the digests (run in the Merlin environment)."""
    from distributed import Client, LocalCluster

    assert has_nvtabular() and not os.environ.get(plain.PLAIN_ENV), "take the digests with NVTabular"
    raw = write_inputs(os.path.join(folder, "raw"))
    cases = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as lc, Client(lc):
        for name in sorted(CASES):
            out = os.path.join(folder, name)
            assert run_case(name, raw, out, lc.scheduler_address) == 0
            cases[name] = {"args": CASES[name], **job_digests(out)}
    with open(DIGESTS, "w") as fh:
        json.dump({"about": "digests of the NVTabular job's decoded output files (tests/test_job_plain.py)",
                   "cases": cases}, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_digests(tmp)
