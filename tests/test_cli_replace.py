"""merlin-mlm mask --replace / --vocab / --popularity: BERT's 80/10/10 input ids, as MaskRandom(replace=...) writes them."""
import glob
import json
import os

import numpy as np
import pandas as pd
import pytest

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.data.epochs import epoch_paths
from merlin_mlm_ops.data.parquet import write_partitioned
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.job.cli import EXIT_USAGE, main

from helpers import mask_lists, run_workflow


@pytest.fixture(scope="module")
def scheduler():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            Client(lc):
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def sessions():
    return make_sessions(300, n_items=60, mean_length=8, seed=5)


@pytest.fixture()
def raw(tmp_path, sessions):
    write_partitioned(sessions, str(tmp_path / "raw"), 2)
    return str(tmp_path / "raw")


def _epochs(out, sessions):
    """Each epoch's output, in the order of ``sessions``."""
    for path in epoch_paths(out):
        files = sorted(glob.glob(os.path.join(path, "*.parquet")))
        yield pd.concat([pd.read_parquet(f) for f in files]).set_index("session_id").loc[sessions["session_id"]]


def _lists(series):
    return [None if x is None else [int(v) for v in x] for x in series]


def _operator(sessions, epoch, pre=None, **options):
    """The operator's output in a Workflow (after ``pre`` ops, e.g. Categorify), in the sessions' order."""
    node = ["item_ids"]
    for op in pre or ():
        node = node >> op
    node = ["session_id"] + (node >> MaskRandom(prob=0.3, seed=4, key="session_id", epoch=epoch, **options))
    out, _ = run_workflow(node, sessions)
    return out.set_index("session_id").loc[sessions["session_id"]]


def test_replace_with_vocab_writes_the_operators_input_ids_in_every_epoch(scheduler, raw, sessions, tmp_path):
    out = str(tmp_path / "masked")
    assert main(["mask", raw, "-o", out, "-c", "item_ids", "--seed", "4", "--key", "session_id", "--prob", "0.3",
                 "--epochs", "2", "--replace", "0.6,0.2,0.2", "--vocab", "1:60", "--last-ratio", "0.2",
                 "--scheduler", scheduler, "--no-progress"]) == 0
    inputs = []
    for epoch, got in enumerate(_epochs(out, sessions)):
        assert list(got.columns) == ["item_ids", "item_ids_mask", "item_ids_input"]
        want = _operator(sessions, epoch, replace=(0.6, 0.2, 0.2), vocab=(1, 60), last_ratio=0.2)
        assert mask_lists(got["item_ids_mask"]) == mask_lists(want["item_ids_mask"])
        assert _lists(got["item_ids_input"]) == _lists(want["item_ids_input"])
        inputs.append(_lists(got["item_ids_input"]))
    assert inputs[0] != inputs[1]  # each epoch its own corruption
    with open(os.path.join(out, "mlm-job.json")) as fh:
        job = json.load(fh)["job"]
    assert job["replace"] == [0.6, 0.2, 0.2] and job["vocab"] == [1, 60] and job["popularity"] is False
    assert main(["stats", out]) == 0  # the input column does not disturb the report


def test_replace_without_random_items_needs_no_vocabulary(scheduler, raw, sessions, tmp_path):
    out = str(tmp_path / "masked")
    assert main(["mask", raw, "-o", out, "-c", "item_ids", "--seed", "4", "--key", "session_id", "--prob", "0.3",
                 "--replace", "0.9,0,0.1", "--scheduler", scheduler, "--no-progress"]) == 0
    [got] = _epochs(out, sessions)
    want = _operator(sessions, 0, replace=(0.9, 0.0, 0.1))
    assert _lists(got["item_ids_input"]) == _lists(want["item_ids_input"])


def test_vocab_n_is_zero_to_n(scheduler, raw, sessions, tmp_path):
    out = str(tmp_path / "masked")
    assert main(["mask", raw, "-o", out, "-c", "item_ids", "--seed", "4", "--key", "session_id", "--prob", "0.3",
                 "--replace", "0,1,0", "--vocab", "60", "--scheduler", scheduler, "--no-progress"]) == 0
    [got] = _epochs(out, sessions)
    want = _operator(sessions, 0, replace=(0.0, 1.0, 0.0), vocab=(0, 60))
    assert _lists(got["item_ids_input"]) == _lists(want["item_ids_input"])
    assert mask_lists(got["item_ids_mask"]) == mask_lists(_operator(sessions, 0)["item_ids_mask"])  # mask unchanged


def test_categorify_vocabulary_reaches_every_epoch(scheduler, raw, sessions, tmp_path):
    """Without --vocab the random items come from Categorify's domain, in every epoch (with_epoch keeps it)."""
    import nvtabular as nvt

    out = str(tmp_path / "masked")
    assert main(["mask", raw, "-o", out, "-c", "item_ids", "--seed", "4", "--key", "session_id", "--prob", "0.3",
                 "--epochs", "2", "--categorify", "--replace", "0.8,0.1,0.1",
                 "--scheduler", scheduler, "--no-progress"]) == 0
    for epoch, got in enumerate(_epochs(out, sessions)):
        want = _operator(sessions, epoch, pre=[nvt.ops.Categorify()], replace=(0.8, 0.1, 0.1))
        assert _lists(got["item_ids"]) == _lists(want["item_ids"])
        assert _lists(got["item_ids_input"]) == _lists(want["item_ids_input"])


def test_popularity_draws_with_categorifys_counts(scheduler, raw, sessions, tmp_path):
    import nvtabular as nvt

    from merlin_mlm_ops.job.run import popularity_counts

    out = str(tmp_path / "masked")
    assert main(["mask", raw, "-o", out, "-c", "item_ids", "--seed", "4", "--key", "session_id", "--prob", "0.3",
                 "--epochs", "2", "--categorify", "--replace", "0,1,0", "--popularity",
                 "--scheduler", scheduler, "--no-progress"]) == 0
    _, wf = run_workflow(["item_ids"] >> nvt.ops.Categorify(out_path=str(tmp_path / "cats")), sessions)
    counts = popularity_counts(wf, "item_ids")
    assert counts[:3].tolist() == [0, 0, 0] and counts.sum() == sessions["item_ids"].map(len).sum()
    for epoch, got in enumerate(_epochs(out, sessions)):
        want = _operator(sessions, epoch, pre=[nvt.ops.Categorify()], replace=(0.0, 1.0, 0.0), item_counts=counts)
        assert _lists(got["item_ids_input"]) == _lists(want["item_ids_input"])
        masked = np.concatenate([np.asarray(i)[np.asarray(m)] for i, m in
                                 zip(got["item_ids_input"], got["item_ids_mask"])])
        assert (counts[masked] > 0).all()  # only items seen in the fit, never padding


@pytest.mark.parametrize("args,message", [
    (["--replace", "0.8,0.2"], "--replace: expected MASK,RANDOM,KEEP"),
    (["--replace", "a,b,c"], "--replace: expected MASK,RANDOM,KEEP"),
    (["--replace", "0.5,0.5,0.5"], "--replace: replace shares (mask, random item, keep) must sum to 1"),
    (["--replace=-0.2,0.6,0.6"], "--replace: replace shares must be >= 0"),
    (["--replace", "0.8,0.1,0.1", "--vocab", "5:3"], "--vocab: vocab must satisfy 0 <= low < high"),
    (["--replace", "0.8,0.1,0.1", "--vocab", "1:2:3"], "--vocab: expected N or LOW:HIGH"),
    (["--replace", "0.8,0.1,0.1", "--vocab", "x"], "--vocab: expected N or LOW:HIGH"),
    (["--vocab", "10"], "--vocab chooses the random items of --replace: pass --replace too"),
    (["--popularity"], "--popularity chooses the random items of --replace: pass --replace too"),
    (["--replace", "0.8,0.1,0.1", "--popularity"], "--popularity needs --categorify"),
    (["--replace", "0.8,0.1,0.1", "--popularity", "--vocab", "9", "--categorify"], "not both"),
    (["--replace", "0.8,0.1,0.1"], "--replace draws random items from an unknown vocabulary: pass --vocab"),
    (["--last-ratio", "2"], "--last-ratio: last_ratio must be in [0, 1], got 2.0"),
    (["--last-ratio", "nan"], "--last-ratio: last_ratio must not be NaN"),
])
def test_bad_values_are_one_line_errors_naming_the_option(raw, tmp_path, capsys, args, message):
    rc = main(["mask", raw, "-o", str(tmp_path / "out"), "-c", "item_ids", *args, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == EXIT_USAGE and len(err) == 1 and message in err[0], err
    assert not os.path.exists(tmp_path / "out")


def test_resume_refuses_a_run_with_other_corruption_options(scheduler, raw, tmp_path, capsys):
    out = str(tmp_path / "out")
    stale = f"{out}.tmp-424242"
    os.makedirs(os.path.join(stale, "epoch_0000"))
    run = {"pid": 424242, "host": "gone", "started": "2026-12-06 10:00:00 UTC", "started_s": 1.0,
           "args": {"seed": 4, "replace": [0.8, 0.1, 0.1], "vocab": None, "popularity": False, "last_ratio": 0.1}}
    with open(os.path.join(stale, ".mlm-run.json"), "w") as fh:
        json.dump(run, fh)
    rc = main(["mask", raw, "-o", out, "-c", "item_ids", "--seed", "4", "--replace", "0.6,0.2,0.2", "--vocab", "50",
               "--resume", "--scheduler", scheduler, "--no-progress"])
    [line] = capsys.readouterr().err.strip().splitlines()
    assert rc == EXIT_USAGE and f"cannot resume from {stale}" in line
    for part in ("replace [0.8, 0.1, 0.1] != [0.6, 0.2, 0.2]", "vocab None != [0, 50]", "last_ratio 0.1 != 0.0"):
        assert part in line, line


def test_resume_arguments_hold_the_corruption_options_and_accept_runs_from_before_them():
    from merlin_mlm_ops.job.run import _differences

    new = {"last_ratio": 0.0, "replace": None, "vocab": None, "popularity": False}
    assert _differences({}, new) == ""  # a run recorded before the options: their defaults
    assert _differences({}, new | {"popularity": True}) == "popularity False != True"
    assert _differences({"last_ratio": 0.3}, new) == "last_ratio 0.3 != 0.0"


def test_with_epoch_keeps_the_vocabulary_taken_from_the_schema(sessions):
    """The job makes each epoch's operator with with_epoch: it must keep the Categorify domain, which no
    parameter holds (it raised 'the vocabulary is unknown' when it dropped it)."""
    import nvtabular as nvt
    from merlin.dag import ColumnSelector

    op = MaskRandom(prob=0.3, seed=4, key="session_id", replace=(0.0, 1.0, 0.0), item_counts=None)
    out, _ = run_workflow(["session_id"] + (["item_ids"] >> nvt.ops.Categorify() >> op), sessions)
    later = op.with_epoch(1)
    assert later._schema_vocab == op._schema_vocab is not None and later.replace == op.replace
    got = later.transform(ColumnSelector(["item_ids"]), out[["session_id", "item_ids"]])["item_ids_input"]
    low, high = op._schema_vocab
    drawn = np.concatenate([np.asarray(i) for i in got])
    assert drawn.min() >= low and drawn.max() < high


def test_windows_with_replace_give_the_dataframe_apis_windows_and_input_ids(scheduler, raw, sessions, tmp_path):
    """--window then --replace, every epoch: sliding_windows >> mask_random(key=<key>_window) on the same rows."""
    from merlin_mlm_ops import mask_random, sliding_windows

    out = str(tmp_path / "masked")
    assert main(["mask", raw, "-o", out, "-c", "item_ids", "--seed", "4", "--key", "session_id", "--prob", "0.3",
                 "--window", "6:3", "--epochs", "2", "--replace", "0.5,0.3,0.2", "--vocab", "1:60",
                 "--scheduler", scheduler, "--no-progress"]) == 0
    windows = sliding_windows(sessions[["session_id", "item_ids"]], "item_ids", max_len=6, step=3, key="session_id")
    assert len(windows) > len(sessions)
    for epoch, path in enumerate(epoch_paths(out)):
        files = sorted(glob.glob(os.path.join(path, "*.parquet")))
        got = pd.concat([pd.read_parquet(f) for f in files]).set_index("session_id", drop=False)
        got = got.loc[sessions["session_id"]].reset_index(drop=True)  # sessions' order, windows in order
        want = mask_random(windows, "item_ids", prob=0.3, seed=4, key="session_id_window", epoch=epoch,
                           replace=(0.5, 0.3, 0.2), vocab=(1, 60))
        assert got["session_id_window"].tolist() == want["session_id_window"].tolist()
        assert mask_lists(got["item_ids_mask"]) == mask_lists(want["item_ids_mask"])
        assert _lists(got["item_ids_input"]) == _lists(want["item_ids_input"])
