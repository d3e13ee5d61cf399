"""The merlin-mlm command: mask (on a Dask cluster), stats, demo, and its one-line errors."""
import glob
import os
import signal

import numpy as np
import pandas as pd
import pytest
from merlin.dag import ColumnSelector

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.data.epochs import epoch_datasets, epoch_paths
from merlin_mlm_ops.data.parquet import write_partitioned
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.job.cli import main
from merlin_mlm_ops.job.run import MaskJob, run_mask_job

from helpers import mask_lists


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    path = tmp_path_factory.mktemp("raw")
    df = make_sessions(3000, n_items=300, mean_length=10, seed=5)
    write_partitioned(df, str(path), 3)
    return str(path), df


def read_epoch(path):
    files = sorted(glob.glob(os.path.join(path, "*.parquet")))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def test_mask_writes_each_epoch_with_the_masks_of_the_operator(cluster, raw, tmp_path, capsys):
    out = str(tmp_path / "masked")
    rc = main(["mask", raw[0], "--output", out, "--column", "item_ids", "--column", "category",
               "--prob", "0.3", "--seed", "9", "--key", "session_id", "--epochs", "2",
               "--scheduler", cluster[0].scheduler_address, "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "3,000 rows x 2 epoch(s)" in printed and "rows/s" in printed and "masked fraction" in printed
    assert [os.path.basename(p) for p in epoch_paths(out)] == ["epoch_0000", "epoch_0001"]
    assert os.path.exists(os.path.join(out, "workflow")) and os.path.exists(os.path.join(out, "mlm-job.json"))
    assert not glob.glob(out + ".tmp*")
    df = raw[1]
    for epoch, path in enumerate(epoch_paths(out)):
        got = read_epoch(path).set_index("session_id").loc[df["session_id"]]
        want = MaskRandom(prob=0.3, seed=9, key="session_id", epoch=epoch).transform(
            ColumnSelector(["item_ids", "category"]), df)
        assert mask_lists(got["item_ids_mask"]) == mask_lists(want["item_ids_mask"])
        assert [list(r) for r in got["item_ids"]] == [list(r) for r in df["item_ids"]]
    e0 = read_epoch(epoch_paths(out)[0])["item_ids_mask"]
    e1 = read_epoch(epoch_paths(out)[1])["item_ids_mask"]
    assert mask_lists(e0) != mask_lists(e1)


def test_epoch_folders_load_with_the_merlin_dataloader(cluster, raw, tmp_path):
    from merlin.dataloader.tensorflow import Loader

    out = str(tmp_path / "masked")
    assert main(["mask", raw[0], "-o", out, "-c", "item_ids", "--seed", "1", "--key", "session_id",
                 "--epochs", "2", "--scheduler", cluster[0].scheduler_address, "--no-progress"]) == 0
    datasets = epoch_datasets(out)
    assert len(datasets) == 2
    for ds in datasets:
        assert ds.schema["item_ids_mask"].dtype.element_type.value == "bool"
        batch, _ = next(iter(Loader(ds, batch_size=500)))
        assert {"item_ids__values", "item_ids__offsets", "item_ids_mask__values"} <= set(batch)
        assert batch["item_ids__values"].shape == batch["item_ids_mask__values"].shape


def test_categorify_option_encodes_before_masking(cluster, raw, tmp_path):
    out = str(tmp_path / "cat")
    assert main(["mask", raw[0], "-o", out, "-c", "item_ids", "--categorify", "--seed", "2",
                 "--scheduler", cluster[0].scheduler_address, "--no-progress"]) == 0
    df = read_epoch(epoch_paths(out)[0])
    assert int(np.concatenate(df["item_ids"].to_numpy()).max()) < 400  # encoded, not raw ids >= 100000
    assert os.path.isdir(os.path.join(out, "categories"))


def test_stats_reports_fractions_against_the_rules_and_plots(cluster, raw, tmp_path, capsys):
    out = str(tmp_path / "masked")
    assert main(["mask", raw[0], "-o", out, "-c", "item_ids", "--seed", "3", "--key", "session_id",
                 "--scheduler", cluster[0].scheduler_address, "--no-progress"]) == 0
    capsys.readouterr()
    png = str(tmp_path / "stats.png")
    assert main(["stats", out, "--plot", png]) == 0
    printed = capsys.readouterr().out
    assert "masked fraction" in printed and "expected" in printed and "by eligible length" in printed
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_overwrite_replaces_and_without_it_an_existing_output_is_an_error(cluster, raw, tmp_path, capsys):
    out = str(tmp_path / "masked")
    os.makedirs(out)
    args = ["mask", raw[0], "-o", out, "-c", "item_ids", "--seed", "3", "--scheduler", cluster[0].scheduler_address, "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("merlin-mlm: error: output") and "--overwrite" in err and "\n" not in err
    assert main(args + ["--overwrite"]) == 0
    assert len(epoch_paths(out)) == 1


@pytest.mark.parametrize("make_args,message", [
    (lambda raw, tmp: [str(tmp / "nope")], "input not found"),
    (lambda raw, tmp: [str(tmp)], "no Parquet files"),
    (lambda raw, tmp: [raw, "-c", "items"], "column 'items' not found"),
    (lambda raw, tmp: [raw, "-c", "session_id"], "column 'session_id' is not a list column"),
    (lambda raw, tmp: [raw, "--key", "sess"], "key column 'sess' not found"),
    (lambda raw, tmp: [raw, "--prob", "1.5"], "prob must be in (0, 1]"),
    (lambda raw, tmp: [raw, "--epochs", "0"], "--epochs must be >= 1"),
    (lambda raw, tmp: [raw, "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    (lambda raw, tmp: [raw, "--gpu"], "--gpu"),
])
def test_bad_input_ends_with_a_one_line_error_and_exit_code_2(raw, tmp_path, capsys, make_args, message):
    args = make_args(raw[0], tmp_path)
    if "-c" not in args:
        args += ["-c", "item_ids"]
    rc = main(["mask", *args, "-o", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("merlin-mlm: error: ") and message in err[0]
    assert not os.path.exists(tmp_path / "out")


def test_stats_on_a_folder_without_masks_is_a_one_line_error(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "missing")]) == 2
    assert main(["stats", str(tmp_path)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors == [f"merlin-mlm: error: not a folder: {tmp_path / 'missing'}",
                      f"merlin-mlm: error: no Parquet files under {tmp_path}"]


def test_an_interrupted_job_leaves_no_output_folder(cluster, raw, tmp_path):
    job = MaskJob(inputs=[raw[0]], output=str(tmp_path / "out"), columns=["item_ids"], seed=1, part_size="64KB")

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_mask_job(job, cluster[1], interrupt)
    assert not os.path.exists(tmp_path / "out") and not glob.glob(str(tmp_path / "out") + ".tmp*")


def test_killing_a_worker_mid_job_gives_the_same_bits(raw, tmp_path):
    """Dask recomputes the lost partitions; masks are pure functions, so the output is unchanged."""
    from distributed import Client, LocalCluster

    many = tmp_path / "raw12"
    write_partitioned(make_sessions(12_000, n_items=300, mean_length=10, seed=6), str(many), 12)

    def job(name):
        return MaskJob(inputs=[str(many)], output=str(tmp_path / name), columns=["item_ids", "category"],
                       seed=4, epochs=2)

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, Client(lc) as client:
        clean = run_mask_job(job("clean"), client)
        killed = []

        def kill_one(done, total):
            if not killed and done < total:
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        faulty = run_mask_job(job("faulty"), client, kill_one)
        # The nanny restarts the killed worker; closing the cluster while that process is still
        # importing (slow on a loaded machine) times out in distributed's teardown, not in the job.
        client.wait_for_workers(2, timeout=300)
    assert killed and clean["partitions"] > 4
    assert faulty["rows"] == clean["rows"] and faulty["masked_fraction"] == clean["masked_fraction"]
    for a, b in zip(epoch_paths(str(tmp_path / "clean")), epoch_paths(str(tmp_path / "faulty"))):
        files_a = sorted(os.path.basename(f) for f in glob.glob(os.path.join(a, "*.parquet")))
        assert files_a == sorted(os.path.basename(f) for f in glob.glob(os.path.join(b, "*.parquet")))
        da, db = read_epoch(a), read_epoch(b)
        pd.testing.assert_frame_equal(da.drop(columns=["item_ids", "category", "item_ids_mask"]),
                                      db.drop(columns=["item_ids", "category", "item_ids_mask"]))
        for col in ("item_ids", "category", "item_ids_mask"):
            assert all(np.array_equal(x, y) for x, y in zip(da[col], db[col]))


def test_demo_command_runs_the_main_job(tmp_path, capsys):
    assert main(["demo", "--sessions", "1000", "--output", str(tmp_path / "demo")]) == 0
    assert "masked fraction" in capsys.readouterr().out
